"""Wallets: a double-entry ledger in paise, payments through the gateway, refunds.

Design overview
---------------
* An `Account` is one book of the ledger: a user's wallet (`kind=user_wallet`, one per user) or
  a system account (platform revenue, gateway clearing, payouts in flight, adjustments), one per
  kind. Sign convention: what the platform owes a user is positive on that user's wallet; the
  money sitting at the gateway is negative on `gateway_clearing`. The sum of every account's
  balance is therefore always zero.
* A `LedgerTransaction` is one movement of money: two or more `LedgerEntry` legs whose amounts
  sum to zero. Every transaction has a unique idempotency key, so a retried request, a
  duplicated webhook or a repeated task finds the key and moves nothing.
* `Account.balance` caches the sum of the account's entries (written under a row lock by the
  services); `Account.held` is what open `Hold`s reserve. `available = balance - held`.
* Entries are never updated or deleted: a mistake is mended by a reversing transaction.

What PostgreSQL enforces by itself (the migrations create the triggers):
`ledger_transaction_balanced` (a deferred constraint trigger: the legs of a transaction sum to
zero at commit, and there are at least two: `ledger_transaction_two_legs`),
`ledger_entry_immutable` and `ledger_transaction_immutable` (UPDATE/DELETE of an entry or a
transaction is refused), a `*_status_known` CHECK on every status column,
`wallet_balance_non_negative`, `wallet_held_non_negative`, `wallet_held_within_balance`,
unique idempotency keys. The services check each rule in Python first so a user gets a clean
error code, never an `IntegrityError`.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class AccountKind(models.TextChoices):
    USER_WALLET = "user_wallet", "User wallet"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    GATEWAY_CLEARING = "gateway_clearing", "Gateway clearing"
    PAYOUTS_IN_FLIGHT = "payouts_in_flight", "Payouts in flight"
    PLATFORM_ADJUSTMENTS = "platform_adjustments", "Platform adjustments"
    # Bookings paid and not yet settled or refunded (the bookings app's escrow).
    BOOKINGS_HELD = "bookings_held", "Bookings held"
    # The platform's expense: what the gateways keep of each captured payment (fee and tax).
    GATEWAY_FEES = "gateway_fees", "Gateway fees"


SYSTEM_ACCOUNT_KINDS = [k.value for k in AccountKind if k != AccountKind.USER_WALLET]


class EntryKind(models.TextChoices):
    """The kind of one leg. The first nine are what a user sees (CONTRACT.md `transaction`)."""

    RECHARGE = "recharge", _("Recharge")
    CONSULTATION_CHARGE = "consultation_charge", _("Consultation charge")
    CONSULTATION_EARNING = "consultation_earning", _("Consultation earning")
    REFUND = "refund", _("Refund")
    PAYOUT = "payout", _("Payout")
    ADJUSTMENT = "adjustment", _("Adjustment")
    BOOKING_CHARGE = "booking_charge", _("Booking charge")
    BOOKING_EARNING = "booking_earning", _("Booking earning")
    BOOKING_REFUND = "booking_refund", _("Booking refund")
    # System legs.
    COMMISSION = "commission", _("Commission")
    CLEARING = "clearing", _("Gateway clearing")
    PAYOUT_CLEARING = "payout_clearing", _("Payout clearing")
    GATEWAY_FEE = "gateway_fee", _("Gateway fee")


USER_ENTRY_KINDS = [
    EntryKind.RECHARGE,
    EntryKind.CONSULTATION_CHARGE,
    EntryKind.CONSULTATION_EARNING,
    EntryKind.REFUND,
    EntryKind.PAYOUT,
    EntryKind.ADJUSTMENT,
    EntryKind.BOOKING_CHARGE,
    EntryKind.BOOKING_EARNING,
    EntryKind.BOOKING_REFUND,
]


class Account(models.Model):
    """A book of the ledger; for a user, their wallet (`wallets.services.wallet_for`)."""

    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wallet",
    )
    # Paise. The sum of this account's entries; written only by wallets.services under a lock.
    balance = models.BigIntegerField(default=0)
    # Paise reserved by open holds (consultations, payout requests).
    held = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in AccountKind]), name="account_kind_known"
            ),
            models.CheckConstraint(
                condition=(Q(kind=AccountKind.USER_WALLET) & Q(user__isnull=False))
                | (~Q(kind=AccountKind.USER_WALLET) & Q(user__isnull=True)),
                name="account_user_iff_user_wallet",
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(user__isnull=True), name="system_account_one_per_kind"
            ),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.USER_WALLET) | Q(balance__gte=0),
                name="wallet_balance_non_negative",
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="wallet_held_non_negative"),
            models.CheckConstraint(
                condition=~Q(kind=AccountKind.USER_WALLET) | Q(held__lte=F("balance")),
                name="wallet_held_within_balance",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == AccountKind.USER_WALLET:
            return f"wallet of {self.user_id}"
        return self.kind

    @property
    def available(self) -> int:
        return self.balance - self.held

    @property
    def is_user_wallet(self) -> bool:
        return self.kind == AccountKind.USER_WALLET


class LedgerTransaction(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=32)
    # Unique by the constraint below, not `unique=True`: on PostgreSQL that also makes a second
    # index (`varchar_pattern_ops`, for `LIKE 'prefix%'`) that no query uses and every posting
    # pays for (migration 0012).
    idempotency_key = models.CharField(max_length=255)
    reference_type = models.CharField(max_length=32, blank=True, default="")
    reference_id = models.CharField(max_length=64, blank=True, default="")
    description = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["reference_type", "reference_id"], name="ledger_txn_reference"),
            models.Index(fields=["created_at"], name="ledger_txn_created"),
        ]
        constraints = [
            # The name of the constraint `unique=True` made (migration 0001): the same index.
            models.UniqueConstraint(
                fields=["idempotency_key"], name="wallets_ledgertransaction_idempotency_key_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


class LedgerEntry(models.Model):
    """One leg. `public_id` is the `id` of a user's `transaction` (CONTRACT.md); `id` orders
    the legs as they were posted (a batch posts many with one timestamp)."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Both references are checked by the database for a whole INSERT at once, not per row
    # (`db_constraint=False`, migration 0010: a foreign key's check is one query per entry at
    # commit, 15-20 % of a billing tick); `account`'s own index would repeat the first column
    # of the two indexes below.
    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField(max_length=32, choices=EntryKind.choices)
    amount = models.BigIntegerField()  # paise, signed: + credits the account, - debits it
    balance_after = models.BigIntegerField()  # the account's balance right after this leg
    created_at = models.DateTimeField()  # the transaction's, copied for the account's history

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_non_zero"),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="ledger_entry_account_time"),
            models.Index(fields=["account", "kind"], name="ledger_entry_account_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} on {self.account_id}"

    @property
    def direction(self) -> str:
        return "credit" if self.amount > 0 else "debit"


class HoldStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Hold(models.Model):
    """Money reserved on a wallet; `Account.held` is the sum of open holds' `remaining`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.BigIntegerField()  # paise first reserved
    remaining = models.BigIntegerField()  # paise still reserved
    status = models.CharField(max_length=8, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    idempotency_key = models.CharField(max_length=255, unique=True)
    reference_type = models.CharField(max_length=32, blank=True, default="")
    reference_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="hold_remaining_within_amount",
            ),
            models.CheckConstraint(
                condition=~Q(status=HoldStatus.CLOSED) | Q(remaining=0),
                name="hold_closed_holds_nothing",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in HoldStatus]), name="hold_status_known"
            ),
        ]
        indexes = [
            models.Index(
                fields=["account"], condition=Q(status="open"), name="hold_open_per_account"
            ),
            models.Index(fields=["reference_type", "reference_id"], name="hold_reference"),
        ]

    def __str__(self) -> str:
        return f"hold {self.remaining}/{self.amount} on {self.account_id}"


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    CAPTURED = "captured", _("Captured")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


CREDITED_PAYMENT_STATUSES = [
    PaymentStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
]


class Payment(models.Model):
    """A wallet recharge through the gateway: one gateway order, credited at most once."""

    # Stripe's client secret, set on the instance for one request by wallets.payments (read with
    # getattr: often absent); never a column. An annotation only: no attribute is made here.
    client_secret: str | None

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    gateway = models.CharField(max_length=16, default="razorpay")
    # Unique among the orders' first payments; a second payment captured on an order already
    # credited is a row of its own (`duplicate_of` the first), credited as the client's money.
    gateway_order_id = models.CharField(max_length=64)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates"
    )
    gateway_payment_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    amount = models.BigIntegerField()  # paise
    amount_refunded = models.BigIntegerField(default=0)  # paise, refunds written (pending too)
    # The gateway's charges for this payment as it reports them (null until known): `fee` is
    # the whole charge, tax included, `tax` the part of it that is tax (Razorpay's payment
    # entity and Stripe's balance transaction both report them so). Posted once as a platform
    # expense (wallets/fees.py).
    fee = models.BigIntegerField(null=True, blank=True)
    tax = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="INR")
    status = models.CharField(
        max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(fee__isnull=True, tax__isnull=True)
                | Q(fee__gte=0, tax__gte=0, tax__lte=F("fee")),
                name="payment_fee_includes_tax",
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("amount")),
                name="payment_refunds_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in PaymentStatus]),
                name="payment_status_known",
            ),
            models.UniqueConstraint(
                fields=["gateway_order_id"],
                condition=Q(duplicate_of__isnull=True),
                name="payment_one_per_order",
            ),
            models.CheckConstraint(
                condition=Q(duplicate_of__isnull=True) | ~Q(status=PaymentStatus.CREATED),
                name="payment_duplicate_is_captured",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="payment_user_time"),
            models.Index(fields=["gateway_order_id"], name="payment_order"),
            # reconcile_payments: the uncredited payments, newest first.
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(status__in=["created", "failed"]),
                name="payment_uncredited_time",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.gateway_order_id} ({self.status})"

    @property
    def refundable(self) -> int:
        return self.amount - self.amount_refunded


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # written, money taken from the wallet, gateway not yet sure
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")  # the gateway refused: the wallet was credited back


class Refund(models.Model):
    """A refund of a payment back through the gateway.

    The row (with its unique key) is committed before the gateway is called, so a retry after a
    timeout finds it and asks the gateway about it instead of refunding a second time.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()  # paise
    reason = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(
        max_length=12, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    idempotency_key = models.CharField(max_length=255, unique=True)
    gateway_refund_id = models.CharField(max_length=64, blank=True, default="")
    # How many times the gateway was asked to make this refund, counted when a worker claims
    # the row (compare-and-set on this count), BEFORE the call: a worker killed mid-call
    # leaves a count the next one sees, so it asks the gateway what happened before sending.
    attempts = models.PositiveIntegerField(default=0)
    # While set and in the future, one worker owns the row (it is talking to the gateway).
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in RefundStatus]),
                name="refund_status_known",
            ),
        ]
        indexes = [
            models.Index(
                fields=["updated_at"], condition=Q(status="pending"), name="refund_pending_time"
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} of {self.payment_id} ({self.status})"

    @property
    def currency(self) -> str:
        return settings.CURRENCY


class WebhookEvent(models.Model):
    """A gateway webhook, stored once by its event id (duplicates are answered and ignored)."""

    event_id = models.CharField(max_length=128, unique=True)
    event = models.CharField(max_length=64, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=64, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.event} {self.event_id}"


class IdempotencyRecord(models.Model):
    """The first answer to a money-moving POST, replayed for the same `Idempotency-Key`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=255)  # method and path of the request
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null: in progress
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    locked_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "key"], name="idempotency_key_unique_per_user_scope"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class FrozenWallet(models.Model):
    """A wallet an operator froze (a fraud or dispute hold, CONTRACT.md "Wallet and payments"):
    the row exists while it is frozen. Its history is `WalletStatusChange`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="frozen_wallet"
    )
    reason = models.CharField(max_length=500)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    frozen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"wallet of {self.user_id} frozen: {self.reason[:40]}"


class WalletStatusChange(models.Model):
    """The audit of freezes and unfreezes: who, when, why. Never updated or deleted."""

    class Action(models.TextChoices):
        FREEZE = "freeze", "Freeze"
        UNFREEZE = "unfreeze", "Unfreeze"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=8, choices=Action.choices)
    reason = models.CharField(max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["freeze", "unfreeze"]),
                name="wallet_status_change_action_known",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"], name="wallet_status_change_user")]

    def __str__(self) -> str:
        return f"{self.action} {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"
