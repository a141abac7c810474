"""Scheduled bookings: session types, weekly schedules, bookings paid up front.

Design overview
---------------
* A `SessionType` is what a consultant sells: a title, a channel, a length (15-240 minutes)
  and a price (paise). Deleting one only deactivates it; a `Booking` copies the terms it was
  made on (title, channel, minutes, price, commission), so later edits never change it.
* A `Schedule` is a consultant's weekly hours in their own IANA time zone (`weekly`: ranges
  `{weekday, start, end}`, an end of `24:00` joining the next day's `00:00`), the local dates
  they are away (`unavailable_dates`), how much notice they need and how far ahead they may
  be booked. Free slots are computed from it (`bookings.slots`), never stored.
* A `Booking` holds one consultant's time range `[start_at, end_at)`. While `pending`,
  `confirmed` or `in_progress` no other booking of the consultant may overlap it: on PostgreSQL
  an exclusion constraint (`booking_no_overlap_per_consultant`, btree_gist) is the truth; the
  Python check in `bookings.services` runs first so a caller gets 409 `slot_unavailable`.
* Money (`bookings.money`): paying moves the price from the client's wallet to the platform's
  `bookings_held` account (`booking_charge`); when the booking ends, what is kept goes to the
  consultant less the commission fixed at booking (`booking_earning` + `commission`), what is
  refunded goes back to the client (`booking_refund`). Each posting has its own idempotency key
  (`wallets.keys`), so every step moves money once.
* Lifecycle: `pending` (a gateway payment is awaited) -> `confirmed` (paid) -> `in_progress`
  (both joined) -> `completed`; `pending` may become `expired`; `pending`/`confirmed` may
  become `cancelled`; `confirmed` may become `no_show`. Every transition writes a
  `BookingEvent` (the audit row) and announces `booking_updated` after commit.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from consultants.models import Channel

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 240
MIN_PRICE = 100  # paise
MAX_PRICE = 10_000_000  # paise


class SessionType(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consultant = models.ForeignKey(
        "consultants.ConsultantProfile", on_delete=models.CASCADE, related_name="session_types"
    )
    title = models.CharField(max_length=120)
    description = models.TextField(max_length=2000, blank=True, default="")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    duration_minutes = models.PositiveSmallIntegerField()
    price = models.BigIntegerField()  # paise
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=MIN_DURATION_MINUTES)
                & Q(duration_minutes__lte=MAX_DURATION_MINUTES),
                name="session_type_duration_15_to_240",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=MIN_PRICE) & Q(price__lte=MAX_PRICE),
                name="session_type_price_in_range",
            ),
        ]
        indexes = [models.Index(fields=["consultant", "created_at"], name="session_type_owner")]

    def __str__(self) -> str:
        return f"{self.title} ({self.duration_minutes} min)"


class Schedule(models.Model):
    consultant = models.OneToOneField(
        "consultants.ConsultantProfile", on_delete=models.CASCADE, related_name="schedule"
    )
    timezone = models.CharField(max_length=64, default="Asia/Kolkata")
    # [{"weekday": 0-6 (0 = Monday), "start": "HH:MM", "end": "HH:MM" or "24:00"}], sorted.
    weekly = models.JSONField(default=list, blank=True)
    unavailable_dates = models.JSONField(default=list, blank=True)  # ["YYYY-MM-DD"], sorted
    min_notice_hours = models.PositiveSmallIntegerField(default=2)
    horizon_days = models.PositiveSmallIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_notice_hours__lte=168), name="schedule_min_notice_within_168"
            ),
            models.CheckConstraint(
                condition=Q(horizon_days__gte=1) & Q(horizon_days__lte=365),
                name="schedule_horizon_1_to_365",
            ),
        ]

    def __str__(self) -> str:
        return f"schedule of {self.consultant_id} ({self.timezone})"


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONFIRMED = "confirmed", _("Confirmed")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    NO_SHOW = "no_show", _("No-show")


# The statuses that hold the consultant's time (the slots and the exclusion constraint).
HOLDING_STATUSES = [Status.PENDING, Status.CONFIRMED, Status.IN_PROGRESS]
FINAL_STATUSES = [Status.COMPLETED, Status.CANCELLED, Status.EXPIRED, Status.NO_SHOW]


class PaymentMethod(models.TextChoices):
    WALLET = "wallet", _("Wallet")
    GATEWAY = "gateway", _("Card / UPI")
    SPLIT = "split", _("Wallet and card")


class Party(models.TextChoices):
    CLIENT = "client", _("Client")
    CONSULTANT = "consultant", _("Consultant")


class Booking(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    consultant = models.ForeignKey(
        "consultants.ConsultantProfile", on_delete=models.PROTECT, related_name="bookings"
    )
    session_type = models.ForeignKey(SessionType, on_delete=models.PROTECT, related_name="+")
    # The terms, copied from the session type when booked.
    title = models.CharField(max_length=120)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    duration_minutes = models.PositiveSmallIntegerField()
    price = models.BigIntegerField()  # paise
    currency = models.CharField(max_length=3, default="INR")
    commission_percent = models.PositiveSmallIntegerField()

    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    goals = models.TextField(max_length=2000, blank=True, default="")
    payment_method = models.CharField(max_length=8, choices=PaymentMethod.choices)
    # The gateway order of a `gateway` (or `split`) booking; null for `wallet`.
    payment = models.OneToOneField(
        "wallets.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="booking"
    )
    # A `split` booking's hold on the wallet's part, until the gateway's part arrives.
    hold = models.ForeignKey(
        "wallets.Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)  # a pending one, unpaid by then
    paid_at = models.DateTimeField(null=True, blank=True)
    refund_amount = models.BigIntegerField(default=0)  # paise back to the client
    settled_at = models.DateTimeField(null=True, blank=True)  # the money moved at the end
    cancelled_by = models.CharField(  # noqa: DJ001 - null: not cancelled, or by an operator
        max_length=12, choices=Party.choices, null=True, blank=True
    )
    cancel_reason = models.CharField(max_length=500, blank=True, default="")
    no_show_by = models.CharField(  # noqa: DJ001 - null: not a no-show
        max_length=12, choices=Party.choices, null=True, blank=True
    )
    client_joined_at = models.DateTimeField(null=True, blank=True)
    consultant_joined_at = models.DateTimeField(null=True, blank=True)
    consultation = models.OneToOneField(
        "consultations.Consultation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="booking",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="booking_status_known"
            ),
            models.CheckConstraint(
                condition=Q(end_at__gt=F("start_at")), name="booking_ends_after_it_starts"
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="booking_price_positive"),
            models.CheckConstraint(
                condition=Q(refund_amount__gte=0) & Q(refund_amount__lte=F("price")),
                name="booking_refund_within_price",
            ),
            models.CheckConstraint(
                condition=Q(commission_percent__lte=100),
                name="booking_commission_percent_within_100",
            ),
            models.CheckConstraint(
                condition=~Q(payment_method="wallet") | Q(payment__isnull=True),
                name="booking_wallet_has_no_payment",
            ),
        ]
        indexes = [
            # The slots: one consultant's holding bookings near a range.
            models.Index(
                fields=["consultant", "start_at"],
                name="booking_consultant_time",
                condition=Q(status__in=["pending", "confirmed", "in_progress"]),
            ),
            models.Index(fields=["client", "start_at"], name="booking_client_time"),
            models.Index(fields=["status", "start_at"], name="booking_status_time"),
        ]

    def __str__(self) -> str:
        return f"booking {self.id} {self.title} at {self.start_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def kept_amount(self) -> int:
        return self.price - self.refund_amount


class BookingEvent(models.Model):
    """The audit row of one transition (or money step): who, from what to what, why, and the
    money it moved."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, blank=True, default="")
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["booking", "at"], name="booking_event_time")]

    def __str__(self) -> str:
        return f"{self.from_status or '-'} -> {self.to_status} ({self.reason})"


class Notice(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"
    REMINDER_24H = "reminder_24h", "Reminder 24 h"
    REMINDER_15M = "reminder_15m", "Reminder 15 min"


class BookingEmail(models.Model):
    """One email event of a booking (to both participants), written once in the transaction of
    the event (unique per booking and event), sent by Celery after commit; `sent_at` set by a
    compare-and-set claim, so a retried or repeated task never sends twice."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="emails")
    notice = models.CharField(max_length=16, choices=Notice.choices)
    created_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["booking", "notice"], name="booking_email_once"),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                name="booking_email_unsent",
                condition=Q(sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice} email of {self.booking_id}"
