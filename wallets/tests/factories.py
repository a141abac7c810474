"""Wallet test data that keeps the books consistent: money enters only through services."""

import json
import uuid

from accounts.tests.factories import ClientFactory
from wallets import keys, payments, services
from wallets.gateway import LocalGateway, hmac_hex, razorpay_secret
from wallets.models import AccountKind, EntryKind


def credit(*, user, amount: int, idempotency_key: str, kind: str = EntryKind.ADJUSTMENT, **more):
    """`amount` paise from platform adjustments to the user's wallet (a balanced posting)."""
    return services.post_transaction(
        kind=kind,
        legs=[
            services.Leg(services.system_account(AccountKind.PLATFORM_ADJUSTMENTS), -amount, kind),
            services.Leg(services.wallet_for(user=user), amount, kind),
        ],
        idempotency_key=idempotency_key,
        **more,
    )


def debit(*, user, amount: int, idempotency_key: str, kind: str = EntryKind.ADJUSTMENT, **more):
    """`amount` paise from the user's wallet to platform adjustments (402 if it cannot)."""
    return services.post_transaction(
        kind=kind,
        legs=[
            services.Leg(services.wallet_for(user=user), -amount, kind),
            services.Leg(services.system_account(AccountKind.PLATFORM_ADJUSTMENTS), amount, kind),
        ],
        idempotency_key=idempotency_key,
        **more,
    )


def transfer(*, from_user, to_user, amount: int, commission: int, idempotency_key: str, **more):
    """A consultation-like charge: `amount` from one wallet, `amount - commission` to the other
    and `commission` to platform revenue."""
    legs = [
        services.Leg(services.wallet_for(user=from_user), -amount, EntryKind.CONSULTATION_CHARGE)
    ]
    if amount - commission:
        legs.append(
            services.Leg(
                services.wallet_for(user=to_user),
                amount - commission,
                EntryKind.CONSULTATION_EARNING,
            )
        )
    if commission:
        legs.append(
            services.Leg(
                services.system_account(AccountKind.PLATFORM_REVENUE),
                commission,
                EntryKind.COMMISSION,
            )
        )
    return services.post_transaction(
        kind=EntryKind.CONSULTATION_CHARGE, legs=legs, idempotency_key=idempotency_key, **more
    )


def fund(user, amount: int, *, key: str | None = None):
    """Credits `amount` paise to the user's wallet as an adjustment; returns the wallet."""
    credit(user=user, amount=amount, idempotency_key=key or keys.adjustment("test", keys.unique()))
    return services.wallet_for(user=user)


def funded_client(amount: int = 100_000):
    user = ClientFactory()
    fund(user, amount)
    return user


def paid_payment(user, amount: int = 50_000):
    """A recharge paid at the (local) gateway and verified: the wallet is credited."""
    payment = payments.create_recharge(user=user, amount=amount)
    gateway_payment_id, signature = LocalGateway.pay(payment.gateway_order_id)
    payments.verify_recharge(
        user=user,
        razorpay_order_id=payment.gateway_order_id,
        razorpay_payment_id=gateway_payment_id,
        razorpay_signature=signature,
    )
    payment.refresh_from_db()
    return payment


def webhook_body(payment, gateway_payment_id: str, event: str = "payment.captured") -> bytes:
    status = "captured" if event == "payment.captured" else "failed"
    return json.dumps(
        {
            "entity": "event",
            "event": event,
            "contains": ["payment"],
            "payload": {
                "payment": {
                    "entity": {
                        "id": gateway_payment_id,
                        "entity": "payment",
                        "amount": payment.amount,
                        "currency": "INR",
                        "status": status,
                        "order_id": payment.gateway_order_id,
                    }
                }
            },
        }
    ).encode()


def webhook_headers(body: bytes, event_id: str | None = None) -> dict:
    return {
        "HTTP_X_RAZORPAY_SIGNATURE": hmac_hex(razorpay_secret("RAZORPAY_WEBHOOK_SECRET"), body),
        "HTTP_X_RAZORPAY_EVENT_ID": event_id or f"evt_{uuid.uuid4().hex[:14]}",
    }


def refund_webhook_body(
    refund, event: str = "refund.processed", gateway_refund_id: str = ""
) -> bytes:
    """Razorpay's `refund.processed` / `refund.failed` event for one of our refund rows."""
    return json.dumps(
        {
            "entity": "event",
            "event": event,
            "contains": ["refund", "payment"],
            "payload": {
                "refund": {
                    "entity": {
                        "id": gateway_refund_id or refund.gateway_refund_id or "rfnd_hook",
                        "entity": "refund",
                        "amount": refund.amount,
                        "currency": "INR",
                        "payment_id": refund.payment.gateway_payment_id,
                        "receipt": str(refund.id),
                        "notes": {"refund_id": str(refund.id)},
                        "status": "processed" if event == "refund.processed" else "failed",
                    }
                }
            },
        }
    ).encode()
