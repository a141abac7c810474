"""Stripe at the network edge: its API's answers (for `responses`) and its signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs

API = "https://api.stripe.com/v1"
SECRET_KEY = "sk_test_platform"
PUBLISHABLE_KEY = "pk_test_platform"
WEBHOOK_SECRET = "whsec_platform_test"


def use_stripe(settings) -> None:
    settings.PAYMENT_GATEWAY = "stripe"
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def intent(
    intent_id: str,
    amount: int,
    *,
    status: str = "requires_payment_method",
    charge: str | None = None,
    received: int | None = None,
) -> dict:
    """A PaymentIntent as Stripe's API answers it."""
    succeeded = status == "succeeded"
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": (amount if received is None else received) if succeeded else 0,
        "currency": "inr",
        "status": status,
        "client_secret": f"{intent_id}_secret_abc",
        "latest_charge": charge,
        "last_payment_error": None,
        "metadata": {},
    }


def refund_object(refund_id: str, *, charge: str, amount: int, ours, status="succeeded") -> dict:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": charge,
        "status": status,
        "metadata": {"refund_id": str(ours)},
    }


def form(request) -> dict[str, str]:
    """The form-encoded body Stripe's client sent, one value per key."""
    body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
    return {key: values[0] for key, values in parse_qs(body).items()}


def event(event_id: str, kind: str, obj: dict) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}
    ).encode()


def signature(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def post_event(api, body: bytes, header: str | None = None):
    return api.generic(
        "POST",
        "/api/v1/payments/stripe/webhook",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(body) if header is None else header,
    )
