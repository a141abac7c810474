"""Frozen wallets (CONTRACT.md "Wallet and payments"): an operator's fraud or dispute hold.

A frozen wallet refuses recharges, new consultations, bookings and payouts with 423
`wallet_frozen` (`check_not_frozen`, called by those services); money owed to it (refunds,
earnings, a recharge already paid) still arrives: nothing here touches the ledger. Every freeze
and unfreeze writes a `WalletStatusChange` (who, when, why).

Its open consultations are ended by the consultations app, which sits above this one: after a
freeze commits, `wallet_frozen` is sent (user_id, reason) and consultations' receiver
force-ends them through its own door (consultations/freezes.py). The freeze locks the wallet's
account row, and so does a new consultation's check (`check_not_frozen(lock=True)`), so a
request racing a freeze is either refused or ended by the receiver, never left open.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from wallets.errors import WalletFrozen
from wallets.models import Account, FrozenWallet, WalletStatusChange
from wallets.services import lock_accounts, wallet_for

logger = logging.getLogger(__name__)

MAX_REASON_CHARS = 500

# Sent after the freeze commits (every time, also for a wallet frozen already): `user_id`,
# `reason`. Receivers run one after the other; one that fails is logged, the others still run.
wallet_frozen = Signal()


def frozen(*, user) -> FrozenWallet | None:
    """The user's freeze, or None if their wallet is active. No lock."""
    return FrozenWallet.objects.filter(user_id=user.id).first()


def wallet_and_freeze(*, user) -> tuple[Account, FrozenWallet | None]:
    """The user's wallet and its freeze (or None), in one query (pages that show both)."""
    account = Account.objects.select_related("user__frozen_wallet").filter(
        user_id=user.id
    ).first() or wallet_for(user=user)
    return account, getattr(account.user, "frozen_wallet", None)


def status_of(*, user) -> str:
    return "frozen" if frozen(user=user) is not None else "active"


def check_not_frozen(*, user, lock: bool = False) -> None:
    """Raises `WalletFrozen` (423) if the user's wallet is frozen. With `lock`, inside the
    caller's transaction, the wallet's account row is locked first: a freeze committing at the
    same time waits, and its receivers then see what the caller wrote."""
    if lock:
        lock_accounts([wallet_for(user=user)])
    if FrozenWallet.objects.filter(user_id=user.id).exists():
        raise WalletFrozen()


def _reason(reason: str) -> str:
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ValueError("a freeze or an unfreeze needs a reason")
    return cleaned[:MAX_REASON_CHARS]


def freeze_wallet(*, user, reason: str, actor=None) -> FrozenWallet:
    """Freezes the user's wallet (idempotent: a frozen one stays frozen with its first reason;
    the audit records each request). One durable transaction that locks the wallet's account
    row; `wallet_frozen` is sent once it commits."""
    reason = _reason(reason)
    with transaction.atomic(durable=True):
        lock_accounts([wallet_for(user=user)])
        now = timezone.now()
        freeze, created = FrozenWallet.objects.get_or_create(
            user_id=user.id, defaults={"reason": reason, "frozen_by": actor, "frozen_at": now}
        )
        if created:
            WalletStatusChange.objects.create(
                user_id=user.id,
                action=WalletStatusChange.Action.FREEZE,
                reason=reason,
                actor=actor,
                created_at=now,
            )
        transaction.on_commit(lambda: _announce(user.id, freeze.reason))
    logger.warning("wallet of %s frozen by %s: %s", user.id, getattr(actor, "id", None), reason)
    return freeze


def _announce(user_id, reason: str) -> None:
    for receiver, outcome in wallet_frozen.send_robust(
        sender=FrozenWallet, user_id=user_id, reason=reason
    ):
        if isinstance(outcome, Exception):
            logger.error("wallet_frozen receiver %r failed: %r", receiver, outcome)


def unfreeze_wallet(*, user, reason: str, actor=None) -> None:
    """Unfreezes the user's wallet (idempotent). One durable transaction; audited."""
    reason = _reason(reason)
    with transaction.atomic(durable=True):
        lock_accounts([wallet_for(user=user)])
        deleted, _ = FrozenWallet.objects.filter(user_id=user.id).delete()
        if deleted:
            WalletStatusChange.objects.create(
                user_id=user.id,
                action=WalletStatusChange.Action.UNFREEZE,
                reason=reason,
                actor=actor,
                created_at=timezone.now(),
            )
    logger.warning("wallet of %s unfrozen by %s: %s", user.id, getattr(actor, "id", None), reason)
