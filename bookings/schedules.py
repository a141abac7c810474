"""Session types and weekly schedules: what a consultant sells and when (writes and checks).

The checks answer 400 `invalid` with a message per field, dotted for the parts of a list
(`weekly.1.end`, `unavailable_dates.0`), so a form can show each next to its input.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

from bookings.models import (
    MAX_DURATION_MINUTES,
    MAX_PRICE,
    MIN_DURATION_MINUTES,
    MIN_PRICE,
    Schedule,
    SessionType,
)
from config.errors import NotFound
from consultants.models import Channel, ConsultantProfile

# ASCII digits, the whole string: `\d` takes any script's digits and `$` a trailing newline.
HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00")
MAX_WEEKLY_RANGES = 100
MAX_UNAVAILABLE_DATES = 400


# --- Session types ----------------------------------------------------------------------------


def _check_session_type(values: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for name in ("title", "description", "channel", "duration_minutes", "price"):
        if name not in values:
            if not partial and name != "description":
                errors[name] = [_("This field is required.")]
            continue
        value = values[name]
        if name in ("title", "description"):
            limit = 120 if name == "title" else 2000
            if not isinstance(value, str) or (name == "title" and not value.strip()):
                errors[name] = [_("Text of up to %(n)s characters.") % {"n": limit}]
            elif "\x00" in value:
                # (PostgreSQL text cannot hold NUL; DRF's own fields refuse it the same way)
                errors[name] = [_("Null characters are not allowed.")]
            elif len(value.strip()) > limit:
                errors[name] = [_("At most %(n)s characters.") % {"n": limit}]
            else:
                clean[name] = value.strip()
        elif name == "channel":
            if value not in Channel.values:
                errors[name] = [_("One of chat, voice, video.")]
            else:
                clean[name] = value
        else:
            low, high = (
                (MIN_DURATION_MINUTES, MAX_DURATION_MINUTES)
                if name == "duration_minutes"
                else (MIN_PRICE, MAX_PRICE)
            )
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = [
                    _("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
                ]
            else:
                clean[name] = value
    if errors:
        raise ValidationError(errors)
    return clean


def create_session_type(*, consultant: ConsultantProfile, values: dict[str, Any]) -> SessionType:
    """A new, active session type of `consultant`. 400 `invalid` with fields."""
    clean = _check_session_type(values, partial=False)
    return SessionType.objects.create(consultant=consultant, **clean)


def own_session_type(*, consultant: ConsultantProfile, session_type_id) -> SessionType:
    """One of the consultant's active session types; 404 otherwise."""
    found = SessionType.objects.filter(
        consultant=consultant, id=session_type_id, is_active=True
    ).first()
    if found is None:
        raise NotFound("No such session type.")
    return found


def update_session_type(
    *, consultant: ConsultantProfile, session_type_id, values: dict[str, Any]
) -> SessionType:
    """Changes the given fields. Bookings already made keep the terms they were made on."""
    with transaction.atomic():
        session_type = own_session_type(consultant=consultant, session_type_id=session_type_id)
        clean = _check_session_type(values, partial=True)
        for name, value in clean.items():
            setattr(session_type, name, value)
        session_type.save()
    return session_type


def deactivate_session_type(*, consultant: ConsultantProfile, session_type_id) -> None:
    """`DELETE`: the type is no longer offered (its bookings keep their terms). 404 if it is
    not the consultant's active type."""
    moved = SessionType.objects.filter(
        consultant=consultant, id=session_type_id, is_active=True
    ).update(is_active=False)
    if not moved:
        raise NotFound("No such session type.")


# --- Schedules --------------------------------------------------------------------------------


def known_zone(name: Any) -> bool:
    if not isinstance(name, str) or not name or name not in available_timezones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def clean_schedule(values: dict[str, Any]) -> dict[str, Any]:
    """Checks a whole schedule (the `PUT` body) and returns it normalized (ranges sorted by
    weekday and start, dates sorted and unique). 400 `invalid` with a message per field."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    if not isinstance(values, dict):
        raise ValidationError({"non_field_errors": [_("Send a JSON object.")]})

    zone = values.get("timezone")
    if zone is None:
        errors["timezone"] = [_("This field is required.")]
    elif not known_zone(zone):
        errors["timezone"] = [_("An IANA time zone name, like Asia/Kolkata.")]
    else:
        clean["timezone"] = zone

    weekly = values.get("weekly", [])
    ranges: list[dict[str, Any]] = []
    if not isinstance(weekly, list):
        errors["weekly"] = [_("A list of {weekday, start, end}.")]
    elif len(weekly) > MAX_WEEKLY_RANGES:
        errors["weekly"] = [_("At most %(n)s ranges.") % {"n": MAX_WEEKLY_RANGES}]
    else:
        for index, entry in enumerate(weekly):
            where = f"weekly.{index}"
            if not isinstance(entry, dict):
                errors[where] = [_("A list of {weekday, start, end}.")]
                continue
            weekday, start, end = entry.get("weekday"), entry.get("start"), entry.get("end")
            bad = False
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                errors[f"{where}.weekday"] = [_("0 (Monday) to 6 (Sunday).")]
                bad = True
            for name, value in (("start", start), ("end", end)):
                if not isinstance(value, str) or not HHMM.fullmatch(value):
                    errors[f"{where}.{name}"] = [_("A time as HH:MM (00:00 to 24:00).")]
                    bad = True
            if bad or not isinstance(start, str) or not isinstance(end, str):  # (bad says so)
                continue
            if start == "24:00":
                errors[f"{where}.start"] = [_("A range cannot start at 24:00.")]
                continue
            if _minutes(end) <= _minutes(start):
                errors[f"{where}.end"] = [_("The end must be after the start.")]
                continue
            ranges.append({"weekday": weekday, "start": start, "end": end, "index": index})
        ranges.sort(key=lambda r: (r["weekday"], r["start"]))
        for before, after in zip(ranges, ranges[1:], strict=False):
            if before["weekday"] == after["weekday"] and _minutes(after["start"]) < _minutes(
                before["end"]
            ):
                errors[f"weekly.{after['index']}"] = [
                    _("This range overlaps another range of the same day.")
                ]
        clean["weekly"] = [{k: r[k] for k in ("weekday", "start", "end")} for r in ranges]

    dates = values.get("unavailable_dates", [])
    if not isinstance(dates, list):
        errors["unavailable_dates"] = [_("A list of dates as YYYY-MM-DD.")]
    elif len(dates) > MAX_UNAVAILABLE_DATES:
        errors["unavailable_dates"] = [_("At most %(n)s dates.") % {"n": MAX_UNAVAILABLE_DATES}]
    else:
        seen = set()
        for index, text in enumerate(dates):
            try:
                if not isinstance(text, str) or len(text) != 10:
                    raise ValueError
                seen.add(date.fromisoformat(text).isoformat())
            except ValueError:
                errors[f"unavailable_dates.{index}"] = [_("A date as YYYY-MM-DD.")]
        clean["unavailable_dates"] = sorted(seen)

    for name, default, low, high in (
        ("min_notice_hours", 2, 0, 168),
        ("horizon_days", 30, 1, 365),
    ):
        value = values.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[name] = [
                _("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
            ]
        else:
            clean[name] = value

    if errors:
        raise ValidationError(errors)
    return clean


def schedule_of(consultant: ConsultantProfile) -> Schedule | None:
    return Schedule.objects.filter(consultant=consultant).first()


def empty_schedule(consultant: ConsultantProfile) -> Schedule:
    """What `GET` answers before the consultant saved one: no hours, the defaults."""
    return Schedule(consultant=consultant, timezone="Asia/Kolkata")


def set_schedule(*, consultant: ConsultantProfile, values: dict[str, Any]) -> Schedule:
    """Replaces the consultant's schedule (`PUT`). Bookings already made are kept."""
    clean = clean_schedule(values)
    schedule, _created = Schedule.objects.update_or_create(consultant=consultant, defaults=clean)
    return schedule
