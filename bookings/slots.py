"""Free slots: a consultant's weekly hours, less days off, notice, horizon and their bookings.

Every computation is in real instants (aware UTC datetimes); the consultant's time zone only
decides where the weekly hours fall and which instants are "on the hour or half hour". So DST
needs no special case: a spring-forward gap has no instants to offer, a fall-back hour offers
both of its half hours (two instants with the same wall time), and a session may run across
midnight where a range ending at `24:00` meets the next day's `00:00` (the windows merge).

Cost: the schedule and the session type are read by the caller; the consultant's holding
bookings near the range are ONE query; the rest is Python: two time-zone conversions a day and
integer comparisons (`bench_slots` measures it).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import FloatField, Func

from bookings.models import HOLDING_STATUSES, Booking, Schedule

DAY = 24 * 3600
HALF_HOUR = 30 * 60
QUARTER = 15 * 60  # every time zone's offset is a multiple of a quarter hour
MAX_RANGE_DAYS = 31


@dataclass(frozen=True)
class Slot:
    start_at: datetime
    end_at: datetime


def parse_hhmm(text: str) -> tuple[int, int]:
    hours, minutes = text.split(":")
    return int(hours), int(minutes)


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """`day` at wall time `hhmm` ("24:00" = the next day's midnight) in `zone`, as UTC."""
    hours, minutes = parse_hhmm(hhmm)
    if hours == 24:
        day, hours = day + timedelta(days=1), 0
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)


def windows(schedule: Schedule, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """The weekly hours of the local dates `first`..`last` (less days off), as merged UTC
    windows: ranges that touch (a `24:00` end and a `00:00` start) become one."""
    zone = ZoneInfo(schedule.timezone)
    off = set(schedule.unavailable_dates or [])
    by_weekday: dict[int, list[dict]] = {}
    for entry in schedule.weekly or []:
        by_weekday.setdefault(int(entry["weekday"]), []).append(entry)
    found = []
    day = first
    while day <= last:
        if day.isoformat() not in off:
            for entry in by_weekday.get(day.weekday(), []):
                start, end = _local(day, entry["start"], zone), _local(day, entry["end"], zone)
                if end > start:
                    found.append((start, end))
        day += timedelta(days=1)
    found.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class Epoch(Func):
    """A timestamp as POSIX seconds (a float), worked out by the database: reading a month's
    bookings as datetimes spent most of the slots' time in Django's time-zone-aware datetime
    loader (about 10 us a value), a float costs next to nothing."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"

    def as_sqlite(self, compiler, connection, **extra):
        # (SQLite keeps UTC datetimes as text; a Julian day number converts without strftime's
        # "%s", which the backend would take for a parameter. julianday() keeps milliseconds,
        # and its double is off by some microseconds: rounded, a whole second stays whole.)
        template = "round((julianday(%(expressions)s) - 2440587.5) * 86400.0, 3)"
        return self.as_sql(compiler, connection, template=template, **extra)


def busy_ranges(
    consultant_id, start: datetime, end: datetime, *, exclude_id=None
) -> list[tuple[float, float]]:
    """The consultant's holding bookings overlapping `[start, end)`, as merged and sorted
    (start, end) POSIX seconds: the one query of a slot computation."""
    query = Booking.objects.filter(
        consultant_id=consultant_id,
        status__in=HOLDING_STATUSES,
        start_at__lt=end,
        end_at__gt=start,
    )
    if exclude_id is not None:
        query = query.exclude(id=exclude_id)
    rows = query.values_list(Epoch("start_at"), Epoch("end_at"))
    merged: list[tuple[float, float]] = []
    for s, e in sorted(rows):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp())


def _starts_of_day(day: date, zone: ZoneInfo) -> Iterator[int]:
    """The instants (POSIX seconds) of `day` whose local time is on the hour or half hour."""
    begin, end = _midnight(day, zone), _midnight(day + timedelta(days=1), zone)
    if end - begin == DAY:  # no clock change that day: every half hour from midnight
        yield from range(begin, end, HALF_HOUR)
        return
    # A clock change: walk the day's real quarter hours and keep the local :00 and :30 ones
    # (a spring-forward gap has none to give, a fall-back hour gives its half hours twice).
    for moment in range(begin - begin % QUARTER, end, QUARTER):
        if moment >= begin and datetime.fromtimestamp(moment, zone).minute in (0, 30):
            yield moment


def free_slots(
    *,
    schedule: Schedule | None,
    duration_minutes: int,
    first: date,
    last: date,
    now: datetime,
    busy: list[tuple[float, float]] | None = None,
) -> list[Slot]:
    """Every start on the hour or half hour (in the schedule's zone) of the local dates
    `first`..`last` at which a session of `duration_minutes` fits wholly inside the weekly
    hours, starts `min_notice_hours` or more after `now`, no later than `horizon_days` after
    it, and overlaps none of the consultant's holding bookings (read here unless `busy`, as
    `busy_ranges` gives them, is given). Sorted.

    Two time-zone conversions a day and integer arithmetic for the rest: a month of slots
    is a few thousand comparisons."""
    if schedule is None or not schedule.weekly:
        return []
    zone = ZoneInfo(schedule.timezone)
    length = duration_minutes * 60
    earliest = now.timestamp() + schedule.min_notice_hours * 3600
    latest = now.timestamp() + schedule.horizon_days * DAY
    # One day more on each side: a window may start the evening before and run past midnight.
    spans = windows(schedule, first - timedelta(days=1), last + timedelta(days=1))
    if not spans:
        return []
    if busy is None:
        busy = busy_ranges(schedule.consultant_id, spans[0][0], spans[-1][1])
    opens = [int(a.timestamp()) for a, _b in spans]
    closes = [int(b.timestamp()) for _a, b in spans]
    busy_starts = [b[0] for b in busy]
    busy_ends = [b[1] for b in busy]
    found = []
    day = first
    while day <= last:
        for start in _starts_of_day(day, zone):
            end = start + length
            if start < earliest or start > latest:
                continue
            window = bisect.bisect_right(opens, start) - 1
            if window < 0 or closes[window] < end:
                continue
            # The last busy range starting before this slot ends must end before it starts.
            index = bisect.bisect_left(busy_starts, end) - 1
            if index >= 0 and busy_ends[index] > start:
                continue
            found.append(start)
        day += timedelta(days=1)
    return [
        Slot(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(start + length, UTC))
        for start in found
    ]


def is_free_slot(
    *, schedule: Schedule | None, duration_minutes: int, start_at: datetime, now: datetime
) -> bool:
    """Whether `start_at` is one of `free_slots` (its own local date's)."""
    if schedule is None:
        return False
    day = start_at.astimezone(ZoneInfo(schedule.timezone)).date()
    found = free_slots(
        schedule=schedule, duration_minutes=duration_minutes, first=day, last=day, now=now
    )
    return any(slot.start_at == start_at for slot in found)
