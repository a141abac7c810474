"""An admin's refund of a consultation (CONTRACT.md `POST /consultations/{id}/refund`).

The rule, written once
----------------------
A refund of `amount` paise of a consultation that charged `total` paise, of which `commission`
went to the platform and `total - commission` to the consultant, is ONE balanced ledger
transaction (kind `refund`, reference `consultation` / its id):

    client wallet      +amount                 (entry kind `refund`, the answer's `transaction`)
    consultant wallet  -(amount - commission part)   (entry kind `refund`)
    platform revenue   -commission part              (entry kind `commission`: a reversal)

The commission part is cumulative, like the billing engine's: after refunds totalling `R`
the platform has given back `floor(commission * R / total)`, and each refund reverses the
difference. So the parts are rounded down for the platform (the consultant gives back the
fraction), and a consultation refunded in full, in any number of pieces, reverses exactly its
commission and exactly the consultant's share, to the paisa.

Choices
-------
* Only an `ended` or `force_ended` consultation can be refunded (409 `invalid_state`), and
  never more than it charged in total (409 `refund_exceeds_charge`).
* The consultant's wallet must still hold their part (available balance, i.e. not already held
  for a payout): otherwise 402 `insufficient_balance` and nothing moves. Refunding money the
  consultant has already been paid out is a matter for an `adjustment`, not for this service:
  the platform never silently absorbs it.
* What was refunded so far is read from the ledger itself (the client's `refund` legs
  referencing the consultation), under the consultation's row lock, so two refunds of one
  consultation run one after the other and can never exceed the charge together.

Locking: the consultation row (`select_for_update`), then, through `wallets.services`, the
wallets and platform revenue in id order. Sends `consultation_refunded` inside the transaction
(the earnings app lowers the consultation's `Earning` in it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import User
from config.errors import InvalidState, NotFound
from consultations.errors import RefundExceedsCharge
from consultations.models import FINISHED_STATUSES, Consultation, ConsultationEvent, Kind
from wallets import keys
from wallets.models import AccountKind, EntryKind, LedgerEntry, LedgerTransaction
from wallets.services import Leg, post_transaction, system_account, user_entry, wallet_for

REFERENCE_TYPE = "consultation"
MAX_REASON_LENGTH = 200

# Sent inside the refund's transaction with `consultation`, `refund` (a `RefundParts`) and
# `transaction` (the ledger transaction). Receivers' writes commit or roll back with it.
consultation_refunded = Signal()


@dataclass(frozen=True)
class RefundParts:
    """How `amount` paise refunded to the client are taken back (paise, all non-negative)."""

    amount: int
    commission: int  # from platform revenue
    consultant: int  # from the consultant's wallet


def split_refund(*, total: int, commission: int, refunded_before: int, amount: int) -> RefundParts:
    """THE rounding rule: the platform gives back `floor(commission * R / total)` after refunds
    totalling R, cumulatively; the consultant the rest of each refund."""
    if not 0 < amount <= total - refunded_before:
        raise ValueError("a refund is positive and within what is left of the charge")
    before = commission * refunded_before // total
    after = commission * (refunded_before + amount) // total
    return RefundParts(
        amount=amount, commission=after - before, consultant=amount - (after - before)
    )


def refunded_so_far(consultation: Consultation) -> int:
    """Paise refunded to the client of `consultation`, from the ledger."""
    total = LedgerEntry.objects.filter(
        account__user_id=consultation.client_id,
        kind=EntryKind.REFUND,
        transaction__kind=EntryKind.REFUND,
        transaction__reference_type=REFERENCE_TYPE,
        transaction__reference_id=str(consultation.id),
    ).aggregate(total=Sum("amount"))["total"]
    return total or 0


def refund_key(*, consultation_id, actor: User | None, request_key: str | None) -> str:
    """The ledger idempotency key: derived from the caller's Idempotency-Key (scoped to the
    admin) when there is one, else unique."""
    token = keys.scoped(actor.id if actor else "", request_key) if request_key else keys.unique()
    return keys.consultation_refund(consultation_id, token)


def refund_consultation(
    *,
    consultation_id,
    amount: int,
    reason: str = "",
    actor: User | None = None,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """Refunds `amount` paise of an ended consultation to its client; returns the client's
    `refund` entry (the contract's `transaction`).

    One durable transaction: locks the consultation, checks the state (409 `invalid_state`) and
    the amount (409 `refund_exceeds_charge`), posts the balanced refund (402
    `insufficient_balance` if the consultant's available balance cannot give their part back),
    writes an audit row and sends `consultation_refunded`. A repeated `idempotency_key` returns
    the first refund's entry and moves nothing.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount is a positive int of paise")
    key = refund_key(consultation_id=consultation_id, actor=actor, request_key=idempotency_key)
    with transaction.atomic(durable=True):
        consultation = (
            Consultation.objects.select_for_update(of=("self",))
            .select_related("consultant", "client")
            .filter(id=consultation_id)
            .first()
        )
        if consultation is None:
            raise NotFound()
        done = LedgerTransaction.objects.filter(idempotency_key=key).first()
        if done is not None:
            entry = user_entry(done, consultation.client)
            assert entry is not None
            return entry
        if consultation.status not in FINISHED_STATUSES:
            raise InvalidState(
                f"Only an ended consultation can be refunded; this one is {consultation.status}."
            )
        if consultation.kind != Kind.INSTANT:
            raise InvalidState(
                "A booked consultation was paid through its booking: refund the booking."
            )
        before = refunded_so_far(consultation)
        if before + amount > consultation.total_amount:
            raise RefundExceedsCharge(
                f"The consultation charged {consultation.total_amount} paise and "
                f"{before} were refunded already; {amount} more would exceed the charge."
            )
        parts = split_refund(
            total=consultation.total_amount,
            commission=consultation.commission_amount,
            refunded_before=before,
            amount=amount,
        )
        legs = [Leg(wallet_for(user=consultation.client), parts.amount, EntryKind.REFUND)]
        if parts.consultant:
            consultant_wallet = wallet_for(user=consultation.consultant.user)
            legs.append(Leg(consultant_wallet, -parts.consultant, EntryKind.REFUND))
        if parts.commission:
            platform = system_account(AccountKind.PLATFORM_REVENUE)
            legs.append(Leg(platform, -parts.commission, EntryKind.COMMISSION))
        reason = (reason or "").strip()[:MAX_REASON_LENGTH]
        txn = post_transaction(
            kind=EntryKind.REFUND,
            legs=legs,
            idempotency_key=key,
            reference_type=REFERENCE_TYPE,
            reference_id=str(consultation.id),
            description=f"Refund of a {consultation.channel} consultation"
            + (f": {reason}" if reason else ""),
        )
        ConsultationEvent.objects.create(
            consultation=consultation,
            from_status=consultation.status,
            to_status=consultation.status,
            actor=actor,
            reason=f"refunded {parts.amount} paise"[:64],
            at=timezone.now(),
        )
        consultation_refunded.send(
            sender=Consultation, consultation=consultation, refund=parts, transaction=txn
        )
        entry = user_entry(txn, consultation.client)
    assert entry is not None
    return entry
