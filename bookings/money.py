"""The money of bookings, through the wallets' posting engine (one key per step).

* `charge`: the price from the client's wallet to the platform's `bookings_held` account
  (`booking_charge`), when the booking is paid. Raises `InsufficientFunds` (402) if the
  wallet's available balance cannot cover it; a `split` booking's hold is consumed by it (the
  held part and the gateway part, just credited as a recharge, leave in this one posting).
* `settle`: when the booking ends, in ONE batch (every account locked once, in lock order):
  the refund back to the client (`booking_refund`) and the kept part to the consultant less
  the commission fixed at booking (`booking_earning`, and `commission` to platform revenue).
  Either part may be zero. The keys make a repeat post nothing.

Nothing here locks the booking: the callers (`bookings.services`) hold its row.
"""

from __future__ import annotations

from django.db.models import F, Sum

from bookings.models import Booking, PaymentMethod, Status
from wallets import keys
from wallets.models import Account, AccountKind, EntryKind, HoldStatus, LedgerEntry
from wallets.reconcile import Report
from wallets.services import (
    Leg,
    Posting,
    commission_for,
    post_transaction,
    post_transactions_batch,
    system_account,
    wallet_for,
)

REFERENCE = "booking"


def charge(booking: Booking) -> None:
    post_transaction(
        kind=EntryKind.BOOKING_CHARGE,
        legs=[
            Leg(wallet_for(user=booking.client), -booking.price, EntryKind.BOOKING_CHARGE),
            Leg(system_account(AccountKind.BOOKINGS_HELD), booking.price, EntryKind.BOOKING_CHARGE),
        ],
        idempotency_key=keys.booking_charge(booking.id),
        reference_type=REFERENCE,
        reference_id=str(booking.id),
        description=f"Booking: {booking.title}"[:255],
        consume_hold=booking.hold,
    )


def settle(booking: Booking) -> None:
    """Moves what the booking holds: `refund_amount` back to the client, the rest to the
    consultant and the platform. Call once the booking's final status and refund are set."""
    held = system_account(AccountKind.BOOKINGS_HELD)
    postings = []
    if booking.refund_amount:
        postings.append(
            Posting(
                kind=EntryKind.BOOKING_REFUND,
                legs=[
                    Leg(held, -booking.refund_amount, EntryKind.BOOKING_REFUND),
                    Leg(
                        wallet_for(user=booking.client),
                        booking.refund_amount,
                        EntryKind.BOOKING_REFUND,
                    ),
                ],
                idempotency_key=keys.booking_refund(booking.id),
                reference_type=REFERENCE,
                reference_id=str(booking.id),
                description=f"Booking refund: {booking.title}"[:255],
            )
        )
    kept = booking.kept_amount
    if kept:
        commission = commission_for(kept, percent=booking.commission_percent)
        legs = [Leg(held, -kept, EntryKind.BOOKING_EARNING)]
        if kept - commission:
            legs.append(
                Leg(
                    wallet_for(user=booking.consultant.user),
                    kept - commission,
                    EntryKind.BOOKING_EARNING,
                )
            )
        if commission:
            legs.append(
                Leg(system_account(AccountKind.PLATFORM_REVENUE), commission, EntryKind.COMMISSION)
            )
        postings.append(
            Posting(
                kind=EntryKind.BOOKING_EARNING,
                legs=legs,
                idempotency_key=keys.booking_settlement(booking.id),
                reference_type=REFERENCE,
                reference_id=str(booking.id),
                description=f"Booking: {booking.title}"[:255],
            )
        )
    post_transactions_batch(postings=postings)


# --- reconcile_ledger -------------------------------------------------------------------------


def check_books(report: Report) -> None:
    """`reconcile_ledger`'s bookings part: the platform's `bookings_held` balance is the price
    of every booking paid and not yet settled; every settled booking moved exactly its price
    out again (refund + kept)."""
    account = Account.objects.filter(kind=AccountKind.BOOKINGS_HELD, user__isnull=True).first()
    balance = account.balance if account is not None else 0
    unsettled = (
        Booking.objects.filter(paid_at__isnull=False, settled_at__isnull=True).aggregate(
            total=Sum("price")
        )["total"]
        or 0
    )
    if balance != unsettled:
        report.violations.append(
            f"bookings held {balance} != the bookings paid and not settled {unsettled}"
        )
    charged = -(
        LedgerEntry.objects.filter(
            kind=EntryKind.BOOKING_CHARGE, account__kind=AccountKind.USER_WALLET
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    paid = Booking.objects.filter(paid_at__isnull=False).aggregate(total=Sum("price"))["total"]
    if charged != (paid or 0):
        report.violations.append(f"booking charges {charged} != the bookings paid {paid or 0}")
    refunds = (
        LedgerEntry.objects.filter(
            kind=EntryKind.BOOKING_REFUND, account__kind=AccountKind.USER_WALLET
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    promised = (
        Booking.objects.filter(settled_at__isnull=False).aggregate(total=Sum("refund_amount"))[
            "total"
        ]
        or 0
    )
    if refunds != promised:
        report.violations.append(f"booking refunds {refunds} != the refunds settled {promised}")
    open_statuses = [Status.PENDING, Status.CONFIRMED, Status.IN_PROGRESS]
    if Booking.objects.filter(settled_at__isnull=False, status__in=open_statuses).exists():
        report.violations.append("a booking was settled before it ended")
    report.checked.append("bookings held equal the bookings paid and not yet settled")
    _check_split_holds(report)


def _check_split_holds(report: Report) -> None:
    """A `split` booking's hold reserves its wallet part (the price less its gateway order)
    while it is pending, and nothing once it is not: consumed by its charge, or released when
    it expired or was cancelled. A hold left open is money the client cannot spend."""
    unheld = (
        Booking.objects.filter(status=Status.PENDING, payment_method=PaymentMethod.SPLIT)
        .exclude(
            hold__status=HoldStatus.OPEN,
            hold__remaining=F("price") - F("payment__amount"),
        )
        .values_list("id", flat=True)[:10]
    )
    for booking_id in unheld:
        report.violations.append(
            f"pending split booking {booking_id} does not hold its wallet part"
        )
    leftover = (
        Booking.objects.filter(hold__status=HoldStatus.OPEN)
        .exclude(status=Status.PENDING)
        .values_list("id", flat=True)[:10]
    )
    for booking_id in leftover:
        report.violations.append(f"booking {booking_id} still holds money after it was pending")
    report.checked.append("split bookings hold their wallet part while pending, nothing after")
