"""Free slots: weekly hours in the consultant's zone, across DST and midnight, less bookings."""

from datetime import UTC, date, datetime, timedelta

import pytest

from bookings.models import Schedule
from bookings.slots import free_slots, is_free_slot


def schedule(zone="Asia/Kolkata", weekly=None, off=(), notice=0, horizon=365):
    return Schedule(
        consultant_id=None,
        timezone=zone,
        weekly=weekly if weekly is not None else [],
        unavailable_dates=list(off),
        min_notice_hours=notice,
        horizon_days=horizon,
    )


def starts(found, zone):
    from zoneinfo import ZoneInfo

    return [s.start_at.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M") for s in found]


NOW = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


def test_it_offers_every_half_hour_where_the_session_fits():
    found = free_slots(
        schedule=schedule(weekly=[{"weekday": 0, "start": "09:00", "end": "11:00"}]),
        duration_minutes=45,
        first=date(2026, 3, 2),  # a Monday
        last=date(2026, 3, 2),
        now=NOW,
        busy=[],
    )
    assert starts(found, "Asia/Kolkata") == ["03-02 09:00", "03-02 09:30", "03-02 10:00"]
    assert found[0].end_at - found[0].start_at == timedelta(minutes=45)
    assert found[0].start_at == datetime(2026, 3, 2, 3, 30, tzinfo=UTC)


def test_a_range_ending_at_24_00_joins_the_next_days_midnight():
    weekly = [
        {"weekday": 0, "start": "23:00", "end": "24:00"},
        {"weekday": 1, "start": "00:00", "end": "00:30"},
    ]
    found = free_slots(
        schedule=schedule(weekly=weekly),
        duration_minutes=60,
        first=date(2026, 3, 2),
        last=date(2026, 3, 3),
        now=NOW,
        busy=[],
    )
    assert starts(found, "Asia/Kolkata") == ["03-02 23:00", "03-02 23:30"]


def test_bookings_and_days_off_take_their_time_away():
    weekly = [{"weekday": d, "start": "09:00", "end": "11:00"} for d in range(7)]
    booked = (
        datetime(2026, 3, 2, 4, 0, tzinfo=UTC).timestamp(),
        datetime(2026, 3, 2, 4, 30, tzinfo=UTC).timestamp(),
    )
    found = free_slots(
        schedule=schedule(weekly=weekly, off=["2026-03-03"]),
        duration_minutes=30,
        first=date(2026, 3, 2),
        last=date(2026, 3, 3),
        now=NOW,
        busy=[booked],
    )
    # 09:30 local is 04:00 UTC: taken; the 3rd is a day off.
    assert starts(found, "Asia/Kolkata") == ["03-02 09:00", "03-02 10:00", "03-02 10:30"]


def test_notice_and_horizon_bound_the_starts():
    weekly = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
    now = datetime(2026, 3, 2, 6, 10, tzinfo=UTC)  # 11:40 in Kolkata
    found = free_slots(
        schedule=schedule(weekly=weekly, notice=2, horizon=1),
        duration_minutes=30,
        first=date(2026, 3, 2),
        last=date(2026, 3, 5),
        now=now,
        busy=[],
    )
    assert found[0].start_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)  # 14:00 local
    assert found[-1].start_at <= now + timedelta(days=1)
    assert found[-1].start_at > now + timedelta(days=1) - timedelta(minutes=30)


def test_spring_forward_has_no_slots_in_the_gap_and_keeps_wall_times():
    # New York springs forward on 2026-03-08 at 02:00 -> 03:00.
    weekly = [{"weekday": 6, "start": "01:00", "end": "05:00"}]
    found = free_slots(
        schedule=schedule("America/New_York", weekly),
        duration_minutes=30,
        first=date(2026, 3, 8),
        last=date(2026, 3, 8),
        now=NOW,
        busy=[],
    )
    assert starts(found, "America/New_York") == [
        "03-08 01:00",
        "03-08 01:30",
        "03-08 03:00",
        "03-08 03:30",
        "03-08 04:00",
        "03-08 04:30",
    ]
    # Every slot is 30 real minutes and they never overlap.
    for a, b in zip(found, found[1:], strict=False):
        assert a.end_at <= b.start_at


def test_fall_back_offers_the_repeated_hour_twice():
    # New York falls back on 2026-11-01 at 02:00 -> 01:00.
    weekly = [{"weekday": 6, "start": "00:00", "end": "03:00"}]
    found = free_slots(
        schedule=schedule("America/New_York", weekly),
        duration_minutes=30,
        first=date(2026, 11, 1),
        last=date(2026, 11, 1),
        now=NOW,
        busy=[],
    )
    local = starts(found, "America/New_York")
    assert local.count("11-01 01:00") == 2 and local.count("11-01 01:30") == 2
    assert len({s.start_at for s in found}) == len(found)
    # 00:00 to 03:00 local is four real hours that day.
    assert found[-1].end_at - found[0].start_at == timedelta(hours=4)


def test_a_zone_with_a_quarter_hour_offset_still_starts_on_its_own_half_hours():
    weekly = [{"weekday": 0, "start": "09:00", "end": "10:00"}]
    found = free_slots(
        schedule=schedule("Asia/Kathmandu", weekly),
        duration_minutes=30,
        first=date(2026, 3, 2),
        last=date(2026, 3, 2),
        now=NOW,
        busy=[],
    )
    assert starts(found, "Asia/Kathmandu") == ["03-02 09:00", "03-02 09:30"]


@pytest.mark.django_db
def test_is_free_slot_reads_the_consultants_bookings():
    from bookings.tests.factories import ScheduleFactory

    sched = ScheduleFactory(min_notice_hours=0)
    start = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 09:00 in Kolkata
    assert is_free_slot(schedule=sched, duration_minutes=45, start_at=start, now=NOW)
    off_grid = start + timedelta(minutes=15)
    assert not is_free_slot(schedule=sched, duration_minutes=45, start_at=off_grid, now=NOW)


@pytest.mark.django_db
def test_the_bookings_are_read_as_exact_seconds_and_a_slot_may_start_as_one_ends():
    """The one query reads the bookings as POSIX seconds worked out by the database: exact, so
    the slot that starts when a booking ends is free, and the one it overlaps is not."""
    from accounts.tests.factories import ClientFactory
    from bookings.slots import busy_ranges
    from bookings.tests.factories import ScheduleFactory, SessionTypeFactory, booking_row

    sched = ScheduleFactory(min_notice_hours=0)
    kind = SessionTypeFactory(consultant=sched.consultant, duration_minutes=30)
    start = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 09:00 in Kolkata, until 09:30
    booking_row(kind, client=ClientFactory(), start_at=start)
    day = (start - timedelta(days=1), start + timedelta(days=1))
    assert busy_ranges(sched.consultant_id, *day) == [
        (start.timestamp(), (start + timedelta(minutes=30)).timestamp())
    ]
    found = free_slots(
        schedule=sched, duration_minutes=15, first=date(2026, 3, 2), last=date(2026, 3, 2), now=NOW
    )
    assert "03-02 09:00" not in starts(found, "Asia/Kolkata")
    assert "03-02 09:30" in starts(found, "Asia/Kolkata")
