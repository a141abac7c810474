"""Payment services: recharge, verify, webhook, refunds, reconciliation with the gateway.

The gateway is always called OUTSIDE a database transaction. Exactly-once crediting: a payment
row is locked and moved from `created` (or `failed`) to `captured` in the same transaction as
its ledger credit, whose idempotency key `recharge:<payment id>` is unique; whichever of verify,
webhook or `reconcile_payments` comes first credits, the others find it done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config import metrics
from config.errors import Invalid, NotFound
from wallets import keys
from wallets.errors import GatewayUnavailable, InvalidSignature, RefundExceedsPayment
from wallets.freezes import check_not_frozen
from wallets.gateway import GatewayDeclined, GatewayError, GatewayTimeout, get_gateway
from wallets.models import (
    CREDITED_PAYMENT_STATUSES,
    AccountKind,
    EntryKind,
    LedgerEntry,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from wallets.services import Leg, post_transaction, system_account, wallet_for

logger = logging.getLogger(__name__)

MIN_RECHARGE = 100  # paise
MAX_RECHARGE = 10_000_000  # paise
PAYMENT_REFUND_REFERENCE = "payment_refund"


# --- Hooks -------------------------------------------------------------------------------------

# Apps above this one react to a captured payment inside the transaction that credits it (the
# bookings app confirms the booking an order was made for) without this app importing them.
# Each hook runs in a savepoint of its own: one that raises is rolled back alone and logged, and
# the credit stands (the money is the client's, in their wallet, whatever the hook did).
CaptureHook = Callable[[Payment], None]
_capture_hooks: dict[str, CaptureHook] = {}


def on_payment_captured(hook: CaptureHook, *, uid: str) -> None:
    """Registers `hook(payment)` (idempotent per `uid`; call it from an `AppConfig.ready`)."""
    _capture_hooks[uid] = hook


def _run_capture_hooks(payment: Payment) -> None:
    for uid, hook in list(_capture_hooks.items()):
        try:
            with transaction.atomic():
                hook(payment)
        except Exception:  # noqa: BLE001 - the credit stands; the hook has its own catch-up
            logger.exception("payment capture hook %s failed for %s", uid, payment.id)


# --- Recharge ---------------------------------------------------------------------------------


def create_recharge(*, user, amount: int) -> Payment:
    """Opens a gateway order for `amount` paise and records the payment as `created`.

    Calls the gateway first (outside any transaction), then writes the row. Raises
    `GatewayUnavailable` (502) if the gateway fails.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError("amount is int paise")
    if not MIN_RECHARGE <= amount <= MAX_RECHARGE:
        raise ValueError(f"a recharge is {MIN_RECHARGE} to {MAX_RECHARGE} paise")
    check_not_frozen(user=user)  # 423 wallet_frozen
    payment_id = uuid.uuid4()
    try:
        order = get_gateway().create_order(
            amount=amount,
            currency=settings.CURRENCY,
            receipt=str(payment_id),
            notes={"payment_id": str(payment_id), "user_id": str(user.id)},
        )
    except GatewayError as exc:
        logger.warning("gateway order for %s failed: %s", payment_id, exc)
        raise GatewayUnavailable() from exc
    wallet_for(user=user)
    metrics.payment_status(PaymentStatus.CREATED)
    return Payment.objects.create(
        id=payment_id,
        user=user,
        gateway_order_id=order.id,
        amount=amount,
        currency=settings.CURRENCY,
    )


def recharge_entry(payment: Payment) -> LedgerEntry | None:
    """The user's `recharge` leg for a credited payment."""
    return (
        LedgerEntry.objects.filter(
            transaction__idempotency_key=keys.recharge(payment.id), account__user_id=payment.user_id
        )
        .select_related("transaction")
        .first()
    )


def capture_payment(*, payment: Payment, gateway_payment_id: str) -> LedgerEntry:
    """Marks the payment captured and credits the wallet, exactly once per payment.

    Locks the payment row, then (through `post_transaction`) the gateway clearing account and the
    wallet. A payment already credited returns its entry and moves nothing; a second gateway
    payment for an order already credited is logged and not credited (the order's amount was).
    """
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(id=payment.id)
        if locked.status in CREDITED_PAYMENT_STATUSES:
            if locked.gateway_payment_id != gateway_payment_id:
                logger.error(
                    "order %s: payment %s captured after %s was credited; not credited again",
                    locked.gateway_order_id,
                    gateway_payment_id,
                    locked.gateway_payment_id,
                )
            entry = recharge_entry(locked)
            assert entry is not None, f"payment {locked.id} credited without a recharge entry"
            return entry
        now = timezone.now()
        # Compare-and-set under the row lock: the state moves once, whoever arrives first.
        moved = Payment.objects.filter(
            id=locked.id, status__in=[PaymentStatus.CREATED, PaymentStatus.FAILED]
        ).update(
            status=PaymentStatus.CAPTURED,
            gateway_payment_id=gateway_payment_id,
            captured_at=now,
            updated_at=now,
        )
        assert moved == 1
        metrics.payment_status(PaymentStatus.CAPTURED)
        wallet = wallet_for(user=locked.user)
        post_transaction(
            kind=EntryKind.RECHARGE,
            legs=[
                Leg(
                    system_account(AccountKind.GATEWAY_CLEARING), -locked.amount, EntryKind.CLEARING
                ),
                Leg(wallet, locked.amount, EntryKind.RECHARGE),
            ],
            idempotency_key=keys.recharge(locked.id),
            reference_type="payment",
            reference_id=str(locked.id),
            description=f"Recharge {locked.gateway_order_id}",
        )
        entry = recharge_entry(locked)
        locked.status, locked.gateway_payment_id = PaymentStatus.CAPTURED, gateway_payment_id
        locked.captured_at = now
        _run_capture_hooks(locked)
    assert entry is not None
    payment.status, payment.gateway_payment_id = PaymentStatus.CAPTURED, gateway_payment_id
    return entry


def verify_recharge(
    *, user, razorpay_order_id: str, razorpay_payment_id: str, razorpay_signature: str
) -> tuple[Payment, LedgerEntry]:
    """The client's proof of payment from checkout: checks the signature and credits once.

    The payment is looked up by order id among the caller's own payments only (404 otherwise),
    and the signature is checked against the order id WE stored. Raises `InvalidSignature`.
    """
    payment = Payment.objects.filter(user=user, gateway_order_id=razorpay_order_id).first()
    if payment is None:
        raise NotFound()
    if not get_gateway().verify_payment_signature(
        order_id=payment.gateway_order_id,
        payment_id=razorpay_payment_id,
        signature=razorpay_signature,
    ):
        raise InvalidSignature()
    with transaction.atomic(durable=True):
        entry = capture_payment(payment=payment, gateway_payment_id=razorpay_payment_id)
    payment.refresh_from_db()
    return payment, entry


# --- Webhook ----------------------------------------------------------------------------------


def _dig(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def handle_webhook(*, body: bytes, signature: str, event_id: str) -> str:
    """Checks the webhook's signature over the raw body, stores the event once by its id and
    acts on it in the same transaction. Returns what happened (for logs and tests).

    Raises `InvalidSignature` (400); a body that is not a JSON object raises 400 `invalid`.
    A repeated event id returns "duplicate" and does nothing.
    """
    gateway = get_gateway()
    if not gateway.verify_webhook_signature(body=body, signature=signature):
        raise InvalidSignature()
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        event = None
    if not isinstance(event, dict):
        raise Invalid("The body is not a JSON object.")
    if not event_id or len(event_id) > 128:
        event_id = "sha256:" + hashlib.sha256(body).hexdigest()
    name = event.get("event") if isinstance(event.get("event"), str) else ""

    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                stored = WebhookEvent.objects.create(
                    event_id=event_id, event=name[:64], payload=event
                )
        except IntegrityError:
            return "duplicate"
        outcome = _act_on_event(name, event)
        stored.outcome = outcome[:64]
        stored.save(update_fields=["outcome"])
    logger.info("webhook %s %s: %s", event_id, name, outcome)
    return outcome


def _act_on_event(name: str, event: dict) -> str:
    if name in {"payment.captured", "payment.failed", "order.paid"}:
        entity = _dig(event, "payload", "payment", "entity")
        order_id = _dig(entity, "order_id")
        gateway_payment_id = _dig(entity, "id")
        if not isinstance(order_id, str) or not isinstance(gateway_payment_id, str):
            return "malformed"
        payment = Payment.objects.filter(gateway_order_id=order_id).first()
        if payment is None:
            return "unknown_order"
        if name == "payment.failed":
            moved = Payment.objects.filter(id=payment.id, status=PaymentStatus.CREATED).update(
                status=PaymentStatus.FAILED, updated_at=timezone.now()
            )
            metrics.payment_status(PaymentStatus.FAILED, count=moved)
            return "marked_failed" if moved else "ignored"
        if _dig(entity, "amount") != payment.amount:
            logger.error("order %s: captured amount differs from the order's", order_id)
            return "amount_mismatch"
        was = payment.status
        capture_payment(payment=payment, gateway_payment_id=gateway_payment_id)
        return "already_credited" if was in CREDITED_PAYMENT_STATUSES else "credited"
    if name == "refund.processed":
        refund_id = _dig(event, "payload", "refund", "entity", "notes", "refund_id")
        gateway_refund_id = _dig(event, "payload", "refund", "entity", "id")
        if not isinstance(refund_id, str) or not isinstance(gateway_refund_id, str):
            return "malformed"
        try:
            uuid.UUID(refund_id)
        except ValueError:
            return "malformed"
        moved = Refund.objects.filter(id=refund_id, status=RefundStatus.PENDING).update(
            status=RefundStatus.PROCESSED, gateway_refund_id=gateway_refund_id[:64]
        )
        metrics.refund_status(RefundStatus.PROCESSED, count=moved)
        return "refund_processed" if moved else "ignored"
    return "ignored"


# --- Refunds ----------------------------------------------------------------------------------


def refund_payment(
    *,
    payment_id: Any,
    amount: int,
    reason: str = "",
    created_by=None,
    idempotency_key: str | None = None,
) -> Refund:
    """Refunds `amount` paise of a captured payment through the gateway.

    1. One transaction (locks the payment, then the wallet and gateway clearing): checks what is
       left to refund (`RefundExceedsPayment`, 409) and the wallet's available balance
       (`InsufficientFunds`, 402), writes the refund row with its unique key, debits the wallet
       to gateway clearing, and counts the amount as refunded. Committed BEFORE the gateway call.
    2. Calls the gateway. Processed: the refund is `processed`. Declined: the refund is `failed`
       and the wallet is credited back. No answer: it stays `pending`; `retry_pending_refunds`
       (run by `reconcile_payments`) asks the gateway whether it happened before trying again,
       so a refund never goes out twice.

    With `idempotency_key` (scoped to `created_by`), a second call finds the same refund (and
    retries it if pending).
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount is positive int paise")
    # The caller's key is scoped to the admin who sent it: two admins' "1" are two refunds.
    token = (
        keys.scoped(getattr(created_by, "id", ""), idempotency_key)
        if idempotency_key
        else keys.unique()
    )
    key = keys.refund_request(payment_id, token)
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.status == RefundStatus.PENDING:
            return push_refund(refund=existing, retry=True)
        return existing

    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().filter(id=payment_id).first()
        if payment is None:
            raise NotFound()
        # A twin with the same key may have committed while we waited for the payment's lock.
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        if payment.status not in CREDITED_PAYMENT_STATUSES:
            raise RefundExceedsPayment("Only a captured payment can be refunded.")
        if amount > payment.refundable:
            raise RefundExceedsPayment(
                f"Only {payment.refundable} paise of this payment are left to refund."
            )
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=reason[:255],
            idempotency_key=key,
            created_by=created_by,
        )
        metrics.refund_status(RefundStatus.PENDING)
        post_transaction(
            kind=EntryKind.REFUND,
            legs=[
                Leg(wallet_for(user=payment.user), -amount, EntryKind.REFUND),
                Leg(system_account(AccountKind.GATEWAY_CLEARING), amount, EntryKind.CLEARING),
            ],
            idempotency_key=keys.payment_refund(refund.id),
            reference_type=PAYMENT_REFUND_REFERENCE,
            reference_id=str(payment.id),
            description=f"Refund of {payment.gateway_order_id}: {reason}"[:255],
        )
        payment.amount_refunded += amount
        payment.status = (
            PaymentStatus.REFUNDED
            if payment.amount_refunded == payment.amount
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        payment.save(update_fields=["amount_refunded", "status", "updated_at"])
        metrics.payment_status(payment.status)
    return push_refund(refund=refund, retry=False)


def push_refund(*, refund: Refund, retry: bool) -> Refund:
    """Sends a pending refund to the gateway (outside any transaction) and records the outcome.

    On a retry it first asks the gateway for the payment's refunds and adopts one whose receipt
    is this refund's id, so a refund that went out before a timeout is never sent twice.
    """
    payment = refund.payment
    gateway = get_gateway()
    try:
        if retry:
            for known in gateway.fetch_refunds(payment.gateway_payment_id or ""):
                if known.receipt == str(refund.id)[:40]:
                    return _mark_refund_processed(refund, known.id)
        result = gateway.refund(
            payment_id=payment.gateway_payment_id or "",
            amount=refund.amount,
            receipt=str(refund.id),
            notes={"refund_id": str(refund.id), "payment_id": str(payment.id)},
        )
    except GatewayDeclined as exc:
        logger.warning("refund %s declined by the gateway: %s", refund.id, exc)
        return fail_refund(refund=refund)
    except GatewayTimeout as exc:
        logger.warning("refund %s: no answer from the gateway (%s); stays pending", refund.id, exc)
        return refund
    return _mark_refund_processed(refund, result.id)


def _mark_refund_processed(refund: Refund, gateway_refund_id: str) -> Refund:
    moved = Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING).update(
        status=RefundStatus.PROCESSED, gateway_refund_id=gateway_refund_id[:64]
    )
    metrics.refund_status(RefundStatus.PROCESSED, count=moved)
    refund.refresh_from_db()
    return refund


def fail_refund(*, refund: Refund) -> Refund:
    """A refund the gateway declined: credits the wallet back and frees the payment's amount.

    One transaction; compare-and-set pending -> failed, so it happens once.
    """
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update().get(id=refund.payment_id)
        if Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING).update(
            status=RefundStatus.FAILED
        ):
            metrics.refund_status(RefundStatus.FAILED)
            post_transaction(
                kind=EntryKind.REFUND,
                legs=[
                    Leg(
                        system_account(AccountKind.GATEWAY_CLEARING),
                        -refund.amount,
                        EntryKind.CLEARING,
                    ),
                    Leg(wallet_for(user=payment.user), refund.amount, EntryKind.REFUND),
                ],
                idempotency_key=keys.payment_refund_reversal(refund.id),
                reference_type=PAYMENT_REFUND_REFERENCE,
                reference_id=str(payment.id),
                description="Refund declined by the gateway: credited back",
            )
            payment.amount_refunded -= refund.amount
            payment.status = (
                PaymentStatus.CAPTURED
                if payment.amount_refunded == 0
                else PaymentStatus.PARTIALLY_REFUNDED
            )
            payment.save(update_fields=["amount_refunded", "status", "updated_at"])
    refund.refresh_from_db()
    return refund


def retry_pending_refunds(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Retries refunds still pending (the gateway did not answer). Returns how many it tried."""
    cutoff = timezone.now() - older_than
    tried = 0
    for refund in Refund.objects.filter(status=RefundStatus.PENDING, created_at__lt=cutoff):
        push_refund(refund=refund, retry=True)
        tried += 1
    return tried


# --- Reconciliation with the gateway ----------------------------------------------------------


def reconcile_payments(*, since: timedelta = timedelta(days=3), out=None) -> dict[str, int]:
    """Asks the gateway about recent `created`/`failed` payments and credits (once) those
    captured there whose webhook never came; then retries pending refunds."""
    counts = {"checked": 0, "credited": 0, "errors": 0, "refunds_retried": 0}
    cutoff = timezone.now() - since
    gateway = get_gateway()
    payments = Payment.objects.filter(
        status__in=[PaymentStatus.CREATED, PaymentStatus.FAILED], created_at__gte=cutoff
    ).order_by("created_at")
    for payment in payments.iterator():
        counts["checked"] += 1
        try:
            found = gateway.fetch_order_payments(payment.gateway_order_id)
        except GatewayError as exc:
            counts["errors"] += 1
            logger.warning("could not ask about %s: %s", payment.gateway_order_id, exc)
            continue
        for remote in found:
            if remote.get("status") == "captured" and remote.get("amount") == payment.amount:
                with transaction.atomic(durable=True):
                    capture_payment(payment=payment, gateway_payment_id=str(remote["id"]))
                counts["credited"] += 1
                if out is not None:
                    out.write(f"credited {payment.id} ({payment.gateway_order_id})\n")
                break
    counts["refunds_retried"] = retry_pending_refunds()
    return counts
