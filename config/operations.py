"""The live state of the platform, read from the database: what an operator looks at first.

`live_state()` is what `/metrics` reports at each scrape (the cheap part: two queries) and
`operators_view()` what the admin index shows (five queries in all, pinned by a test). This
module sits in `config/` because it reads every app (like the URLs do); no app imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from django.db.models import Count, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone


@dataclass
class LiveState:
    active_by_channel: dict[str, int] = field(default_factory=dict)
    billing_lag_seconds: float = 0.0
    refunds_pending: int = 0
    refunds_failed: int = 0


def live_state(*, now: datetime | None = None) -> LiveState:
    """Active consultations by channel and the billing lag (one query on the active rows), and
    refunds pending or failed (one query)."""
    from consultations.models import Consultation, Status
    from wallets.models import Refund, RefundStatus

    now = now or timezone.now()
    state = LiveState()
    oldest = None
    rows = (
        Consultation.objects.filter(status=Status.ACTIVE)
        .values("channel")
        .annotate(count=Count("id"), oldest=Min("last_billed_at"), started=Min("started_at"))
        .order_by()
    )
    for row in rows:
        state.active_by_channel[row["channel"]] = row["count"]
        first = row["oldest"] or row["started"]
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    if oldest is not None:
        state.billing_lag_seconds = max(0.0, (now - oldest).total_seconds())
    refunds = Refund.objects.aggregate(
        pending=Count("id", filter=Q(status=RefundStatus.PENDING)),
        failed=Count("id", filter=Q(status=RefundStatus.FAILED)),
    )
    state.refunds_pending = refunds["pending"]
    state.refunds_failed = refunds["failed"]
    return state


@dataclass
class Tile:
    """One figure of the admin index, linking to the list it summarises."""

    label: str
    value: str
    url: str
    warn: bool = False
    note: str = ""


def _changelist(model: str, **query: object) -> str:
    url = reverse(f"admin:{model.replace('.', '_')}_changelist")
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def _rupees(paise: int) -> str:
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(paise), 100)
    return f"{sign}₹{rupees:,}.{rest:02d}"


def operators_view(*, now: datetime | None = None) -> list[Tile]:
    """The admin index's tiles: active consultations by channel, sockets, billing lag, today's
    charges and commission, pending verifications, refunds pending or failed, payouts to
    approve; each links to its admin list."""
    from django.conf import settings

    from config import metrics
    from consultants.models import ConsultantProfile
    from consultations.models import Status
    from earnings.models import Payout, PayoutStatus
    from wallets.models import EntryKind, LedgerEntry

    now = now or timezone.now()
    state = live_state(now=now)
    tick = settings.BILLING_TICK_SECONDS
    tiles = [
        Tile(
            f"Active {channel} consultations",
            str(state.active_by_channel.get(channel, 0)),
            _changelist(
                "consultations.consultation", status__exact=Status.ACTIVE, channel__exact=channel
            ),
        )
        for channel in metrics.CHANNELS
    ]
    tiles.append(
        Tile(
            "Open sockets",
            str(metrics.open_sockets()),
            _changelist("consultations.consultation", status__exact=Status.ACTIVE),
            note="this host's processes",
        )
    )
    tiles.append(
        Tile(
            "Billing lag",
            f"{state.billing_lag_seconds:.0f} s",
            _changelist("consultations.consultation", status__exact=Status.ACTIVE),
            warn=state.billing_lag_seconds > 2 * tick,
            note=f"tick every {tick} s",
        )
    )

    local_day = timezone.localdate(now)
    start = timezone.make_aware(datetime.combine(local_day, time.min))
    today = LedgerEntry.objects.filter(
        transaction__created_at__gte=start,
        kind__in=[EntryKind.CONSULTATION_CHARGE, EntryKind.COMMISSION, EntryKind.GATEWAY_FEE],
    ).aggregate(
        charges=Sum("amount", filter=Q(kind=EntryKind.CONSULTATION_CHARGE)),
        commission=Sum("amount", filter=Q(kind=EntryKind.COMMISSION)),
        # Only the gateway fees account has `gateway_fee` legs (wallets/fees.py): negative.
        fees=Sum("amount", filter=Q(kind=EntryKind.GATEWAY_FEE)),
    )
    day = {
        "created_at__year": local_day.year,
        "created_at__month": local_day.month,
        "created_at__day": local_day.day,
    }
    tiles.append(
        Tile(
            "Charged today",
            _rupees(-(today["charges"] or 0)),
            _changelist(
                "wallets.ledgertransaction", kind__exact=EntryKind.CONSULTATION_CHARGE, **day
            ),
        )
    )
    tiles.append(
        Tile(
            "Commission today",
            _rupees(today["commission"] or 0),
            _changelist("wallets.ledgerentry", kind__exact=EntryKind.COMMISSION),
        )
    )
    # The gateways' fees are the platform's expense: revenue is shown net of them.
    fees_today = -(today["fees"] or 0)
    tiles.append(
        Tile(
            "Gateway fees today",
            _rupees(fees_today),
            _changelist("wallets.ledgerentry", kind__exact=EntryKind.GATEWAY_FEE),
        )
    )
    tiles.append(
        Tile(
            "Revenue net of fees today",
            _rupees((today["commission"] or 0) - fees_today),
            _changelist("wallets.ledgertransaction", **day),
            note="commission less gateway fees",
        )
    )
    pending = ConsultantProfile.objects.filter(is_verified=False).count()
    tiles.append(
        Tile(
            "Consultants to verify",
            str(pending),
            _changelist("consultants.consultantprofile", is_verified__exact=0),
            warn=pending > 0,
        )
    )
    tiles.append(
        Tile(
            "Refunds pending",
            str(state.refunds_pending),
            _changelist("wallets.refund", status__exact="pending"),
        )
    )
    tiles.append(
        Tile(
            "Refunds failed",
            str(state.refunds_failed),
            _changelist("wallets.refund", status__exact="failed"),
            warn=state.refunds_failed > 0,
        )
    )
    payouts = Payout.objects.filter(status=PayoutStatus.REQUESTED).aggregate(
        count=Count("id"), amount=Sum("amount")
    )
    tiles.append(
        Tile(
            "Payouts to approve",
            str(payouts["count"]),
            _changelist("earnings.payout", status__exact=PayoutStatus.REQUESTED),
            warn=payouts["count"] > 0,
            note=_rupees(payouts["amount"] or 0),
        )
    )
    return tiles
