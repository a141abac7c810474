"""Consultations: the lifecycle of a paid session and the state the billing engine keeps.

Design overview
---------------
* A `Consultation` is one session between a client (`accounts.User`) and a consultant
  (`consultants.ConsultantProfile`) on one channel. Its `rate_per_minute` (paise) is copied from
  the consultant when the client asks and never changes afterwards; so is the platform's
  `commission_percent` (a settings change applies to consultations opened after it).
* Two kinds (`kind`): `instant` (asked for now, billed by the second) and `booked` (opened by a
  scheduled booking: prepaid, `rate_per_minute` 0, never billed by the tick, with the booking's
  id in `booking_id` and its end in `ends_at`). The bookings app sits above this one, so
  `booking_id` is a plain UUID, not a foreign key; the database ties it to the kind
  (`consultation_booked_iff_booking`).
* `ends_at` is the moment the consultation must end unless something changes: a booked one's
  scheduled end, an instant one's "the money runs out here" (recomputed at every charge). A
  sweep every second ends (or re-bills) the active rows whose moment has come.
* Lifecycle: `pending` -> `active` -> `ended` | `force_ended`; a pending request may instead
  become `declined`, `cancelled` or `expired`. Every transition is one service in
  `consultations.services` that locks the row, checks the state, writes a `ConsultationEvent`
  (the audit row) and announces the change after commit.
* Never two at once: `one_open_consultation_per_client` and
  `one_open_consultation_per_consultant` are partial unique constraints over the open
  (pending or active) rows. They are the truth; the Redis locks only turn races away early.
* Billing state lives here, not in a process: `billed_seconds` (seconds charged so far) and
  `total_amount` (paise charged so far). The database checks the contract's rule itself:
  `total_amount = floor(rate_per_minute * billed_seconds / 60)`
  (`consultation_charged_exactly_to_the_second`), and the legs of the charges add up
  (`consultation_charge_legs_add_up`: commission + consultant's share = total).
* Billable time: `started_at` .. now, less the time the consultant has been away past the
  presence grace. Finished pauses add up in `paused`; a pause still running is derived from
  `consultant_absent_since`. A tick bills `floor(billable seconds)` in total, minus what was
  billed before, so a late, missed or repeated tick leaves the total right.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from consultants.models import Channel


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    FORCE_ENDED = "force_ended", _("Force-ended")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


OPEN_STATUSES = [Status.PENDING, Status.ACTIVE]
FINISHED_STATUSES = [Status.ENDED, Status.FORCE_ENDED]


class EndReason(models.TextChoices):
    CLIENT_ENDED = "client_ended", _("Client ended")
    CONSULTANT_ENDED = "consultant_ended", _("Consultant ended")
    INSUFFICIENT_BALANCE = "insufficient_balance", _("Insufficient balance")
    CONSULTANT_DISCONNECTED = "consultant_disconnected", _("Consultant disconnected")
    CLIENT_DISCONNECTED = "client_disconnected", _("Client disconnected")
    ADMIN = "admin", _("Admin")
    BOOKING_OVER = "booking_over", _("Booking over")


class Kind(models.TextChoices):
    INSTANT = "instant", "Instant"  # billed by the second
    BOOKED = "booked", "Booked"  # prepaid through a booking; never billed by the tick


def default_commission_percent() -> int:
    """The platform's share for a consultation created now (fixed on the row from then on)."""
    return settings.PLATFORM_COMMISSION_PERCENT


class Consultation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consultations"
    )
    consultant = models.ForeignKey(
        "consultants.ConsultantProfile", on_delete=models.PROTECT, related_name="consultations"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.INSTANT)
    # The booking that opened a booked consultation (bookings.Booking's id; no foreign key: the
    # bookings app sits above this one).
    booking_id = models.UUIDField(null=True, blank=True)
    rate_per_minute = models.BigIntegerField()  # paise, fixed when the client asked (booked: 0)
    # The platform's share of each charge, in percent, fixed when the consultation was created.
    commission_percent = models.PositiveSmallIntegerField(default=default_commission_percent)

    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)  # accepted: billing starts here
    ended_at = models.DateTimeField(null=True, blank=True)
    # When it must end unless something changes (booked: the booking's end; instant: when the
    # client's money runs out, as of the last charge). Null: no known end.
    ends_at = models.DateTimeField(null=True, blank=True)
    # Null until it ends: the contract's `end_reason` is null for an open or refused request.
    end_reason = models.CharField(  # noqa: DJ001
        max_length=32, choices=EndReason.choices, null=True, blank=True, default=None
    )

    # Billing state (paise and seconds charged so far).
    billed_seconds = models.BigIntegerField(default=0)
    total_amount = models.BigIntegerField(default=0)  # what the client paid in total
    commission_amount = models.BigIntegerField(default=0)  # the platform's legs, summed
    consultant_amount = models.BigIntegerField(default=0)  # the consultant's legs, summed
    last_billed_at = models.DateTimeField(null=True, blank=True)  # the last tick that saw it
    paused = models.DurationField(default=timedelta)  # finished unbilled pauses
    balance_low_sent = models.BooleanField(default=False)
    # The hold reserving the first tick(s) on the client's wallet, taken at accept.
    hold = models.ForeignKey(
        "wallets.Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # Presence (set by record_presence; null = there).
    consultant_absent_since = models.DateTimeField(null=True, blank=True)
    client_absent_since = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=["pending", "active"]),
                name="one_open_consultation_per_client",
            ),
            models.UniqueConstraint(
                fields=["consultant"],
                condition=Q(status__in=["pending", "active"]),
                name="one_open_consultation_per_consultant",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]),
                name="consultation_status_known",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in Kind]), name="consultation_kind_known"
            ),
            models.CheckConstraint(
                condition=(Q(kind=Kind.BOOKED) & Q(booking_id__isnull=False))
                | (Q(kind=Kind.INSTANT) & Q(booking_id__isnull=True)),
                name="consultation_booked_iff_booking",
            ),
            # Instant: a positive rate. Booked: prepaid, never billed by the second, and a
            # scheduled end.
            models.CheckConstraint(
                condition=(Q(kind=Kind.INSTANT) & Q(rate_per_minute__gt=0))
                | (Q(kind=Kind.BOOKED) & Q(rate_per_minute=0) & Q(ends_at__isnull=False)),
                name="consultation_rate_fits_kind",
            ),
            models.UniqueConstraint(
                fields=["booking_id"],
                condition=Q(booking_id__isnull=False),
                name="consultation_one_per_booking",
            ),
            models.CheckConstraint(
                condition=Q(commission_percent__lte=100),
                name="consultation_commission_percent_within_100",
            ),
            models.CheckConstraint(
                condition=Q(end_reason__isnull=True)
                | Q(end_reason__in=[r.value for r in EndReason]),
                name="consultation_end_reason_known",
            ),
            models.CheckConstraint(
                condition=Q(billed_seconds__gte=0), name="consultation_billed_seconds_non_negative"
            ),
            # Integer division on both PostgreSQL and SQLite (every value is non-negative, so
            # it is the floor): the contract's exact-to-the-second rule, kept by the database.
            models.CheckConstraint(
                condition=Q(total_amount=F("rate_per_minute") * F("billed_seconds") / 60),
                name="consultation_charged_exactly_to_the_second",
            ),
            models.CheckConstraint(
                condition=Q(commission_amount__gte=0)
                & Q(consultant_amount__gte=0)
                & Q(total_amount=F("commission_amount") + F("consultant_amount")),
                name="consultation_charge_legs_add_up",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "declined", "cancelled", "expired"])
                | Q(started_at__isnull=False),
                name="consultation_started_when_accepted",
            ),
        ]
        indexes = [
            # The billing tick walks the active rows in id order.
            models.Index(fields=["id"], name="consultation_active", condition=Q(status="active")),
            # The sweep every second finds the rows whose end has come.
            models.Index(
                fields=["ends_at"], name="consultation_ends_at", condition=Q(status="active")
            ),
            # The watchdog finds stale requests.
            models.Index(
                fields=["requested_at"], name="consultation_pending", condition=Q(status="pending")
            ),
            models.Index(fields=["client", "-created_at"], name="consultation_client_time"),
            models.Index(fields=["consultant", "-created_at"], name="consultation_consult_time"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} consultation {self.id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ConsultationEvent(models.Model):
    """The audit row of one transition: who moved the consultation from what to what, and why."""

    consultation = models.ForeignKey(Consultation, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True, default="")
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(from_status__in=["", *Status.values]) & Q(to_status__in=Status.values),
                name="consultation_event_status_known",
            ),
        ]
        indexes = [models.Index(fields=["consultation", "at"], name="consultation_event_time")]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.reason})"
