"""Stripe's webhook (`POST /api/v1/payments/stripe/webhook`), acting like Razorpay's.

- `payment_intent.succeeded`: credits the payment once (`capture_payment`), whoever comes
  first of verify, this event and reconciliation; then asks Stripe for the charge's fee
  (`fees.collect_fee`);
- `payment_intent.payment_failed`: a `created` payment becomes `failed` (a later success still
  credits);
- `charge.refunded`: our pending refunds of that charge that Stripe made become `processed`;
- `refund.failed`: the refund becomes `failed` and its amount goes back to the wallet, once.

The signature (`Stripe-Signature`, with its timestamp tolerance) is checked over the raw body
before anything is read; each event id is stored once (`WebhookEvent`), so a repeated delivery
does nothing. Stripe is asked (for a charge's refunds) before the transaction, never inside it.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config import metrics
from config.errors import Invalid
from wallets import fees, payments
from wallets.errors import InvalidSignature
from wallets.gateway import GatewayError, GatewayRefund
from wallets.models import (
    CREDITED_PAYMENT_STATUSES,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)

logger = logging.getLogger(__name__)


def handle_stripe_webhook(*, body: bytes, signature: str) -> str:
    """Checks `Stripe-Signature`, stores the event once by its id and acts on it. Returns what
    happened. Raises `InvalidSignature` (400); a body that is not an event raises 400 `invalid`."""
    # Stripe's client is imported only when Stripe's webhook is called (PAYMENT_GATEWAY=stripe).
    from wallets.stripe_gateway import verify_stripe_signature

    if not verify_stripe_signature(body=body, header=signature):
        raise InvalidSignature()
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
        raise Invalid("The body is not a Stripe event.")
    raw_name = event.get("type")
    name = raw_name if isinstance(raw_name, str) else ""
    obj = _object(event)
    refunds = _charge_refunds(obj) if name == "charge.refunded" else []

    with transaction.atomic(durable=True):
        try:
            with transaction.atomic():
                stored = WebhookEvent.objects.create(
                    event_id=event["id"][:128], event=name[:64], payload=event
                )
        except IntegrityError:
            return "duplicate"
        outcome, failed_refund = _act(name, obj, refunds)
        stored.outcome = outcome[:64]
        stored.save(update_fields=["outcome"])
    if failed_refund is not None:
        # fail_refund is its own durable transaction (a compare-and-set: once, whoever calls).
        payments.fail_refund(refund=failed_refund)
    if outcome == "credited":
        # The fee is on the charge's balance transaction: asked of Stripe now that the credit
        # has committed; if Stripe has not made it yet, reconciliation asks again.
        fees.collect_fee(payment=Payment.objects.get(gateway_order_id=_id_of(obj.get("id"))))
    logger.info("stripe webhook %s %s: %s", event["id"], name, outcome)
    return outcome


def _object(event: dict) -> dict:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else {}


def _id_of(value: Any) -> str | None:
    """An expandable field: an id, or the object itself."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _charge_refunds(charge: dict) -> list[GatewayRefund]:
    """The charge's refunds: in the event when Stripe sent them, else asked of Stripe (before
    the transaction). An unanswered question leaves them to reconciliation."""
    from wallets.stripe_gateway import StripeGateway

    listed = charge.get("refunds")
    if isinstance(listed, dict) and isinstance(listed.get("data"), list):
        return [StripeGateway._refund(r) for r in listed["data"] if isinstance(r, dict)]
    charge_id = _id_of(charge.get("id"))
    if charge_id is None:
        return []
    try:
        return StripeGateway().fetch_refunds(charge_id)
    except GatewayError as exc:
        logger.warning("could not ask Stripe for %s's refunds: %s", charge_id, exc)
        return []


def _our_refund(receipt: Any) -> Refund | None:
    try:
        return Refund.objects.filter(id=uuid.UUID(str(receipt))).first()
    except ValueError:
        return None


def _act(name: str, obj: dict, refunds: list[GatewayRefund]) -> tuple[str, Refund | None]:
    if name in {"payment_intent.succeeded", "payment_intent.payment_failed"}:
        intent_id = _id_of(obj.get("id"))
        if intent_id is None:
            return "malformed", None
        payment = Payment.objects.filter(gateway_order_id=intent_id).first()
        if payment is None:
            return "unknown_order", None
        if name == "payment_intent.payment_failed":
            moved = Payment.objects.filter(id=payment.id, status=PaymentStatus.CREATED).update(
                status=PaymentStatus.FAILED, updated_at=timezone.now()
            )
            metrics.payment_status(PaymentStatus.FAILED, count=moved)
            return ("marked_failed" if moved else "ignored"), None
        if obj.get("amount_received") != payment.amount:
            logger.error("intent %s: the amount received differs from ours", intent_id)
            return "amount_mismatch", None
        was = payment.status
        payments.capture_payment(
            payment=payment, gateway_payment_id=_id_of(obj.get("latest_charge")) or intent_id
        )
        return ("already_credited" if was in CREDITED_PAYMENT_STATUSES else "credited"), None
    if name == "charge.refunded":
        processed = 0
        for known in refunds:
            refund = _our_refund(known.receipt)
            if refund is None or known.status != RefundStatus.PROCESSED:
                continue
            processed += Refund.objects.filter(id=refund.id, status=RefundStatus.PENDING).update(
                status=RefundStatus.PROCESSED, gateway_refund_id=known.id[:64]
            )
        metrics.refund_status(RefundStatus.PROCESSED, count=processed)
        return ("refund_processed" if processed else "ignored"), None
    if name == "refund.failed":
        refund = _our_refund((obj.get("metadata") or {}).get("refund_id"))
        if refund is None:
            return "unknown_refund", None
        if refund.status != RefundStatus.PENDING:
            return "ignored", None
        return "refund_failed", refund
    return "ignored", None
