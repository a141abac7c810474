"""Every idempotency key of the money paths, built here and nowhere else.

A key is `<kind>:<part>[:<part>...]`: `kind` is one of `KINDS` (each builder has its own) and no
part may be empty or contain `:`, so the kind is everything before the first colon and keys of
two kinds can never be equal. The database makes each key unique in its table
(`LedgerTransaction`, `Hold`, `Refund`); a retried request, webhook or task that builds the same
key finds the first one and moves nothing.

A key that comes from outside (a client's `Idempotency-Key` header) is never used raw: it is
hashed together with whoever sent it (`scoped`), so two users' keys never meet and any
characters are fine.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

MAX_LENGTH = 255

# kind -> what it keys (the builders below; tests check this list is complete and unique)
KINDS = {
    "recharge": "the ledger credit of a captured payment",
    "charge": "a consultation's charge up to a number of billed seconds",
    "consultation-hold": "the hold reserving an instant consultation's first tick",
    "consultation-refund": "an admin's refund of a consultation",
    "refund-request": "a refund row of a payment (one per admin request)",
    "payment-refund": "the wallet debit of a payment refund",
    "payment-refund-reversal": "the credit back of a refund the gateway did not make",
    "payout-hold": "the hold of a payout request",
    "payout": "the ledger debit of a paid payout",
    "booking-charge": "a booking's price, from the client's wallet to the bookings held",
    "booking-hold": "the hold on a split booking's wallet part until its gateway part is paid",
    "booking-settlement": "a booking's kept part, to its consultant and the platform",
    "booking-refund": "a booking's refund, back to its client",
    "gateway-fee": "the platform's expense of a captured payment's gateway fee and tax",
    "adjustment": "an operator's (or a test's, or the load generator's) adjustment",
}


def _key(kind: str, *parts: Any) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown key kind {kind!r}")
    texts = [str(part) for part in parts]
    for text in texts:
        if not text or ":" in text:
            raise ValueError(f"a key part must be non-empty and without ':', got {text!r}")
    key = ":".join([kind, *texts])
    if len(key) > MAX_LENGTH:
        raise ValueError(f"a key is at most {MAX_LENGTH} characters")
    return key


def scoped(*parts: Any) -> str:
    """A part made from outside input: a digest of `parts` (say an admin's id and the
    `Idempotency-Key` they sent), 40 hex characters."""
    joined = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(joined.encode()).hexdigest()[:40]


def unique() -> str:
    """A part for an operation asked for without an `Idempotency-Key`: never repeats."""
    return uuid.uuid4().hex


def kind_of(key: str) -> str:
    return key.split(":", 1)[0]


def recharge(payment_id: Any) -> str:
    return _key("recharge", payment_id)


def consultation_charge(consultation_id: Any, seconds: int) -> str:
    # `_key`'s checks, inline: the billing tick builds one of these a consultation.
    part = consultation_id if type(consultation_id) is str else str(consultation_id)
    if part and ":" not in part and len(part) < 200 and type(seconds) is int:
        return f"charge:{part}:{seconds}"
    return _key("charge", consultation_id, int(seconds))


def consultation_hold(consultation_id: Any) -> str:
    return _key("consultation-hold", consultation_id)


def consultation_refund(consultation_id: Any, token: str) -> str:
    return _key("consultation-refund", consultation_id, token)


def refund_request(payment_id: Any, token: str) -> str:
    return _key("refund-request", payment_id, token)


def payment_refund(refund_id: Any) -> str:
    return _key("payment-refund", refund_id)


def payment_refund_reversal(refund_id: Any) -> str:
    return _key("payment-refund-reversal", refund_id)


def payout_hold(consultant_id: Any, token: str) -> str:
    return _key("payout-hold", consultant_id, token)


def payout(payout_id: Any) -> str:
    return _key("payout", payout_id)


def booking_charge(booking_id: Any) -> str:
    return _key("booking-charge", booking_id)


def booking_hold(booking_id: Any) -> str:
    return _key("booking-hold", booking_id)


def booking_settlement(booking_id: Any) -> str:
    return _key("booking-settlement", booking_id)


def booking_refund(booking_id: Any) -> str:
    return _key("booking-refund", booking_id)


def gateway_fee(payment_id: Any) -> str:
    return _key("gateway-fee", payment_id)


def adjustment(*parts: Any) -> str:
    return _key("adjustment", *parts)
