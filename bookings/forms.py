"""The bookings pages' forms: they turn what a person types into the services' values (rupees
into paise, "09:00-13:00, 14:00-18:00" into weekly ranges) and put the services' errors back
next to the field they concern. The rules themselves are the services' (bookings.schedules,
bookings.services)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings.models import MAX_DURATION_MINUTES, MAX_PRICE, MIN_DURATION_MINUTES, MIN_PRICE
from consultants.models import Channel

WEEKDAYS = [
    ("mon", _("Monday")),
    ("tue", _("Tuesday")),
    ("wed", _("Wednesday")),
    ("thu", _("Thursday")),
    ("fri", _("Friday")),
    ("sat", _("Saturday")),
    ("sun", _("Sunday")),
]
RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–—]\s*(\d{1,2}:\d{2})\s*$")
RANGES_HELP = _("Write ranges like 09:00-13:00, separated by commas.")
MAX_GOALS = 2000


def attach_errors(form: forms.Form, detail, *, fields: dict[str, str] | None = None) -> None:
    """A service's 400 (`{"field.0.part": [messages]}`) next to the form's fields: a dotted
    name goes to the field it starts with, or to the one `fields` maps its head to."""
    if not isinstance(detail, dict):
        form.add_error(None, str(detail))
        return
    fields = fields or {}
    for name, problems in detail.items():
        target = fields.get(name) or fields.get(name.rsplit(".", 1)[0]) or name.split(".")[0]
        target = target if target in form.fields else None
        for problem in problems if isinstance(problems, list) else [problems]:
            form.add_error(target, str(problem))


class PriceField(forms.DecimalField):
    """A price typed in rupees (`499` or `499.50`), cleaned to int paise."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", MIN_PRICE / 100)
        kwargs.setdefault("max_value", MAX_PRICE / 100)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_digits", 12)
        super().__init__(**kwargs)
        self.widget.attrs.update(step="0.01", inputmode="decimal")

    def clean(self, value):
        rupees = super().clean(value)
        return None if rupees is None else int(rupees * 100)


class SessionTypeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    description = forms.CharField(
        label=_("Description"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    duration_minutes = forms.IntegerField(
        label=_("Length (minutes)"),
        min_value=MIN_DURATION_MINUTES,
        max_value=MAX_DURATION_MINUTES,
        initial=45,
    )
    price = PriceField(label=_("Price (₹)"))

    def values(self) -> dict:
        return dict(self.cleaned_data)


def _ranges_text(ranges: list[dict]) -> str:
    return ", ".join(f"{r['start']}-{r['end']}" for r in ranges)


class ScheduleForm(forms.Form):
    """The weekly hours, a field a weekday, and the rest of the schedule."""

    timezone = forms.CharField(label=_("Time zone"), max_length=64)
    unavailable_dates = forms.CharField(
        label=_("Days off"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Dates you cannot be booked, like 2026-12-25, separated by commas or lines."),
    )
    min_notice_hours = forms.IntegerField(
        label=_("Minimum notice (hours)"), min_value=0, max_value=168
    )
    horizon_days = forms.IntegerField(
        label=_("Bookable up to (days ahead)"), min_value=1, max_value=365
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        days = {}
        for key, label in WEEKDAYS:
            days[key] = forms.CharField(label=label, required=False, max_length=400)
        self.fields = {**days, **self.fields}
        self.fields["timezone"].widget.attrs.update(placeholder="Asia/Kolkata", autocomplete="off")
        self.weekly_owner: dict[str, str] = {}  # "weekly.<n>" -> the weekday field it came from

    @classmethod
    def initial_for(cls, schedule) -> dict:
        initial = {
            "timezone": schedule.timezone,
            "unavailable_dates": ", ".join(schedule.unavailable_dates),
            "min_notice_hours": schedule.min_notice_hours,
            "horizon_days": schedule.horizon_days,
        }
        for number, (key, _label) in enumerate(WEEKDAYS):
            initial[key] = _ranges_text([r for r in schedule.weekly if r["weekday"] == number])
        return initial

    def weekdays(self):
        return [self[key] for key, _label in WEEKDAYS]

    def others(self):
        return [
            self[name]
            for name in ("timezone", "min_notice_hours", "horizon_days", "unavailable_dates")
        ]

    def clean(self):
        super().clean()
        data = self.cleaned_data  # what Form.clean returns
        weekly: list[dict[str, Any]] = []
        for number, (key, _label) in enumerate(WEEKDAYS):
            text = data.get(key) or ""
            for part in filter(None, (p.strip() for p in text.split(","))):
                found = RANGE.match(part)
                if not found:
                    self.add_error(key, RANGES_HELP)
                    break
                start, end = (t.zfill(5) for t in found.groups())
                self.weekly_owner[f"weekly.{len(weekly)}"] = key
                weekly.append({"weekday": number, "start": start, "end": end})
        data["weekly"] = weekly
        dates = re.split(r"[\s,;]+", data.get("unavailable_dates") or "")
        data["dates"] = [d for d in dates if d]
        return data

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "timezone": data["timezone"].strip(),
            "weekly": data["weekly"],
            "unavailable_dates": data["dates"],
            "min_notice_hours": data["min_notice_hours"],
            "horizon_days": data["horizon_days"],
        }

    def attach(self, detail) -> None:
        """The schedule service's errors next to the weekday (or other) field they concern."""
        owners = dict(self.weekly_owner)
        if isinstance(detail, dict):
            for name in list(detail):
                head = ".".join(name.split(".")[:2])
                if head in owners:
                    owners[name] = owners[head]
                elif name.startswith("unavailable_dates"):
                    owners[name] = "unavailable_dates"
        attach_errors(self, detail, fields=owners)


# --- Booking ------------------------------------------------------------------------------------


class BookingForm(forms.Form):
    """A slot among the free ones shown, goals, and how to pay."""

    slot = forms.ChoiceField(label=_("Slot"), widget=forms.RadioSelect)
    goals = forms.CharField(
        label=_("Goals"),
        required=False,
        max_length=MAX_GOALS,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_GOALS}),
        help_text=_("What you would like to get out of the session (up to 2,000 characters)."),
    )
    pay_with = forms.ChoiceField(
        label=_("Pay with"),
        # `split` is taken whenever it is sent (the service says when it does not fit) and
        # shown only when it fits (`split_label`).
        choices=[("wallet", _("Wallet")), ("gateway", _("Card / UPI")), ("split", _("Split"))],
        widget=forms.RadioSelect,
        initial="wallet",
    )

    def __init__(self, *args, slots=(), split_label=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.split_offered = split_label is not None
        if self.split_offered:
            cast(forms.ChoiceField, self.fields["pay_with"]).choices = [
                ("wallet", _("Wallet")),
                ("gateway", _("Card / UPI")),
                ("split", split_label),
            ]
            self.fields["pay_with"].initial = "split"
        self.slots = {slot.start_at.isoformat(): slot for slot in slots}
        cast(forms.ChoiceField, self.fields["slot"]).choices = [
            (key, slot_label(slot.start_at)) for key, slot in self.slots.items()
        ]
        self.fields["slot"].error_messages["invalid_choice"] = _(
            "That time has just been taken or is no longer available. Choose another slot."
        )
        self.fields["slot"].error_messages["required"] = _("Choose a time.")

    def start_at(self) -> datetime:
        return self.slots[self.cleaned_data["slot"]].start_at

    def payment_choices(self):
        """The radios of `pay_with` to show: `split` only when it fits the wallet."""
        return [
            radio
            for radio in self["pay_with"]
            if radio.data["value"] != "split" or self.split_offered
        ]


def slot_label(start: datetime) -> str:
    """A slot as the viewer reads it, in their time zone: `Tue 8 Dec, 10:00`."""
    from django.utils.formats import date_format

    return date_format(timezone.localtime(start), "D j M, H:i")


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (optional)"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 500}),
    )
