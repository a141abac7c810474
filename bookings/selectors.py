"""Reads of the bookings app that are more than a one-line query."""

from __future__ import annotations

from datetime import date, datetime

from bookings import slots
from bookings.models import Schedule, SessionType


def slots_for(
    *,
    schedule: Schedule | None,
    session_type: SessionType,
    first: date,
    last: date,
    now: datetime,
) -> list[slots.Slot]:
    """The free slots of `session_type` on the local dates `first`..`last` (one query)."""
    return slots.free_slots(
        schedule=schedule,
        duration_minutes=session_type.duration_minutes,
        first=first,
        last=last,
        now=now,
    )
