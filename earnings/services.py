"""Earnings and payouts: every write, one transaction each.

Locking policy: a payout row is locked (`select_for_update`) BEFORE the wallet rows the wallets
services lock, and an earning row is locked inside the consultation's own transaction (ending
or refunding, where the consultation row is already locked), so the order is always
consultation -> earning, payout -> wallets -> hold.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from config.errors import InvalidState, NotFound, PermissionDenied
from consultations.models import FINISHED_STATUSES, Consultation
from consultations.refunds import RefundParts
from earnings.models import Earning, Payout, PayoutStatus
from wallets import keys
from wallets.errors import IdempotencyKeyReused
from wallets.freezes import check_not_frozen
from wallets.models import AccountKind, EntryKind
from wallets.services import Leg, hold, post_transaction, release, system_account, wallet_for

# --- Earnings ---------------------------------------------------------------------------------


def record_earning(*, consultation: Consultation) -> Earning:
    """The consultation's earning record, written once (a second call returns the first).

    Call inside the transaction that ends the consultation (the `consultation_ended` receiver
    does): the figures are the consultation's billing totals at its end.
    """
    if consultation.status not in FINISHED_STATUSES:
        raise ValueError(f"consultation {consultation.id} has not ended")
    existing = Earning.objects.filter(consultation_id=consultation.id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Earning.objects.create(
                consultation=consultation,
                consultant_id=consultation.consultant_id,
                gross=consultation.total_amount,
                commission=consultation.commission_amount,
                net=consultation.consultant_amount,
                seconds=consultation.billed_seconds,
                created_at=consultation.ended_at or timezone.now(),
            )
    except IntegrityError:  # written concurrently
        return Earning.objects.get(consultation_id=consultation.id)


def record_booking_earning(
    *,
    booking_id,
    consultant_id,
    consultation_id,
    gross: int,
    commission: int,
    seconds: int,
    at,
) -> Earning:
    """A booking's earning record (the bookings app calls it when it settles a booking),
    written once per booking, with the booking's consultation if it had one: `gross` paise kept
    from the client's price, `commission` of it to the platform, the rest to the consultant."""
    existing = Earning.objects.filter(booking_id=booking_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Earning.objects.create(
                booking_id=booking_id,
                consultation_id=consultation_id,
                consultant_id=consultant_id,
                gross=gross,
                commission=commission,
                net=gross - commission,
                seconds=seconds,
                created_at=at,
            )
    except IntegrityError:
        return Earning.objects.get(booking_id=booking_id)


def apply_refund(*, consultation: Consultation, refund: RefundParts) -> Earning:
    """Lowers the consultation's earning by a refund's parts (the row stays net of refunds).

    Runs inside the refund's transaction (the `consultation_refunded` receiver), where the
    consultation row is locked; locks the earning row.
    """
    record_earning(consultation=consultation)
    earning = Earning.objects.select_for_update().get(consultation_id=consultation.id)
    earning.gross -= refund.amount
    earning.commission -= refund.commission
    earning.net -= refund.consultant
    earning.refunded += refund.amount
    earning.save(update_fields=["gross", "commission", "net", "refunded"])
    return earning


# --- Payouts ----------------------------------------------------------------------------------


def request_payout(*, consultant: User, amount: int, idempotency_key: str | None = None) -> Payout:
    """A consultant asks to be paid `amount` paise: the amount is HELD on their wallet.

    One durable transaction: the payout row and the hold (which locks the wallet) commit
    together. The hold is keyed by the request's `idempotency_key` (scoped to the consultant):
    the same key again returns the first payout and holds nothing more, even when the HTTP
    layer's own record of the key is gone (a crash between the hold and the answer); the same
    key with another amount is 409 `idempotency_key_reused`. Raises 402 `insufficient_balance`
    if the wallet's available balance is below `amount` (nothing is written).
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount is a positive int of paise")
    if not consultant.is_consultant:
        raise PermissionDenied("Only consultants request payouts.")
    token = keys.scoped(consultant.id, idempotency_key) if idempotency_key else keys.unique()
    hold_key = keys.payout_hold(consultant.id, token)
    payout_id = uuid.uuid4()
    with transaction.atomic(durable=True):
        check_not_frozen(user=consultant, lock=True)  # 423 wallet_frozen
        reserved = hold(
            user=consultant,
            amount=amount,
            idempotency_key=hold_key,
            reference_type="payout",
            reference_id=str(payout_id),
        )
        earlier = Payout.objects.filter(hold=reserved).first()
        if earlier is not None:  # the same request again
            if earlier.amount != amount:
                raise IdempotencyKeyReused()
            return earlier
        return Payout.objects.create(
            id=payout_id, consultant=consultant, amount=amount, hold=reserved
        )


def _locked_payout(payout_id) -> Payout:
    payout = Payout.objects.select_for_update().filter(id=payout_id).first()
    if payout is None:
        raise NotFound("No such payout.")
    return payout


def mark_payout_paid(*, payout_id, actor: User | None = None) -> Payout:
    """An admin has sent the money: the amount leaves the consultant's wallet for the payouts in
    flight account (a `payout` ledger transaction that consumes the payout's hold).

    Locks the payout row, then the wallet and payouts-in-flight (in id order), then the hold.
    Idempotent: a payout already paid is returned as it is. 409 `invalid_state` for a rejected
    one.
    """
    with transaction.atomic(durable=True):
        payout = _locked_payout(payout_id)
        if payout.status == PayoutStatus.PAID:
            return payout
        if payout.status != PayoutStatus.REQUESTED:
            raise InvalidState(f"The payout is {payout.status}.")
        payout.transaction = post_transaction(
            kind=EntryKind.PAYOUT,
            legs=[
                Leg(wallet_for(user=payout.consultant), -payout.amount, EntryKind.PAYOUT),
                Leg(
                    system_account(AccountKind.PAYOUTS_IN_FLIGHT),
                    payout.amount,
                    EntryKind.PAYOUT_CLEARING,
                ),
            ],
            idempotency_key=keys.payout(payout.id),
            reference_type="payout",
            reference_id=str(payout.id),
            description="Payout to the consultant's bank account",
            consume_hold=payout.hold,
        )
        if payout.hold_id is not None:
            # Consumed in full by the debit above; this only closes it if anything is left.
            release(hold_id=payout.hold_id)
        payout.status = PayoutStatus.PAID
        payout.decided_by = actor
        payout.decided_at = timezone.now()
        payout.save(update_fields=["status", "transaction", "decided_by", "decided_at"])
    return payout


def reject_payout(*, payout_id, actor: User | None = None) -> Payout:
    """An admin refuses a payout: its hold is released, no money moves.

    Locks the payout row, then the wallet and the hold. Idempotent: a rejected payout is
    returned as it is. 409 `invalid_state` for a paid one.
    """
    with transaction.atomic(durable=True):
        payout = _locked_payout(payout_id)
        if payout.status == PayoutStatus.REJECTED:
            return payout
        if payout.status != PayoutStatus.REQUESTED:
            raise InvalidState(f"The payout is {payout.status}.")
        if payout.hold_id is not None:
            release(hold_id=payout.hold_id)
        payout.status = PayoutStatus.REJECTED
        payout.decided_by = actor
        payout.decided_at = timezone.now()
        payout.save(update_fields=["status", "decided_by", "decided_at"])
    return payout
