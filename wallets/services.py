"""Every write to the ledger: postings, credits, debits, transfers, holds.

Locking policy (read this before adding a function here)
--------------------------------------------------------
* Account rows are locked with `select_for_update()` in ascending id order, always, so two
  postings over the same accounts never deadlock. A posting locks all its accounts at once.
* A payment row, when one is involved, is locked BEFORE the accounts (capture, refund).
* A hold row is locked AFTER its account.
* Nothing here calls the network; the gateway is called by `wallets.payments` outside any
  transaction.
* The batch path (`lock_wallets`, `lock_open_holds`, `post_locked_batch`) follows the same
  order: accounts in one statement in id order, then holds; the caller (the billing tick) keeps
  the rows locked until its transaction ends.

Every posting carries an idempotency key, unique in the database: a second posting with a key
that exists returns the first transaction and moves nothing. A debit refused for insufficient
funds is recorded (`RefusedPosting`), and that refusal is sticky for its key.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config import metrics
from wallets.errors import InsufficientFunds
from wallets.models import (
    SYSTEM_ACCOUNT_KINDS,
    Account,
    AccountKind,
    EntryKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerTransaction,
    RefusedPosting,
)

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


@dataclass
class Leg:
    """One leg of a posting: `amount` paise (+ credits, - debits) on `account`.

    `kind` is the entry's kind as its owner sees it (a client's `consultation_charge`, the
    consultant's `consultation_earning`, the platform's `commission`); it defaults to the
    transaction's kind.
    """

    account: Account | LockedAccount
    amount: int
    kind: str | None = None


@dataclass
class Posting:
    """A balanced transaction to post in a batch (`post_transactions_batch`)."""

    kind: str
    legs: list[Leg]
    idempotency_key: str
    reference_type: str = ""
    reference_id: str = ""
    description: str = ""
    consume_hold: Hold | None = None


@dataclass(slots=True)
class LockedAccount:
    """An account row locked by this transaction, as plain values (no model instance): what the
    batch paths read and move (`lock_wallets`, `post_locked_batch`)."""

    id: int
    user_id: Any
    is_user_wallet: bool
    balance: int
    held: int

    @property
    def pk(self) -> int:
        return self.id

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(slots=True)
class LockedHold:
    """An open hold row locked by this transaction, as plain values."""

    id: Any
    account_id: int
    remaining: int


@dataclass
class _State:
    """The locked accounts' values as the postings of one database transaction move them."""

    accounts: dict[int, Account]
    holds: dict[Any, Hold] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)
    touched_holds: set[Any] = field(default_factory=set)


# --- Accounts ---------------------------------------------------------------------------------


def wallet_for(*, user) -> Account:
    """The user's wallet, created on first use. Never locks; safe to call concurrently."""
    try:
        return Account.objects.get(user=user)
    except Account.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Account.objects.create(user=user, kind=AccountKind.USER_WALLET)
    except IntegrityError:  # created by a concurrent caller
        return Account.objects.get(user=user)


def system_account(kind: str) -> Account:
    """The one system account of `kind` (platform_revenue, gateway_clearing, ...). No lock."""
    if kind not in SYSTEM_ACCOUNT_KINDS:
        raise ValueError(f"unknown system account kind {kind!r}")
    try:
        return Account.objects.get(kind=kind, user__isnull=True)
    except Account.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind)
    except IntegrityError:
        return Account.objects.get(kind=kind, user__isnull=True)


def lock_accounts(accounts: list[Account] | list[int]) -> dict[int, Account]:
    """Locks the accounts (in id order) and returns them fresh by id. Inside a transaction."""
    ids = sorted({a if isinstance(a, int) else a.id for a in accounts})
    locked = Account.objects.select_for_update().filter(id__in=ids).order_by("id")
    return {account.id: account for account in locked}


def commission_for(amount: int, *, percent: int | None = None) -> int:
    """THE commission rule, written once: the platform's share of a charge of `amount` paise,
    `percent` of it (the consultation's own, fixed when it was created; by default today's
    `PLATFORM_COMMISSION_PERCENT`) rounded DOWN to the paisa (the consultant keeps the
    fraction)."""
    _check_amount(amount, allow_zero=True)
    if percent is None:
        percent = settings.PLATFORM_COMMISSION_PERCENT
    return amount * percent // 100


# --- Postings ---------------------------------------------------------------------------------


def _check_amount(amount: Any, *, allow_zero: bool = False) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"amounts are int paise, not {type(amount).__name__}")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValueError(f"amount must be positive, got {amount}")


def _check_posting(posting: Posting) -> None:
    key = posting.idempotency_key
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValueError("an idempotency key of 1-255 characters is required")
    if len(posting.legs) < 2:
        raise ValueError("a transaction needs two legs or more")
    if len(posting.reference_type) > 32 or len(str(posting.reference_id)) > 64:
        raise ValueError("reference_type is at most 32 characters, reference_id at most 64")
    if not posting.kind or len(posting.kind) > 32:
        raise ValueError("a transaction kind of 1-32 characters is required")
    for leg in posting.legs:
        if isinstance(leg.amount, bool) or not isinstance(leg.amount, int):
            raise ValueError(f"amounts are int paise, not {type(leg.amount).__name__}")
        if leg.amount == 0:
            raise ValueError("a leg of 0 paise moves nothing")
        if leg.account.pk is None:
            raise ValueError("every leg needs a saved account")
    total = sum(leg.amount for leg in posting.legs)
    if total != 0:
        raise ValueError(f"the legs of a transaction must sum to 0, not {total}")
    hold = posting.consume_hold
    if hold is not None and hold.account_id not in {leg.account.id for leg in posting.legs}:
        raise ValueError("a consumed hold must be on one of the posting's accounts")


def _apply(posting: Posting, state: _State, now) -> tuple[LedgerTransaction, list[LedgerEntry]]:
    """Moves the locked accounts' values for one posting; raises before changing anything if a
    user wallet would have less than what stays held."""
    deltas: dict[int, int] = defaultdict(int)
    for leg in posting.legs:
        deltas[leg.account.id] += leg.amount
    balances = {aid: state.accounts[aid].balance for aid in deltas}
    helds = {aid: state.accounts[aid].held for aid in deltas}

    consumed = 0
    hold = posting.consume_hold
    if hold is not None:
        locked_hold = state.holds[hold.id]
        spent = -deltas[locked_hold.account_id]
        consumed = min(locked_hold.remaining, max(0, spent))
        helds[locked_hold.account_id] -= consumed

    for account_id, delta in deltas.items():
        account = state.accounts[account_id]
        if (
            account.is_user_wallet
            and delta < 0
            and balances[account_id] + delta < helds[account_id]
        ):
            raise InsufficientFunds(
                f"The wallet's available balance ({balances[account_id] - helds[account_id]} "
                f"paise) cannot cover {-delta} paise."
            )

    txn = LedgerTransaction(
        kind=posting.kind,
        idempotency_key=posting.idempotency_key,
        reference_type=posting.reference_type,
        reference_id=str(posting.reference_id),
        description=posting.description[:255],
        created_at=now,
    )
    entries = []
    for leg in posting.legs:
        balances[leg.account.id] += leg.amount
        entries.append(
            LedgerEntry(
                transaction=txn,
                account_id=leg.account.id,
                kind=leg.kind or posting.kind,
                amount=leg.amount,
                balance_after=balances[leg.account.id],
                created_at=now,
            )
        )
    for account_id in deltas:
        state.accounts[account_id].balance = balances[account_id]
        state.accounts[account_id].held = helds[account_id]
        state.touched.add(account_id)
    if hold is not None and consumed:
        locked_hold = state.holds[hold.id]
        locked_hold.remaining -= consumed
        if locked_hold.remaining == 0:
            locked_hold.status = HoldStatus.CLOSED
        state.touched_holds.add(hold.id)
    return txn, entries


def _write(state: _State, txns: list, entries: list, now) -> None:
    LedgerTransaction.objects.bulk_create(txns)
    metrics.ledger_postings(txn.kind for txn in txns)
    LedgerEntry.objects.bulk_create(entries)
    changed = [state.accounts[aid] for aid in sorted(state.touched)]
    for account in changed:
        account.updated_at = now
    # One UPDATE for every account touched, whatever the number of postings: the platform
    # revenue row is written once per batch.
    _update_accounts(changed, now)
    for hold_id in state.touched_holds:
        hold = state.holds[hold_id]
        hold.updated_at = now
        hold.save(update_fields=["remaining", "status", "updated_at"])


def _update_accounts(accounts: list[Account], now) -> None:
    """Writes the accounts' balance and held in one statement.

    On PostgreSQL an `UPDATE ... FROM (VALUES ...)`: Django's `bulk_update` builds a CASE with a
    branch per row, which is quadratic in the batch size (a 1,000-account billing batch spent
    most of its time there)."""
    if connection.vendor != "postgresql" or len(accounts) < 4:
        Account.objects.bulk_update(accounts, ["balance", "held", "updated_at"])
        return
    table = Account._meta.db_table
    rows = ", ".join(["(%s::bigint, %s::bigint, %s::bigint)"] * len(accounts))
    params: list[Any] = [now]
    for account in accounts:
        params += [account.id, account.balance, account.held]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS a SET balance = v.balance, held = v.held, "  # noqa: S608 - our table name
            f"updated_at = %s FROM (VALUES {rows}) AS v(id, balance, held) WHERE a.id = v.id",
            params,
        )


def _lock_holds(state: _State, postings: list[Posting]) -> None:
    ids = sorted({p.consume_hold.id for p in postings if p.consume_hold is not None}, key=str)
    if ids:
        for hold in Hold.objects.select_for_update().filter(id__in=ids).order_by("id"):
            state.holds[hold.id] = hold


def _sync_caller_objects(postings: list[Posting], state: _State) -> None:
    """The caller's Account and Hold objects show the values just written."""
    for posting in postings:
        for leg in posting.legs:
            locked = state.accounts[leg.account.id]
            leg.account.balance, leg.account.held = locked.balance, locked.held
        if posting.consume_hold is not None:
            locked_hold = state.holds[posting.consume_hold.id]
            posting.consume_hold.remaining = locked_hold.remaining
            posting.consume_hold.status = locked_hold.status


def post_transaction(
    *,
    kind: str,
    legs: list[Leg],
    idempotency_key: str,
    reference_type: str = "",
    reference_id: str = "",
    description: str = "",
    consume_hold: Hold | None = None,
) -> LedgerTransaction:
    """Posts one balanced transaction and returns it.

    Must run inside `transaction.atomic()` (it opens a savepoint of its own). Locks the legs'
    accounts in id order, then `consume_hold`'s row. Guarantees: the legs sum to zero
    (`ValueError` otherwise, before touching the database); each account's cached balance moves
    by its legs; entries carry `balance_after`; a key that exists returns the existing
    transaction and posts nothing; a key refused before is refused again.

    `consume_hold`: a hold on the wallet being debited; the hold (and the wallet's `held`) goes
    down by min(its remaining, the wallet's debit), so money reserved for this charge pays it.

    Raises `InsufficientFunds` (402 `insufficient_balance`) if a user wallet would end below
    what stays held on it (so never below zero).
    """
    posting = Posting(
        kind=kind,
        legs=legs,
        idempotency_key=idempotency_key,
        reference_type=reference_type,
        reference_id=str(reference_id),
        description=description,
        consume_hold=consume_hold,
    )
    _check_posting(posting)
    existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    if RefusedPosting.objects.filter(idempotency_key=idempotency_key).exists():
        raise InsufficientFunds("This operation was refused before for insufficient funds.")

    with transaction.atomic():
        state = _State(accounts=lock_accounts([leg.account for leg in legs]))
        # Same key, same accounts: a concurrent twin has committed while we waited for the locks.
        existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        _lock_holds(state, [posting])
        now = timezone.now()
        txn, entries = _apply(posting, state, now)
        try:
            with transaction.atomic():
                _write(state, [txn], entries, now)
        except IntegrityError:
            existing = LedgerTransaction.objects.filter(idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return existing
    _sync_caller_objects([posting], state)
    return txn


def post_transactions_batch(*, postings: list[Posting]) -> list[LedgerTransaction]:
    """Posts many balanced transactions in ONE database transaction; returns those posted.

    Locks every account of the batch once, in id order, then the consumed holds. Each account's
    cached balance is written ONCE with its summed delta (the platform revenue row is touched
    once per batch, not once per charge); `balance_after` is computed in posting order.
    Postings whose key exists (or repeats an earlier posting of the batch) are skipped.
    Raises `InsufficientFunds` for the whole batch if any posting would take a user wallet below
    what stays held: size charges from the locked balances (`lock_accounts`) first.
    """
    if not postings:
        return []
    for posting in postings:
        _check_posting(posting)
    if connection.vendor == "postgresql":
        return _post_transactions_batch_postgres(postings)
    keys = [p.idempotency_key for p in postings]
    with transaction.atomic():
        all_accounts = [leg.account for p in postings for leg in p.legs]
        state = _State(accounts=lock_accounts(all_accounts))
        seen = set(
            LedgerTransaction.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        seen |= set(
            RefusedPosting.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        todo = []
        for posting in postings:
            if posting.idempotency_key in seen:
                continue
            seen.add(posting.idempotency_key)
            todo.append(posting)
        _lock_holds(state, todo)
        now = timezone.now()
        txns, entries = [], []
        for posting in todo:
            txn, legs = _apply(posting, state, now)
            txns.append(txn)
            entries.extend(legs)
        if txns:
            _write(state, txns, entries, now)
    _sync_caller_objects(todo, state)
    return txns


def _post_transactions_batch_postgres(postings: list[Posting]) -> list[LedgerTransaction]:
    """`post_transactions_batch` through the set-based path (`post_locked_batch`)."""
    with transaction.atomic():
        accounts = lock_account_values([leg.account.id for p in postings for leg in p.legs])
        holds = lock_open_holds(p.consume_hold.id for p in postings if p.consume_hold)
        now = timezone.now()
        written = post_locked_batch(
            postings=postings, accounts=accounts, holds=holds, now=now, checked=True
        )
    for posting in postings:  # the caller's objects show the values just written
        for leg in posting.legs:
            leg.account.balance = accounts[leg.account.id].balance
            leg.account.held = accounts[leg.account.id].held
        hold = posting.consume_hold
        if hold is not None and hold.id in holds and not isinstance(hold, LockedHold):
            hold.remaining = holds[hold.id].remaining
            hold.status = HoldStatus.OPEN if hold.remaining else HoldStatus.CLOSED
    return [
        LedgerTransaction(
            id=txn_id,
            kind=p.kind,
            idempotency_key=p.idempotency_key,
            reference_type=p.reference_type,
            reference_id=str(p.reference_id),
            description=p.description[:255],
            created_at=now,
        )
        for txn_id, p in written
    ]


# --- The set-based batch path (PostgreSQL) ----------------------------------------------------
#
# A billing tick posts thousands of charges a second. Here no model instance is made: rows are
# locked into `LockedAccount`/`LockedHold` values, the postings' effects are computed in plain
# ints, and the whole batch is written in a handful of statements whose values travel as arrays
# (`INSERT ... SELECT FROM UNNEST(...)`, `UPDATE ... FROM UNNEST(...)`): the statements' size and
# cost grow linearly, and psycopg adapts Python lists to arrays quickly.

_ACCOUNT_COLUMNS = "id, user_id, kind = 'user_wallet', balance, held"


def ordered_uuids(count: int) -> list[uuid.UUID]:
    """`count` new UUIDs in increasing order, laid out as version 7 (48 bits of Unix time in
    milliseconds, then 74 random bits, here a random start plus the position).

    Random (version 4) keys land on random pages of their B-tree indexes: a batch of thousands
    touches thousands of index pages (and, after a checkpoint, logs a full image of each);
    keys that grow with time are appended to the right-most pages."""
    head = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | 0b10 << 62
    random_bits = int.from_bytes(os.urandom(10), "big")
    head |= (random_bits >> 68) << 64  # 12 random bits after the version
    start = random_bits & ((1 << 62) - 1) >> 1  # room for `count` more without wrapping
    return [uuid.UUID(int=head | (start + i)) for i in range(count)]


def array_cursor(*, binary_results: bool = False):
    """A cursor on the current connection (same database transaction) that binds parameters on
    the SERVER, in binary: a list of 10,000 ids or amounts travels as one binary array instead
    of a quoted text literal built in Python (Django's psycopg cursors bind on the client, which
    cost about 60 us per batch row here). Use `%b` placeholders. It goes through Django's cursor
    wrapper, so query capture and execute wrappers still see it. `binary_results`: rows come
    back in binary too (timestamps and intervals are then parsed in C, not by regex)."""
    import psycopg

    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    if binary_results:
        cursor.format = psycopg.pq.Format.BINARY
    return connection._prepare_cursor(cursor)


def _locked_accounts(rows) -> dict[int, LockedAccount]:
    return {row[0]: LockedAccount(*row) for row in rows}


def lock_account_values(account_ids: list[int]) -> dict[int, LockedAccount]:
    """`lock_accounts` without model instances: locks the rows (id order) and returns their
    values by id. Inside a transaction."""
    ids = sorted(set(account_ids))
    with array_cursor() as cursor:
        cursor.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM {Account._meta.db_table} "  # noqa: S608 - constants
            "WHERE id = ANY(%b::bigint[]) ORDER BY id FOR UPDATE",
            [ids],
        )
        return _locked_accounts(cursor.fetchall())


def lock_wallets(*, user_ids, system_kinds: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Locks the wallets of `user_ids` and the system accounts of `system_kinds` in ONE
    statement (id order), creating a missing wallet first. Returns `(by_user_id, by_kind)` of
    `LockedAccount`. Inside a transaction; on PostgreSQL."""
    user_ids = list(set(user_ids))
    system_ids = [system_account(kind).id for kind in system_kinds]
    table = Account._meta.db_table
    # Every identifier is a constant of this module; the values travel as parameters.
    sql = (
        f"SELECT {_ACCOUNT_COLUMNS} FROM {table} "  # noqa: S608
        "WHERE user_id = ANY(%b::uuid[]) OR id = ANY(%b::bigint[]) ORDER BY id FOR UPDATE"
    )
    with array_cursor() as cursor:
        cursor.execute(sql, [user_ids, system_ids])
        locked = _locked_accounts(cursor.fetchall())
    by_user = {a.user_id: a for a in locked.values() if a.user_id is not None}
    missing = [uid for uid in user_ids if uid not in by_user]
    if missing:
        from accounts.models import User

        for uid in missing:  # a consultant's first earning: the wallet is made here
            wallet_for(user=User(id=uid))
        with array_cursor() as cursor:
            cursor.execute(sql, [missing, []])
            for account in _locked_accounts(cursor.fetchall()).values():
                locked[account.id] = account
                by_user[account.user_id] = account
    by_kind = dict(zip(system_kinds, (locked[i] for i in system_ids), strict=True))
    return by_user, by_kind


def lock_open_holds(hold_ids) -> dict[Any, LockedHold]:
    """Locks the OPEN holds among `hold_ids` (after their accounts: lock those first) and
    returns their values by id."""
    ids = sorted({h for h in hold_ids if h is not None}, key=str)
    if not ids:
        return {}
    with array_cursor() as cursor:
        cursor.execute(
            f"SELECT id, account_id, remaining FROM {Hold._meta.db_table} "  # noqa: S608
            "WHERE id = ANY(%b::uuid[]) AND status = 'open' ORDER BY id FOR UPDATE",
            [ids],
        )
        return {row[0]: LockedHold(*row) for row in cursor.fetchall()}


def post_locked_batch(
    *,
    postings: list[Posting],
    accounts: dict[int, LockedAccount],
    holds: dict[Any, LockedHold] | None = None,
    now=None,
    checked: bool = False,
) -> list[tuple[uuid.UUID, Posting]]:
    """Posts many balanced transactions over accounts the caller has locked, on PostgreSQL.

    `accounts` holds every account of the postings (`lock_wallets`/`lock_account_values`, this
    transaction), `holds` every consumed hold (`lock_open_holds`, by id; `Posting.consume_hold`
    may be a `Hold` or a `LockedHold`). They are moved in place, as `_apply` moves them: each
    account's balance by its legs, a consumed hold and its wallet's `held` by what the posting
    spends. Writes: one INSERT of the transactions (a key that exists is skipped, as is a key
    refused before or repeated in the batch), one INSERT of the entries, one UPDATE of every
    account touched (platform revenue once), one of the holds. Raises `InsufficientFunds`
    (nothing is kept: run it inside `atomic`) if a user wallet would end below what stays held.
    `checked=True` skips `_check_posting` (the caller built the postings itself).
    Returns `(transaction id, posting)` for the postings written.
    """
    holds = holds or {}
    now = now or timezone.now()
    if not checked:
        for posting in postings:
            _check_posting(posting)
    keys = [p.idempotency_key for p in postings]
    with array_cursor() as cursor:
        cursor.execute(
            f"SELECT idempotency_key FROM {RefusedPosting._meta.db_table} "  # noqa: S608
            "WHERE idempotency_key = ANY(%b::varchar[])",
            [keys],
        )
        seen = {row[0] for row in cursor.fetchall()}
    todo: list = []
    for posting in postings:
        if posting.idempotency_key not in seen:
            seen.add(posting.idempotency_key)
            todo.append(posting)
    if not todo:
        return []
    todo = list(zip(ordered_uuids(len(todo)), todo, strict=True))

    txn_table = LedgerTransaction._meta.db_table
    with array_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {txn_table} (id, kind, idempotency_key, reference_type, "  # noqa: S608
            "reference_id, description, created_at) "
            "SELECT t.*, %b FROM UNNEST(%b::uuid[], %b::varchar[], %b::varchar[], %b::varchar[], "
            "%b::varchar[], %b::varchar[]) AS t ON CONFLICT (idempotency_key) DO NOTHING",
            [
                now,
                [t for t, _ in todo],
                [p.kind for _, p in todo],
                [p.idempotency_key for _, p in todo],
                [p.reference_type for _, p in todo],
                [str(p.reference_id) for _, p in todo],
                [p.description[:255] for _, p in todo],
            ],
        )
        if cursor.rowcount != len(todo):  # some keys exist: keep only the rows written now
            cursor.execute(
                f"SELECT id FROM {txn_table} WHERE id = ANY(%b::uuid[])",  # noqa: S608
                [[t for t, _ in todo]],
            )
            written = {row[0] for row in cursor.fetchall()}
            todo = [(t, p) for t, p in todo if t in written]
    if not todo:
        return []
    metrics.ledger_postings(p.kind for _, p in todo)

    # The postings' effects, in posting order, in plain ints.
    e_txn, e_account, e_kind, e_amount, e_after = [], [], [], [], []
    touched: dict[int, LockedAccount] = {}
    touched_holds: dict[Any, LockedHold] = {}
    for txn_id, posting in todo:
        hold = posting.consume_hold
        locked_hold = holds.get(hold.id) if hold is not None else None
        if locked_hold is not None:  # a hold closed meanwhile has nothing left to consume
            spent = -sum(leg.amount for leg in posting.legs if leg.account.id == hold.account_id)
            consumed = min(locked_hold.remaining, max(0, spent))
            if consumed:
                locked_hold.remaining -= consumed
                accounts[locked_hold.account_id].held -= consumed
                touched_holds[locked_hold.id] = locked_hold
        for leg in posting.legs:
            account = accounts[leg.account.id]
            account.balance += leg.amount
            touched[account.id] = account
            e_txn.append(txn_id)
            e_account.append(account.id)
            e_kind.append(leg.kind or posting.kind)
            e_amount.append(leg.amount)
            e_after.append(account.balance)
    for account in touched.values():
        if account.is_user_wallet and account.balance < account.held:
            raise InsufficientFunds(
                f"The wallet's available balance cannot cover the debit "
                f"({account.balance - account.held} paise after it)."
            )

    changed = sorted(touched)
    with array_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LedgerEntry._meta.db_table} (public_id, transaction_id, "  # noqa: S608
            "account_id, kind, amount, balance_after, created_at) "
            "SELECT e.*, %b FROM UNNEST(%b::uuid[], %b::uuid[], %b::bigint[], "
            "%b::varchar[], %b::bigint[], %b::bigint[]) AS e",
            [now, ordered_uuids(len(e_txn)), e_txn, e_account, e_kind, e_amount, e_after],
        )
        cursor.execute(
            f"UPDATE {Account._meta.db_table} AS a SET balance = v.balance, "  # noqa: S608
            "held = v.held, updated_at = %b "
            "FROM UNNEST(%b::bigint[], %b::bigint[], %b::bigint[]) AS v(id, balance, held) "
            # The ANY lets the planner probe the primary key instead of hashing the whole table.
            "WHERE a.id = v.id AND a.id = ANY(%b::bigint[])",
            [
                now,
                changed,
                [touched[i].balance for i in changed],
                [touched[i].held for i in changed],
                changed,
            ],
        )
        if touched_holds:
            ids = sorted(touched_holds, key=str)
            cursor.execute(
                f"UPDATE {Hold._meta.db_table} AS h SET remaining = v.remaining, "  # noqa: S608
                "status = CASE WHEN v.remaining = 0 THEN 'closed' ELSE h.status END, "
                "updated_at = %b "
                "FROM UNNEST(%b::uuid[], %b::bigint[]) AS v(id, remaining) WHERE h.id = v.id",
                [now, ids, [touched_holds[i].remaining for i in ids]],
            )
    return todo


# --- Credit, debit, transfer ------------------------------------------------------------------


def credit(
    *,
    user,
    amount: int,
    kind: str,
    idempotency_key: str,
    description: str = "",
    reference_type: str = "",
    reference_id: str = "",
    source: str = AccountKind.PLATFORM_ADJUSTMENTS,
    source_kind: str | None = None,
) -> LedgerTransaction:
    """Credits `amount` paise to the user's wallet from the system account `source`.

    One transaction (durable when outermost); locks the wallet and `source`; idempotent by key.
    """
    _check_amount(amount)
    wallet = wallet_for(user=user)
    with transaction.atomic():
        return post_transaction(
            kind=kind,
            legs=[
                Leg(system_account(source), -amount, source_kind or kind),
                Leg(wallet, amount, kind),
            ],
            idempotency_key=idempotency_key,
            reference_type=reference_type,
            reference_id=reference_id,
            description=description,
        )


def debit(
    *,
    user,
    amount: int,
    kind: str,
    idempotency_key: str,
    description: str = "",
    reference_type: str = "",
    reference_id: str = "",
    destination: str = AccountKind.PLATFORM_ADJUSTMENTS,
    destination_kind: str | None = None,
    consume_hold: Hold | None = None,
) -> LedgerTransaction:
    """Debits `amount` paise from the user's wallet to the system account `destination`.

    Locks the wallet and `destination`. Raises `InsufficientFunds` if the available balance
    (plus `consume_hold`'s remaining) cannot cover it, and records the refusal: the same key is
    refused again even after a top-up (sticky). The refusal is written in this function's
    transaction, so it persists when `debit` is called outside any transaction (or the caller
    commits after catching the error).
    """
    _check_amount(amount)
    wallet = wallet_for(user=user)
    refused: InsufficientFunds | None = None
    with transaction.atomic():
        try:
            return post_transaction(
                kind=kind,
                legs=[
                    Leg(wallet, -amount, kind),
                    Leg(system_account(destination), amount, destination_kind or kind),
                ],
                idempotency_key=idempotency_key,
                reference_type=reference_type,
                reference_id=reference_id,
                description=description,
                consume_hold=consume_hold,
            )
        except InsufficientFunds as exc:
            RefusedPosting.objects.get_or_create(
                idempotency_key=idempotency_key,
                defaults={"kind": kind, "code": "insufficient_balance"},
            )
            refused = exc
    assert refused is not None
    raise refused


def transfer(
    *,
    from_user,
    to_user,
    amount: int,
    commission: int,
    idempotency_key: str,
    kind: str = EntryKind.CONSULTATION_CHARGE,
    to_kind: str = EntryKind.CONSULTATION_EARNING,
    reference_type: str = "",
    reference_id: str = "",
    description: str = "",
    consume_hold: Hold | None = None,
) -> LedgerTransaction:
    """Moves `amount` paise from one wallet: `amount - commission` to the other wallet and
    `commission` to platform revenue (entry kind `commission`), in one transaction.

    Locks both wallets and platform revenue in id order. Raises `InsufficientFunds` if the
    payer's available balance (plus `consume_hold`) cannot cover `amount`. Use
    `commission_for(amount)` for the commission unless you have a reason not to.
    """
    _check_amount(amount)
    _check_amount(commission, allow_zero=True)
    if commission > amount:
        raise ValueError("the commission cannot exceed the amount")
    legs = [Leg(wallet_for(user=from_user), -amount, kind)]
    if amount - commission:
        legs.append(Leg(wallet_for(user=to_user), amount - commission, to_kind))
    if commission:
        legs.append(
            Leg(system_account(AccountKind.PLATFORM_REVENUE), commission, EntryKind.COMMISSION)
        )
    with transaction.atomic():
        return post_transaction(
            kind=kind,
            legs=legs,
            idempotency_key=idempotency_key,
            reference_type=reference_type,
            reference_id=reference_id,
            description=description,
            consume_hold=consume_hold,
        )


# --- Holds ------------------------------------------------------------------------------------


def hold(
    *,
    user,
    amount: int,
    idempotency_key: str,
    reference_type: str = "",
    reference_id: str = "",
) -> Hold:
    """Reserves `amount` paise of the user's available balance and returns the hold.

    Locks the wallet. Idempotent: an existing key returns its hold. Raises `InsufficientFunds`
    if the available balance is below `amount`.
    """
    _check_amount(amount)
    existing = Hold.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    wallet = wallet_for(user=user)
    with transaction.atomic():
        locked = lock_accounts([wallet])[wallet.id]
        existing = Hold.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        if locked.available < amount:
            raise InsufficientFunds(
                f"The wallet's available balance ({locked.available} paise) cannot cover "
                f"{amount} paise."
            )
        new_hold = Hold.objects.create(
            account=locked,
            amount=amount,
            remaining=amount,
            idempotency_key=idempotency_key,
            reference_type=reference_type,
            reference_id=str(reference_id),
        )
        locked.held += amount
        locked.save(update_fields=["held", "updated_at"])
    return new_hold


def release(
    *,
    hold: Hold | None = None,
    hold_id: Any = None,
    idempotency_key: str | None = None,
    amount: int | None = None,
) -> Hold:
    """Gives back what a hold reserves (all of it, or up to `amount` paise) and returns it.

    Name the hold by object, id or idempotency key. Locks the wallet, then the hold. A full
    release (`amount=None`) is idempotent: a closed hold stays closed and nothing moves. A
    partial release is not keyed: each call releases up to `amount` more.
    """
    if amount is not None:
        _check_amount(amount)
    found = Hold.objects.filter(
        **(
            {"id": hold.id}
            if hold is not None
            else {"id": hold_id}
            if hold_id is not None
            else {"idempotency_key": idempotency_key}
        )
    ).first()
    if found is None:
        raise Hold.DoesNotExist("no such hold")
    with transaction.atomic():
        wallet = lock_accounts([found.account_id])[found.account_id]
        locked = Hold.objects.select_for_update().get(id=found.id)
        give_back = locked.remaining if amount is None else min(amount, locked.remaining)
        if give_back:
            locked.remaining -= give_back
            if locked.remaining == 0:
                locked.status = HoldStatus.CLOSED
            locked.save(update_fields=["remaining", "status", "updated_at"])
            wallet.held -= give_back
            wallet.save(update_fields=["held", "updated_at"])
        elif locked.remaining == 0 and locked.status != HoldStatus.CLOSED:
            locked.status = HoldStatus.CLOSED
            locked.save(update_fields=["status", "updated_at"])
    if hold is not None:
        hold.remaining, hold.status = locked.remaining, locked.status
    return locked


# --- Reads the API and other apps share -------------------------------------------------------


def user_entry(txn: LedgerTransaction, user) -> LedgerEntry | None:
    """The leg of `txn` on the user's wallet: what the user sees as a `transaction`."""
    return (
        LedgerEntry.objects.filter(transaction=txn, account__user=user)
        .select_related("transaction")
        .first()
    )
