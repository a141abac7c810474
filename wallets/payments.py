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
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from config import metrics
from config.errors import Invalid, NotFound
from wallets import keys
from wallets.errors import (
    GatewayUnavailable,
    InvalidSignature,
    PaymentNotCaptured,
    RefundExceedsPayment,
)
from wallets.fees import record_fee
from wallets.freezes import check_not_frozen
from wallets.gateway import (
    GatewayDeclined,
    GatewayError,
    GatewayRefund,
    GatewayTimeout,
    fees_of,
    get_gateway,
)
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
# A worker's claim on a refund row: far longer than one gateway call can take (gateway.TIMEOUT).
REFUND_CLAIM = timedelta(minutes=5)
# A pending refund is looked at again this long after anyone last touched it.
REFUND_RETRY_AFTER = timedelta(minutes=1)
# A checkout not paid within this is abandoned: marked failed, out of reconciliation's queue.
ABANDONED_AFTER = timedelta(days=1)
RECONCILE_BATCH = 100
# reconcile_payments stops starting new gateway calls after this (its task's soft limit is
# a little longer); whatever is left is the next run's, newest first.
RECONCILE_BUDGET_SECONDS = 600.0


# --- Hooks -------------------------------------------------------------------------------------

# Apps above this one react to a captured payment inside the transaction that credits it (the
# bookings app confirms the booking an order was made for) without this app importing them.
# Each hook runs in a savepoint of its own: one that raises is rolled back alone and logged, and
# the credit stands (the money is the client's, in their wallet, whatever the hook did).
CaptureHook = Callable[[Payment], object]  # what it returns is not used
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
    gateway = get_gateway()
    try:
        order = gateway.create_order(
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
    payment = Payment.objects.create(
        id=payment_id,
        user=user,
        gateway=gateway.name,
        gateway_order_id=order.id,
        amount=amount,
        currency=settings.CURRENCY,
    )
    # Stripe's client secret goes to the browser once (checkout_fields), never to the database.
    payment.client_secret = order.client_secret
    return payment


def checkout_fields(payment: Payment, *, fetch: bool = False, secret: bool = True) -> dict:
    """What a client needs to pay a payment, in the running gateway's shape (CONTRACT.md
    "Wallet and payments"): Razorpay's (and the local gateway's) order id and key id, or
    Stripe's client secret and publishable key. The only place outside this app's gateway
    classes that tells the gateways apart: pages and the API show what it gives.

    Stripe's client secret is known only on the payment `create_recharge` just made (it is never
    stored). For a payment shown again later, `fetch=True` asks the gateway for it (a network
    call: never inside a transaction) while the payment is still `created`; otherwise, or when
    the gateway does not answer, `client_secret` is None. `secret=False` is for showing the
    payment to someone other than the one who pays it (a consultant, a socket frame): no
    client secret (it lets its holder pay), and nothing fetched."""
    fields: dict[str, Any] = {"payment_id": payment.id, "gateway": payment.gateway}
    if payment.gateway == "stripe":
        known = getattr(payment, "client_secret", None)
        if not secret:
            known = None
        elif not known and fetch:
            known = _fetch_client_secret(payment)
        fields["client_secret"] = known or None
        fields["publishable_key"] = settings.STRIPE_PUBLISHABLE_KEY
    else:
        fields["gateway_order_id"] = payment.gateway_order_id
        fields["key_id"] = settings.RAZORPAY_KEY_ID
    fields.update(amount=payment.amount, currency=payment.currency, status=payment.status)
    if settings.PAYMENT_GATEWAY == "local":
        fields["offline"] = True  # pages pay it with the offline checkout (not in the API)
    return fields


def _fetch_client_secret(payment: Payment) -> str | None:
    if payment.status != PaymentStatus.CREATED:
        return None  # paid or failed: nothing left to confirm here
    return fetch_client_secret(payment)


def fetch_client_secret(payment: Payment) -> str | None:
    """`payment`'s client secret asked of its gateway (Stripe), whatever its status: for an
    idempotent replay, which answers what the first answer said (wallets/idempotency.py). None
    when the gateway does not answer or is not the payment's."""
    gateway = get_gateway()
    if gateway.name != payment.gateway:
        return None
    try:
        secret = gateway.fetch_client_secret(payment.gateway_order_id)
    except GatewayError as exc:
        # The page or API answer still renders; the client asks again (a reload) later.
        logger.warning("client secret of %s not fetched: %s", payment.id, exc)
        return None
    payment.client_secret = secret  # for the rest of this request only
    return secret or None


def recharge_entry(payment: Payment) -> LedgerEntry | None:
    """The user's `recharge` leg for a credited payment."""
    return (
        LedgerEntry.objects.filter(
            transaction__idempotency_key=keys.recharge(payment.id), account__user_id=payment.user_id
        )
        .select_related("transaction")
        .first()
    )


@dataclass(frozen=True)
class Capture:
    payment: Payment  # the payment row credited: the order's own, or a second one's
    entry: LedgerEntry  # its recharge leg on the wallet
    credited: bool  # False when it had been credited before (a repeat moved nothing)


def capture_payment(*, payment: Payment, gateway_payment_id: str) -> Capture:
    """Marks the payment captured and credits the wallet, exactly once per gateway payment.

    Locks the order's payment row, then (through `post_transaction`) the gateway clearing
    account and the wallet. A payment already credited returns its entry and moves nothing.
    A SECOND gateway payment captured on an order already credited (the customer paid twice)
    is the client's money: it becomes a payment row of its own (`duplicate_of` the order's),
    credited once like any other and refundable like any other.
    """
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(id=payment.id)
        if locked.status in CREDITED_PAYMENT_STATUSES:
            if locked.gateway_payment_id == gateway_payment_id:
                entry = recharge_entry(locked)
                assert entry is not None, f"payment {locked.id} credited without an entry"
                return Capture(locked, entry, credited=False)
            return _capture_second_payment(locked, gateway_payment_id)
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
        _credit(locked)
        entry = recharge_entry(locked)
        locked.refresh_from_db()
        _run_capture_hooks(locked)
    assert entry is not None
    payment.status, payment.gateway_payment_id = PaymentStatus.CAPTURED, gateway_payment_id
    return Capture(locked, entry, credited=True)


def _capture_second_payment(order_payment: Payment, gateway_payment_id: str) -> Capture:
    """Under the order's payment lock: credits a second captured payment as its own row."""
    twin = Payment.objects.filter(gateway_payment_id=gateway_payment_id).first()
    if twin is not None:  # seen before (a repeated webhook, verify after the webhook)
        entry = recharge_entry(twin)
        assert entry is not None, f"payment {twin.id} captured without an entry"
        return Capture(twin, entry, credited=False)
    now = timezone.now()
    twin = Payment.objects.create(
        user_id=order_payment.user_id,
        gateway=order_payment.gateway,
        gateway_order_id=order_payment.gateway_order_id,
        duplicate_of=order_payment,
        gateway_payment_id=gateway_payment_id,
        amount=order_payment.amount,
        currency=order_payment.currency,
        status=PaymentStatus.CAPTURED,
        captured_at=now,
    )
    logger.warning(
        "order %s: a second payment %s was captured after %s; credited as payment %s",
        order_payment.gateway_order_id,
        gateway_payment_id,
        order_payment.gateway_payment_id,
        twin.id,
    )
    metrics.payment_status(PaymentStatus.CAPTURED)
    _credit(twin)
    entry = recharge_entry(twin)
    assert entry is not None
    return Capture(twin, entry, credited=True)


def _credit(payment: Payment) -> None:
    post_transaction(
        kind=EntryKind.RECHARGE,
        legs=[
            Leg(system_account(AccountKind.GATEWAY_CLEARING), -payment.amount, EntryKind.CLEARING),
            Leg(wallet_for(user=payment.user), payment.amount, EntryKind.RECHARGE),
        ],
        idempotency_key=keys.recharge(payment.id),
        reference_type="payment",
        reference_id=str(payment.id),
        description=f"Recharge {payment.gateway_order_id}",
    )


def verify_recharge(
    *, user, razorpay_order_id: str, razorpay_payment_id: str, razorpay_signature: str
) -> tuple[Payment, LedgerEntry]:
    """The client's proof of payment from checkout: checks the signature and credits once.

    The payment is looked up by order id among the caller's own payments only (404 otherwise),
    and the signature is checked against the order id WE stored. Raises `InvalidSignature`.
    """
    payment = Payment.objects.filter(
        user=user, gateway_order_id=razorpay_order_id, duplicate_of__isnull=True
    ).first()
    if payment is None:
        raise NotFound()
    if not get_gateway().verify_payment_signature(
        order_id=payment.gateway_order_id,
        payment_id=razorpay_payment_id,
        signature=razorpay_signature,
    ):
        raise InvalidSignature()
    with transaction.atomic(durable=True):
        capture = capture_payment(payment=payment, gateway_payment_id=razorpay_payment_id)
    capture.payment.refresh_from_db()
    return capture.payment, capture.entry


def confirm_recharge(*, user, payment_id: Any) -> tuple[Payment, LedgerEntry]:
    """Verify by asking the gateway (Stripe's way; it works for Razorpay too): the caller's own
    payment, looked up by our id (404 otherwise), is credited once if the gateway says it was
    captured for its full amount. Raises `PaymentNotCaptured` (409) while it was not, and
    `GatewayUnavailable` (502) when the gateway does not answer."""
    try:
        payment = Payment.objects.filter(user=user, id=uuid.UUID(str(payment_id))).first()
    except ValueError:
        payment = None
    if payment is None:
        raise NotFound()
    if payment.status not in CREDITED_PAYMENT_STATUSES:
        try:
            found = get_gateway().fetch_order_payments(payment.gateway_order_id)
        except GatewayError as exc:
            logger.warning("could not ask about %s: %s", payment.gateway_order_id, exc)
            raise GatewayUnavailable() from exc
        captured = [
            remote
            for remote in found
            if remote.get("status") == "captured" and remote.get("amount") == payment.amount
        ]
        if not captured:
            raise PaymentNotCaptured()
        with transaction.atomic(durable=True):
            capture_payment(payment=payment, gateway_payment_id=str(captured[0]["id"]))
    entry = recharge_entry(payment)
    assert entry is not None
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
    raw_name = event.get("event")
    name = raw_name if isinstance(raw_name, str) else ""

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
        payment = Payment.objects.filter(
            gateway_order_id=order_id, duplicate_of__isnull=True
        ).first()
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
        capture = capture_payment(payment=payment, gateway_payment_id=gateway_payment_id)
        _record_reported_fee(capture.payment, entity)
        if not capture.credited:
            return "already_credited"
        return "credited" if capture.payment.id == payment.id else "credited_second_payment"
    if name in {"refund.processed", "refund.failed"}:
        refund_id = _dig(event, "payload", "refund", "entity", "notes", "refund_id")
        gateway_refund_id = _dig(event, "payload", "refund", "entity", "id")
        if not isinstance(refund_id, str) or not isinstance(gateway_refund_id, str):
            return "malformed"
        try:
            uuid.UUID(refund_id)
        except ValueError:
            return "malformed"
        refund = Refund.objects.filter(id=refund_id).first()
        if refund is None:
            return "unknown_refund"
        if name == "refund.processed":
            moved = _mark_refund_processed(refund, gateway_refund_id)
            return "refund_processed" if moved else "ignored"
        return "refund_failed" if _fail_refund(refund) else "ignored"
    return "ignored"


def _record_reported_fee(payment: Payment, entity: dict) -> None:
    """Razorpay's captured payment entity carries its `fee` (tax included) and `tax`: posted as
    the platform's expense in the webhook's transaction (once; wallets/fees.py)."""
    found = fees_of(entity)
    if found is not None:
        record_fee(payment_id=payment.id, fee=found[0], tax=found[1])


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
    2. `push_refund`: claims the row and calls the gateway once. The refund stays `pending`
       until the gateway confirms it (its answer says processed, the `refund.processed`
       webhook, or `retry_pending_refunds` asking later); declined or `refund.failed`: it is
       `failed` and the wallet is credited back, once.

    With `idempotency_key` (scoped to `created_by`), a second call finds the same refund (and
    pushes it again if it is still pending and nobody holds it).
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
            return push_refund(refund=existing)
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
    return push_refund(refund=refund)


def push_refund(*, refund: Refund) -> Refund:
    """Takes a pending refund one step with the gateway, outside any transaction.

    The row is claimed first (compare-and-set on `attempts`, and no other live claim), so two
    workers, two beats or an operator's `reconcile_payments` during the scheduled one never
    both talk to the gateway about it; a worker that loses the claim returns the row as it is.
    Then:

    * the gateway already gave it an id (it answered "pending"): ask for its status, never
      send again;
    * it was sent before and the outcome is unknown (a timeout, a killed worker): ask the
      gateway for the payment's refunds and adopt the one with this refund's receipt; only
      if there is none, send it;
    * send it. Processed: `processed`. Pending: keep the gateway's id, wait for the webhook or
      the next look. Declined: on a first attempt `failed` (money back); after an earlier
      attempt a 4xx may mean the first one went through (the amount is no longer
      refundable), so the gateway is asked again before deciding. No answer: stays pending.
    """
    refund.refresh_from_db()
    if refund.status != RefundStatus.PENDING:
        return refund
    claim = _claim_refund(refund)
    if claim is None:
        refund.refresh_from_db()
        return refund
    try:
        _push_claimed(refund, sent_before=refund.attempts > 0)
    finally:
        Refund.objects.filter(id=refund.id, claimed_until=claim).update(
            claimed_until=None, updated_at=timezone.now()
        )
    refund.refresh_from_db()
    return refund


def _claim_refund(refund: Refund):
    """Compare-and-set: this worker owns the row until the returned time, or None (someone
    else does, or it is no longer pending). Counts the attempt before the call is made."""
    now = timezone.now()
    until = now + REFUND_CLAIM
    claimed = (
        Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING, attempts=refund.attempts)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(attempts=refund.attempts + 1, claimed_until=until, updated_at=now)
    )
    return until if claimed == 1 else None


def _push_claimed(refund: Refund, *, sent_before: bool) -> None:
    payment = refund.payment
    gateway = get_gateway()
    try:
        if refund.gateway_refund_id or sent_before:
            known = _find_gateway_refund(gateway, payment, refund)
            if known is not None:
                _apply_gateway_refund(refund, known)
                return
            if refund.gateway_refund_id:
                logger.warning("refund %s: the gateway no longer lists it", refund.id)
                return
        result = gateway.refund(
            payment_id=payment.gateway_payment_id or "",
            amount=refund.amount,
            receipt=str(refund.id),
            notes={"refund_id": str(refund.id), "payment_id": str(payment.id)},
        )
    except GatewayDeclined as exc:
        if sent_before:
            # A 4xx after an attempt whose outcome we never learned: perhaps that one worked.
            try:
                known = _find_gateway_refund(gateway, payment, refund)
            except GatewayError as again:
                logger.warning("refund %s: cannot ask the gateway (%s)", refund.id, again)
                return
            if known is not None:
                _apply_gateway_refund(refund, known)
                return
        logger.warning("refund %s declined by the gateway: %s", refund.id, exc)
        _fail_refund(refund)
        return
    except GatewayTimeout as exc:
        logger.warning("refund %s: no answer from the gateway (%s); stays pending", refund.id, exc)
        return
    _apply_gateway_refund(refund, result)


def _find_gateway_refund(gateway, payment: Payment, refund: Refund) -> GatewayRefund | None:
    for known in gateway.fetch_refunds(payment.gateway_payment_id or ""):
        if (refund.gateway_refund_id and known.id == refund.gateway_refund_id) or (
            known.receipt == str(refund.id)[:40]
        ):
            return known
    return None


def _apply_gateway_refund(refund: Refund, known: GatewayRefund) -> None:
    """Records what the gateway says of a refund: processed, failed, or still pending."""
    if known.status == "processed":
        _mark_refund_processed(refund, known.id)
    elif known.status == "failed":
        _fail_refund(refund)
    else:
        Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING).update(
            gateway_refund_id=known.id[:64], updated_at=timezone.now()
        )


def _mark_refund_processed(refund: Refund, gateway_refund_id: str) -> bool:
    moved = Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING).update(
        status=RefundStatus.PROCESSED,
        gateway_refund_id=gateway_refund_id[:64],
        updated_at=timezone.now(),
    )
    metrics.refund_status(RefundStatus.PROCESSED, count=moved)
    return bool(moved)


def fail_refund(*, refund: Refund) -> Refund:
    """A refund the gateway declined or reported failed: `failed`, and the wallet is credited
    back and the payment's amount freed, exactly once (its own durable transaction)."""
    with transaction.atomic(durable=True):
        _fail_refund(refund)
    refund.refresh_from_db()
    return refund


def _fail_refund(refund: Refund) -> bool:
    """Inside (or as) a transaction: locks the payment, then compare-and-set pending -> failed;
    only the winner posts the credit back (its key is unique too)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(id=refund.payment_id)
        if not Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING).update(
            status=RefundStatus.FAILED, updated_at=timezone.now()
        ):
            return False
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
            description="Refund not made by the gateway: credited back",
        )
        payment.amount_refunded -= refund.amount
        payment.status = (
            PaymentStatus.CAPTURED
            if payment.amount_refunded == 0
            else PaymentStatus.PARTIALLY_REFUNDED
        )
        payment.save(update_fields=["amount_refunded", "status", "updated_at"])
    return True


def retry_pending_refunds(*, older_than: timedelta = REFUND_RETRY_AFTER, limit: int = 200) -> int:
    """The refund job: pushes (`push_refund`) refunds still pending that nobody touched for
    `older_than`, oldest first, at most `limit`. Returns how many this worker claimed."""
    now = timezone.now()
    ids = list(
        Refund.objects.filter(status=RefundStatus.PENDING, updated_at__lt=now - older_than)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("updated_at")
        .values_list("id", flat=True)[:limit]
    )
    tried = 0
    for refund_id in ids:
        refund = Refund.objects.select_related("payment").get(id=refund_id)
        before = refund.attempts
        pushed = push_refund(refund=refund)
        tried += pushed.attempts > before
    return tried


# --- Reconciliation with the gateway ----------------------------------------------------------


def fail_abandoned_checkouts(*, older_than: timedelta = ABANDONED_AFTER) -> int:
    """Checkouts still `created` after `older_than` are `failed`: out of reconciliation's
    queue. A capture that arrives later still credits (failed -> captured is allowed)."""
    now = timezone.now()
    moved = Payment.objects.filter(
        status=PaymentStatus.CREATED, created_at__lt=now - older_than
    ).update(status=PaymentStatus.FAILED, updated_at=now)
    metrics.payment_status(PaymentStatus.FAILED, count=moved)
    return moved


def reconcile_payments(
    *,
    since: timedelta = ABANDONED_AFTER,
    batch: int = RECONCILE_BATCH,
    budget_seconds: float = RECONCILE_BUDGET_SECONDS,
    out=None,
) -> dict[str, int]:
    """Credits (once) the payments the gateway captured whose webhook never came.

    First marks abandoned checkouts failed; then asks the gateway about the uncredited
    (`created`/`failed`) payments of the last `since`, newest first, `batch` rows a query,
    and stops starting gateway calls after `budget_seconds`: a backlog of any size ends the
    run in bounded time, and the newest (the ones a client is waiting for) go first.
    Every captured payment of an order is credited, the second one as its own payment.
    """
    counts = {"checked": 0, "credited": 0, "errors": 0, "abandoned": 0, "left": 0}
    counts["abandoned"] = fail_abandoned_checkouts()
    deadline = time.monotonic() + budget_seconds
    cutoff = timezone.now() - since
    gateway = get_gateway()
    queue = Payment.objects.filter(
        status__in=[PaymentStatus.CREATED, PaymentStatus.FAILED],
        duplicate_of__isnull=True,
        created_at__gte=cutoff,
    ).order_by("-created_at", "-id")
    after = None
    while True:
        page = queue
        if after is not None:
            page = queue.filter(
                Q(created_at__lt=after[0]) | Q(created_at=after[0], id__lt=after[1])
            )
        rows = list(page[:batch])
        if not rows:
            break
        for index, payment in enumerate(rows):
            if time.monotonic() >= deadline:
                counts["left"] = page.count() - index
                logger.warning("reconcile_payments: out of time, %s left", counts["left"])
                return counts
            counts["checked"] += 1
            counts["credited"] += _reconcile_one(gateway, payment, counts, out)
        after = (rows[-1].created_at, rows[-1].id)
    return counts


def _reconcile_one(gateway, payment: Payment, counts: dict[str, int], out) -> int:
    try:
        found = gateway.fetch_order_payments(payment.gateway_order_id)
    except GatewayError as exc:
        counts["errors"] += 1
        logger.warning("could not ask about %s: %s", payment.gateway_order_id, exc)
        return 0
    credited = 0
    for remote in found:
        if remote.get("status") == "captured" and remote.get("amount") == payment.amount:
            with transaction.atomic(durable=True):
                capture = capture_payment(payment=payment, gateway_payment_id=str(remote["id"]))
            if capture.credited:
                credited += 1
                if out is not None:
                    out.write(f"credited {capture.payment.id} ({payment.gateway_order_id})\n")
    return credited
