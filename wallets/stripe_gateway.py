"""Stripe through its official client (`stripe` package), behind the same `PaymentGateway` seam.

How Stripe's objects map onto ours:

| ours | Stripe |
| --- | --- |
| `Payment.gateway_order_id` | the PaymentIntent (`pi_...`), made with an idempotency key |
| `Payment.gateway_payment_id` | the PaymentIntent's charge (`ch_...`), once it succeeded |
| a refund's receipt | the Refund's `metadata.refund_id` (our refund row's id) |

Stripe has no payment signature for the browser to bring back: the client confirms the
PaymentIntent with Stripe.js and the platform asks Stripe (`fetch_order_payments`) whether it
succeeded. Webhooks are signed (`Stripe-Signature`: a timestamp and an HMAC-SHA256 of
`"<timestamp>.<raw body>"` with `STRIPE_WEBHOOK_SECRET`), checked by `stripe.WebhookSignature`
with its timestamp tolerance.

Errors are sorted like Razorpay's: a 4xx answer is `GatewayDeclined` (nothing happened there);
no answer, a 5xx, a rate limit or refused credentials are `GatewayTimeout` (ask again later).
"""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from wallets.gateway import (
    GatewayDeclined,
    GatewayOrder,
    GatewayRefund,
    GatewayTimeout,
    PaymentGateway,
)

# (connect, read) seconds, as for Razorpay.
TIMEOUT = (5, 15)
# Stripe's own retry of a request that got no answer: safe, since every POST we send carries an
# idempotency key (the client sends the same key again).
MAX_NETWORK_RETRIES = 2
# Seconds a webhook's signed timestamp may be old (Stripe's own default): older is a replay.
WEBHOOK_TOLERANCE = stripe.Webhook.DEFAULT_TOLERANCE

# A Stripe Refund's status, as our refund rows know it.
REFUND_STATUS = {
    "succeeded": "processed",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


def _plain(obj: Any) -> Any:
    """A StripeObject as plain dicts and lists (what the rest of wallets/ reads)."""
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


class StripeGateway(PaymentGateway):
    name = "stripe"

    def __init__(self) -> None:
        self.client = stripe.StripeClient(
            settings.STRIPE_SECRET_KEY or "",
            http_client=stripe.RequestsClient(timeout=TIMEOUT),
            max_network_retries=MAX_NETWORK_RETRIES,
        )

    def _call(self, method, *args, **kwargs):
        try:
            return _plain(method(*args, **kwargs))
        except (
            stripe.APIConnectionError,
            stripe.APIError,
            stripe.RateLimitError,
            stripe.AuthenticationError,
            stripe.PermissionError,
        ) as exc:
            raise GatewayTimeout(str(exc)) from exc
        except stripe.StripeError as exc:
            # InvalidRequestError, CardError, IdempotencyError: Stripe answered no.
            if exc.http_status is not None and exc.http_status >= 500:
                raise GatewayTimeout(str(exc)) from exc
            raise GatewayDeclined(str(exc)) from exc

    def create_order(
        self, *, amount: int, currency: str, receipt: str, notes: dict
    ) -> GatewayOrder:
        """A PaymentIntent for `amount` paise, made with the idempotency key
        `payment-intent-<receipt>` (our payment's id): a retried call finds the same intent."""
        intent = self._call(
            self.client.v1.payment_intents.create,
            params={
                "amount": amount,
                "currency": currency.lower(),
                "automatic_payment_methods": {"enabled": True},
                "metadata": {**notes, "receipt": receipt},
            },
            options={"idempotency_key": f"payment-intent-{receipt}"},
        )
        return GatewayOrder(
            id=intent["id"],
            amount=int(intent["amount"]),
            currency=str(intent["currency"]).upper(),
            client_secret=intent.get("client_secret") or "",
        )

    def fetch_order_payments(self, order_id: str) -> list[dict]:
        """The PaymentIntent as a list of Razorpay-shaped payments: one `captured` payment (its
        charge) once it succeeded, else none (or one `failed` payment after a failed attempt)."""
        intent = self._call(self.client.v1.payment_intents.retrieve, order_id)
        charge = intent.get("latest_charge")
        charge_id = charge.get("id") if isinstance(charge, dict) else charge
        if intent.get("status") == "succeeded":
            return [
                {
                    "id": charge_id or intent["id"],
                    "order_id": intent["id"],
                    "amount": intent.get("amount_received"),
                    "currency": str(intent.get("currency", "")).upper(),
                    "status": "captured",
                }
            ]
        if intent.get("last_payment_error") and charge_id:
            return [{"id": charge_id, "order_id": intent["id"], "status": "failed"}]
        return []

    def fetch_client_secret(self, order_id: str) -> str:
        """The PaymentIntent's client secret, from Stripe (for a checkout shown again later)."""
        intent = self._call(self.client.v1.payment_intents.retrieve, order_id)
        return intent.get("client_secret") or ""

    def fetch_payment(self, payment_id: str) -> dict:
        return self._call(self.client.v1.charges.retrieve, payment_id)

    def fetch_fees(self, payment_id: str) -> tuple[int, int] | None:
        """The charge's balance transaction: `fee` (Stripe's whole fee, tax included) and the
        `tax` entries of its `fee_details`. None until Stripe has made the balance transaction
        (or for a payment that is not a charge)."""
        if not payment_id.startswith("ch_") and not payment_id.startswith("py_"):
            return None
        charge = self._call(
            self.client.v1.charges.retrieve,
            payment_id,
            params={"expand": ["balance_transaction"]},
        )
        balance = charge.get("balance_transaction")
        if not isinstance(balance, dict) or not isinstance(balance.get("fee"), int):
            return None
        tax = sum(
            int(part.get("amount") or 0)
            for part in balance.get("fee_details") or []
            if part.get("type") == "tax"
        )
        fee = int(balance["fee"])
        return (fee, tax) if 0 <= tax <= fee else None

    def refund(self, *, payment_id: str, amount: int, receipt: str, notes: dict) -> GatewayRefund:
        """Refunds `amount` paise of the charge `payment_id`, keyed by our refund's id: a retry
        (ours or the client's) can never make a second refund at Stripe."""
        answer = self._call(
            self.client.v1.refunds.create,
            params={"charge": payment_id, "amount": amount, "metadata": notes},
            options={"idempotency_key": f"refund-{receipt}"},
        )
        return self._refund(answer, receipt)

    def fetch_refunds(self, payment_id: str) -> list[GatewayRefund]:
        answer = self._call(
            self.client.v1.refunds.list, params={"charge": payment_id, "limit": 100}
        )
        return [self._refund(r) for r in answer.get("data", [])]

    @staticmethod
    def _refund(answer: dict, receipt: str | None = None) -> GatewayRefund:
        metadata = answer.get("metadata") or {}
        return GatewayRefund(
            id=answer["id"],
            status=REFUND_STATUS.get(answer.get("status", ""), "pending"),
            receipt=receipt if receipt is not None else str(metadata.get("refund_id", "")),
        )

    def verify_payment_signature(self, *, order_id: str, payment_id: str, signature: str) -> bool:
        # Stripe hands the browser no signature: the payment is verified by asking Stripe.
        return False

    def verify_webhook_signature(self, *, body: bytes, signature: str) -> bool:
        """`Stripe-Signature` over the raw body, within the timestamp tolerance."""
        return verify_stripe_signature(body=body, header=signature)


def verify_stripe_signature(*, body: bytes, header: str) -> bool:
    if not settings.STRIPE_WEBHOOK_SECRET or not header:
        return False
    try:
        return bool(
            stripe.WebhookSignature.verify_header(
                body, header, settings.STRIPE_WEBHOOK_SECRET, WEBHOOK_TOLERANCE
            )
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        return False
