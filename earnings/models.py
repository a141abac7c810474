"""Earnings: what each consultation earned its consultant, and the payouts they ask for.

Design overview
---------------
* A booking's earning (`booking_id`, no consultation) is written once, when the booking's money
  is settled (`record_booking_earning`): its kept part less the commission.
* An `Earning` is written once per consultation that took place (`ended` or `force_ended`), in
  the transaction that ends it (the receiver of `consultations.signals.consultation_ended`). Its
  figures are the consultation's own billing totals: `gross` (what the client paid), `commission`
  (the platform's legs) and `net` (the consultant's legs), so `gross = commission + net`.
* Refunds: an admin's refund of a consultation (`consultations.refunds`) reverses part of the
  consultant's earning and of the commission in one ledger transaction. The `Earning` row is
  kept NET OF REFUNDS: the same transaction lowers `gross`, `commission` and `net` by the
  reversed parts and adds the refunded amount to `refunded`. So, for every consultant,
  `sum(net)` equals their `consultation_earning` legs less their refund reversals in the
  ledger, and the summary agrees with the books. A refund changes the row in place; the row
  keeps its `created_at` (when the consultation ended), so "today's earnings" count a refund
  against the day the consultation was earned.
* A `Payout` is a consultant's request to be paid `amount` paise. Requesting it HOLDS the amount
  on their wallet (`wallets.services.hold`); an admin then marks it `paid` (a `payout` ledger
  transaction: wallet -> payouts in flight, consuming the hold) or `rejected` (the hold is
  released). Both are final.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Earning(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # What earned it: a consultation billed by the second, or a booking (bookings.Booking's id;
    # no foreign key: the bookings app sits above this one) with its consultation if it had one.
    consultation = models.OneToOneField(
        "consultations.Consultation",
        on_delete=models.PROTECT,
        related_name="earning",
        null=True,
        blank=True,
    )
    booking_id = models.UUIDField(null=True, blank=True, unique=True)
    consultant = models.ForeignKey(
        "consultants.ConsultantProfile", on_delete=models.PROTECT, related_name="earnings"
    )
    # Paise, net of refunds (see the overview).
    gross = models.BigIntegerField()
    commission = models.BigIntegerField()
    net = models.BigIntegerField()
    refunded = models.BigIntegerField(default=0)  # paise of `gross` refunded to the client
    seconds = models.BigIntegerField()  # billed seconds
    created_at = models.DateTimeField()  # when the consultation ended

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(gross=F("commission") + F("net")),
                name="earning_gross_is_commission_plus_net",
            ),
            models.CheckConstraint(
                condition=Q(commission__gte=0) & Q(net__gte=0) & Q(refunded__gte=0),
                name="earning_figures_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(seconds__gte=0), name="earning_seconds_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(consultation__isnull=False) | Q(booking_id__isnull=False),
                name="earning_for_a_consultation_or_a_booking",
            ),
        ]
        indexes = [
            models.Index(fields=["consultant", "-created_at"], name="earning_consultant_time"),
        ]

    def __str__(self) -> str:
        return f"earning {self.net} of {self.consultation_id}"


class PayoutStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    PAID = "paid", _("Paid")
    REJECTED = "rejected", _("Rejected")


class Payout(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount = models.BigIntegerField()  # paise
    status = models.CharField(
        max_length=12, choices=PayoutStatus.choices, default=PayoutStatus.REQUESTED
    )
    hold = models.ForeignKey(
        "wallets.Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    transaction = models.ForeignKey(
        "wallets.LedgerTransaction",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in PayoutStatus]),
                name="payout_status_known",
            ),
            models.CheckConstraint(
                condition=~Q(status=PayoutStatus.PAID) | Q(transaction__isnull=False),
                name="payout_paid_has_its_transaction",
            ),
        ]
        indexes = [
            models.Index(fields=["consultant", "-created_at"], name="payout_consultant_time"),
            models.Index(
                fields=["consultant"], condition=Q(status="requested"), name="payout_requested"
            ),
        ]

    def __str__(self) -> str:
        return f"payout {self.amount} ({self.status})"
