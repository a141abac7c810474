"""Reads of the earnings app that are more than a one-line query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from earnings.models import Earning, Payout, PayoutStatus


@dataclass
class Summary:
    total_earnings: int  # paise, net of commission and refunds
    today_earnings: int  # paise earned by consultations that ended today (TIME_ZONE's day)
    total_sessions: int
    total_seconds: int
    pending_payout: int  # paise requested and not yet paid or rejected
    currency: str


def local_day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the day containing `now` in `settings.TIME_ZONE`, as aware datetimes."""
    zone = timezone.get_default_timezone()  # ZoneInfo(settings.TIME_ZONE)
    today = (now or timezone.now()).astimezone(zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def earnings_summary(*, consultant_user, now: datetime | None = None) -> Summary:
    """The consultant's figures in two queries: one over earnings, one over open payouts."""
    start, end = local_day_bounds(now)
    figures = Earning.objects.filter(consultant__user=consultant_user).aggregate(
        total=Sum("net"),
        today=Sum("net", filter=Q(created_at__gte=start, created_at__lt=end)),
        sessions=Count("id"),
        seconds=Sum("seconds"),
    )
    pending = Payout.objects.filter(
        consultant=consultant_user, status=PayoutStatus.REQUESTED
    ).aggregate(total=Sum("amount"))["total"]
    return Summary(
        total_earnings=figures["total"] or 0,
        today_earnings=figures["today"] or 0,
        total_sessions=figures["sessions"] or 0,
        total_seconds=figures["seconds"] or 0,
        pending_payout=pending or 0,
        currency=settings.CURRENCY,
    )
