"""What the pages show of bookings, read through the app's models, slots and schedules: the
session types and next free times on a consultant's profile, the free times of the booking
page grouped by the viewer's days, the upcoming bookings of a dashboard and one's bookings in
the consultations list. Reads only: every write is a service's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from bookings import slots
from bookings.models import HOLDING_STATUSES, Booking, Schedule, SessionType
from bookings.schedules import schedule_of
from consultants.models import ConsultantProfile

PROFILE_SLOTS = 6  # the next free times shown for each session type on the profile
SLOT_DAYS = 14  # how far the profile looks ("the next two weeks")
BOOKING_PAGE_DAYS = 7  # the booking page's free times, a week at a time (Earlier / Later)
UPCOMING = 10
LIST_SIZE = 25


@dataclass
class Offer:
    session_type: SessionType
    slots: list[slots.Slot] = field(default_factory=list)


def _span(schedule: Schedule, first: date, last: date) -> tuple[datetime, datetime]:
    """The instants around the local dates `first`..`last` of the schedule's zone, with a day
    either side (a window may start the evening before)."""
    zone = ZoneInfo(schedule.timezone)
    start = datetime.combine(first - timedelta(days=1), time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=2), time(0), tzinfo=zone)
    return start, end


def free_times(
    *,
    schedule: Schedule | None,
    session_types: list[SessionType],
    first: date,
    now: datetime,
    days: int = SLOT_DAYS,
    limit: int | None = None,
) -> dict:
    """Each session type's free slots on the `days` local dates from `first` (the schedule's
    zone), from one read of the consultant's bookings."""
    if schedule is None or not schedule.weekly or not session_types:
        return {t.id: [] for t in session_types}
    last = first + timedelta(days=days - 1)
    busy = slots.busy_ranges(schedule.consultant_id, *_span(schedule, first, last))
    found = {}
    for session_type in session_types:
        free = slots.free_slots(
            schedule=schedule,
            duration_minutes=session_type.duration_minutes,
            first=first,
            last=last,
            now=now,
            busy=busy,
        )
        found[session_type.id] = free[:limit] if limit else free
    return found


def today_of(schedule: Schedule | None, now: datetime) -> date:
    zone = ZoneInfo(schedule.timezone) if schedule else timezone.get_current_timezone()
    return now.astimezone(zone).date()


def profile_offers(profile: ConsultantProfile, *, now: datetime) -> list[Offer]:
    """The consultant's active session types, cheapest first, each with its next free times
    in the coming two weeks. Three queries, however many types."""
    types = list(
        SessionType.objects.filter(consultant=profile, is_active=True).order_by("price", "title")
    )
    if not types:
        return []
    schedule = schedule_of(profile)
    found = free_times(
        schedule=schedule,
        session_types=types,
        first=today_of(schedule, now),
        now=now,
        limit=PROFILE_SLOTS,
    )
    return [Offer(t, found[t.id]) for t in types]


def by_local_day(found: list[slots.Slot]) -> list[tuple[date, list[slots.Slot]]]:
    """Slots grouped by the viewer's local date (the page's time zone), in order."""
    days: dict[date, list[slots.Slot]] = {}
    for slot in found:
        days.setdefault(timezone.localtime(slot.start_at).date(), []).append(slot)
    return list(days.items())


# --- Lists --------------------------------------------------------------------------------------


def _with_people(query):
    return query.select_related("client", "consultant__user")


def upcoming_for_consultant(profile: ConsultantProfile, *, now: datetime) -> list[Booking]:
    """The consultant's bookings still to happen (or running), soonest first."""
    return list(
        _with_people(
            Booking.objects.filter(consultant=profile, status__in=HOLDING_STATUSES, end_at__gt=now)
        ).order_by("start_at", "id")[:UPCOMING]
    )


def own_bookings(user) -> list[Booking]:
    """One's bookings as a client or as a consultant, the latest start first."""
    return list(
        _with_people(Booking.objects.filter(Q(client=user) | Q(consultant__user=user))).order_by(
            "-start_at", "-id"
        )[:LIST_SIZE]
    )


@dataclass
class OfferSummary:
    session_types: int
    schedule: Schedule | None
    booked_now: bool  # a booked session about to start or running: instant requests wait


def offer_summary(profile: ConsultantProfile, *, now: datetime) -> OfferSummary:
    """What the dashboard says of the consultant's bookings set-up."""
    from bookings.services import consultant_is_booked

    schedule = schedule_of(profile)
    return OfferSummary(
        session_types=SessionType.objects.filter(consultant=profile, is_active=True).count(),
        schedule=schedule if schedule and schedule.weekly else None,
        booked_now=consultant_is_booked(profile, now),
    )
