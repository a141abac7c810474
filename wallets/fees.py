"""Gateway fees in the books: what the gateway keeps of each captured payment.

The platform bears the gateway's charges. When they are known (Razorpay's payment entity carries
`fee` and `tax`; Stripe's charge has them on its balance transaction) they are written on the
payment once and posted once as a platform expense:

    gateway fees (platform expense)  -fee
    gateway clearing                 +fee     (the gateway settles the payment less its fee)

`fee` is the gateway's whole charge, tax included; `tax` the part of it that is tax (both
gateways report them so), kept for the accounts. The posting's key `gateway-fee:<payment id>`
and a compare-and-set on `Payment.fee` make it happen once whoever records it: the Razorpay
webhook (the fee is in its payload), the Stripe webhook handler (asking Stripe after the credit
commits), or `collect_missing_fees` (run by `reconcile_payments`) for those still unknown.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from wallets import keys
from wallets.gateway import GatewayError, get_gateway
from wallets.models import (
    CREDITED_PAYMENT_STATUSES,
    AccountKind,
    EntryKind,
    LedgerEntry,
    Payment,
)
from wallets.services import Leg, post_transaction, system_account

logger = logging.getLogger(__name__)

FEE_REFERENCE = "payment"


def record_fee(*, payment_id, fee: int, tax: int) -> bool:
    """Writes the payment's `fee` and `tax` (paise) and posts `fee` as a platform expense, once.
    Call it inside the caller's transaction or alone. Returns True if this call recorded them."""
    if not (isinstance(fee, int) and isinstance(tax, int) and 0 <= tax <= fee):
        raise ValueError("fee and tax are int paise with 0 <= tax <= fee")
    with transaction.atomic():
        # Compare-and-set: the first recorder wins; a repeat (or a racing twin) moves nothing.
        moved = Payment.objects.filter(
            id=payment_id, fee__isnull=True, status__in=CREDITED_PAYMENT_STATUSES
        ).update(fee=fee, tax=tax, updated_at=timezone.now())
        if not moved:
            return False
        if fee:
            post_transaction(
                kind=EntryKind.GATEWAY_FEE,
                legs=[
                    Leg(system_account(AccountKind.GATEWAY_FEES), -fee, EntryKind.GATEWAY_FEE),
                    Leg(system_account(AccountKind.GATEWAY_CLEARING), fee, EntryKind.CLEARING),
                ],
                idempotency_key=keys.gateway_fee(payment_id),
                reference_type=FEE_REFERENCE,
                reference_id=str(payment_id),
                description=f"Gateway fee (tax {tax} paise included)",
            )
    return True


def collect_fee(*, payment: Payment) -> bool:
    """Asks the gateway for a captured payment's fee (outside any transaction) and records it.
    False when the gateway does not know it yet or does not answer (reconciliation asks again)."""
    if payment.fee is not None or not payment.gateway_payment_id:
        return False
    try:
        found = get_gateway().fetch_fees(payment.gateway_payment_id)
    except GatewayError as exc:
        logger.warning("could not ask for %s's fee: %s", payment.gateway_payment_id, exc)
        return False
    if found is None:
        return False
    return record_fee(payment_id=payment.id, fee=found[0], tax=found[1])


def collect_missing_fees(*, since: timedelta = timedelta(days=7), limit: int = 500) -> int:
    """Records the fees of recent captured payments whose fee is still unknown. Returns how many
    it recorded."""
    cutoff = timezone.now() - since
    recorded = 0
    missing = Payment.objects.filter(
        fee__isnull=True,
        status__in=CREDITED_PAYMENT_STATUSES,
        captured_at__gte=cutoff,
        gateway_payment_id__isnull=False,
    ).order_by("-captured_at")[:limit]
    for payment in missing:
        recorded += collect_fee(payment=payment)
    return recorded


def fees_total(**filters) -> int:
    """Paise the gateways kept (the platform's expense), over the fee legs matching `filters`."""
    legs = LedgerEntry.objects.filter(
        kind=EntryKind.GATEWAY_FEE, account__kind=AccountKind.GATEWAY_FEES, **filters
    )
    return -(legs.aggregate(total=Sum("amount"))["total"] or 0)
