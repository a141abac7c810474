"""The payment gateway: Razorpay for real, or a local stand-in for the embedded mode and tests.

`get_gateway()` picks one by `settings.PAYMENT_GATEWAY` (Stripe's is in `stripe_gateway.py`;
it has no payment signature and is verified by asking Stripe). Razorpay's and the local one
check signatures the same way:
the payment signature is HMAC-SHA256 of `"<order_id>|<payment_id>"` keyed with
`RAZORPAY_KEY_SECRET`, the webhook signature HMAC-SHA256 of the raw body keyed with
`RAZORPAY_WEBHOOK_SECRET`, both hex, compared in constant time.

Errors: `GatewayDeclined` when the gateway answered no (a definite failure), `GatewayTimeout`
when we cannot know what happened (no answer, 5xx): the caller must then ask again later rather
than assume either outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Any

import razorpay
import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# (connect, read) seconds for every call to Razorpay.
TIMEOUT = (5, 15)


class GatewayError(Exception):
    pass


class GatewayDeclined(GatewayError):
    """The gateway answered and refused (bad request): nothing happened there."""


class GatewayTimeout(GatewayError):
    """No usable answer (network error, timeout, 5xx): the outcome is unknown."""


@dataclass(frozen=True)
class GatewayOrder:
    id: str
    amount: int
    currency: str
    client_secret: str = ""  # Stripe: what Stripe.js confirms the PaymentIntent with


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    status: str  # "pending" or "processed"
    receipt: str = ""


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def razorpay_secret(name: str) -> str:
    """`settings.RAZORPAY_KEY_SECRET` or `settings.RAZORPAY_WEBHOOK_SECRET`: always set when a
    gateway that signs with them runs (config/deploy.py refuses to start without them)."""
    value = getattr(settings, name)
    if value is None:
        raise ImproperlyConfigured(f"{name} is not set (config/deploy.py).")
    return value


def payment_signature(order_id: str, payment_id: str, secret: str | None = None) -> str:
    """The signature Razorpay's checkout hands the client for a paid order."""
    key = secret if secret is not None else razorpay_secret("RAZORPAY_KEY_SECRET")
    return hmac_hex(key, f"{order_id}|{payment_id}".encode())


def fees_of(entity: dict) -> tuple[int, int] | None:
    """Razorpay's payment entity's `fee` (tax included) and `tax`."""
    fee, tax = entity.get("fee"), entity.get("tax")
    if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
        return None
    tax = tax if isinstance(tax, int) and not isinstance(tax, bool) and 0 <= tax <= fee else 0
    return fee, tax


def _equal(expected: str, given: Any) -> bool:
    if not isinstance(given, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


class PaymentGateway:
    """What the wallets app needs from a gateway."""

    name = "razorpay"

    def create_order(
        self, *, amount: int, currency: str, receipt: str, notes: dict
    ) -> GatewayOrder:
        raise NotImplementedError

    def fetch_payment(self, payment_id: str) -> dict:
        raise NotImplementedError

    def fetch_order_payments(self, order_id: str) -> list[dict]:
        raise NotImplementedError

    def fetch_client_secret(self, order_id: str) -> str:
        """What the browser confirms an order with, asked again (Stripe's PaymentIntent client
        secret, which we never store). Razorpay's checkout needs none: empty."""
        return ""

    def fetch_fees(self, payment_id: str) -> tuple[int, int] | None:
        """`(fee, tax)` in paise that the gateway keeps of a captured payment (`fee` includes
        `tax`), or None while the gateway does not know them yet."""
        return fees_of(self.fetch_payment(payment_id))

    def refund(self, *, payment_id: str, amount: int, receipt: str, notes: dict) -> GatewayRefund:
        raise NotImplementedError

    def fetch_refunds(self, payment_id: str) -> list[GatewayRefund]:
        raise NotImplementedError

    def verify_payment_signature(self, *, order_id: str, payment_id: str, signature: str) -> bool:
        """True if `signature` is the key secret's HMAC of `order_id|payment_id`. `order_id` must
        be the one WE stored for the payment, never one taken from the request."""
        if not isinstance(payment_id, str) or not payment_id:
            return False
        return _equal(payment_signature(order_id, payment_id), signature)

    def verify_webhook_signature(self, *, body: bytes, signature: str) -> bool:
        return _equal(hmac_hex(razorpay_secret("RAZORPAY_WEBHOOK_SECRET"), body), signature)


class RazorpayGateway(PaymentGateway):
    """Razorpay's API through its official client (`razorpay` package)."""

    def __init__(self) -> None:
        self.client = razorpay.Client(auth=(settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET))

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, timeout=TIMEOUT, **kwargs)
        except razorpay.errors.BadRequestError as exc:
            raise GatewayDeclined(str(exc)) from exc
        except (razorpay.errors.ServerError, razorpay.errors.GatewayError) as exc:
            raise GatewayTimeout(str(exc)) from exc
        except (requests.RequestException, ValueError) as exc:
            raise GatewayTimeout(str(exc)) from exc

    def create_order(
        self, *, amount: int, currency: str, receipt: str, notes: dict
    ) -> GatewayOrder:
        data = {
            "amount": amount,
            "currency": currency,
            "receipt": receipt[:40],
            "notes": notes,
            "payment_capture": 1,
        }
        order = self._call(self.client.order.create, data)
        return GatewayOrder(id=order["id"], amount=int(order["amount"]), currency=order["currency"])

    def fetch_payment(self, payment_id: str) -> dict:
        return self._call(self.client.payment.fetch, payment_id)

    def fetch_order_payments(self, order_id: str) -> list[dict]:
        answer = self._call(self.client.order.payments, order_id)
        return list(answer.get("items", []))

    def refund(self, *, payment_id: str, amount: int, receipt: str, notes: dict) -> GatewayRefund:
        data = {"amount": amount, "receipt": receipt[:40], "notes": notes}
        answer = self._call(self.client.payment.refund, payment_id, data)
        return GatewayRefund(
            id=answer["id"], status=answer.get("status", "pending"), receipt=receipt
        )

    def fetch_refunds(self, payment_id: str) -> list[GatewayRefund]:
        answer = self._call(self.client.payment.fetch_multiple_refund, payment_id)
        return [
            GatewayRefund(id=r["id"], status=r.get("status", ""), receipt=r.get("receipt") or "")
            for r in answer.get("items", [])
        ]


class LocalGateway(PaymentGateway):
    """An offline gateway: makes order and payment ids itself and remembers them in memory.

    `pay(order_id)` plays the customer paying at checkout: it records a captured payment and
    returns `(payment_id, signature)` as Razorpay's checkout would hand them to the browser.
    """

    _lock = threading.Lock()
    _orders: dict[str, dict] = {}
    _payments: dict[str, dict] = {}
    _refunds: dict[str, list[GatewayRefund]] = {}

    def create_order(
        self, *, amount: int, currency: str, receipt: str, notes: dict
    ) -> GatewayOrder:
        order_id = f"order_{secrets.token_hex(7)}"
        with self._lock:
            self._orders[order_id] = {"amount": amount, "currency": currency, "receipt": receipt}
        return GatewayOrder(id=order_id, amount=amount, currency=currency)

    @classmethod
    def pay(
        cls, order_id: str, *, amount: int | None = None, status: str = "captured"
    ) -> tuple[str, str]:
        payment_id = f"pay_{secrets.token_hex(7)}"
        with cls._lock:
            order = cls._orders.get(order_id, {})
            paid = amount if amount is not None else order.get("amount", 0)
            fee, tax = local_fee(paid)
            cls._payments[payment_id] = {
                "id": payment_id,
                "entity": "payment",
                "order_id": order_id,
                "amount": paid,
                "currency": order.get("currency", "INR"),
                "status": status,
                "fee": fee,
                "tax": tax,
            }
        return payment_id, payment_signature(order_id, payment_id)

    def fetch_payment(self, payment_id: str) -> dict:
        with self._lock:
            if payment_id not in self._payments:
                raise GatewayDeclined(f"no payment {payment_id}")
            return dict(self._payments[payment_id])

    def fetch_order_payments(self, order_id: str) -> list[dict]:
        with self._lock:
            return [dict(p) for p in self._payments.values() if p["order_id"] == order_id]

    def refund(self, *, payment_id: str, amount: int, receipt: str, notes: dict) -> GatewayRefund:
        refund = GatewayRefund(
            id=f"rfnd_{secrets.token_hex(7)}", status="processed", receipt=receipt
        )
        with self._lock:
            self._refunds.setdefault(payment_id, []).append(refund)
        return refund

    def fetch_refunds(self, payment_id: str) -> list[GatewayRefund]:
        with self._lock:
            return list(self._refunds.get(payment_id, []))


def local_fee(amount: int) -> tuple[int, int]:
    """The offline gateway's charges, shaped like Razorpay's standard plan so that the demo's
    books show fees: 2% of the payment (rounded down) plus 18% GST on it; `(fee, tax)`."""
    base = amount * 2 // 100
    tax = base * 18 // 100
    return base + tax, tax


def get_gateway() -> PaymentGateway:
    if settings.PAYMENT_GATEWAY == "razorpay":
        return RazorpayGateway()
    if settings.PAYMENT_GATEWAY == "stripe":
        from wallets.stripe_gateway import StripeGateway

        return StripeGateway()
    return LocalGateway()
