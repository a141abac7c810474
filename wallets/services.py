"""Every write to the ledger: postings and holds, through one posting engine.

Locking policy (read this before adding a function here)
--------------------------------------------------------
* Account rows are locked with `select_for_update()` in one order, always: user wallets first,
  then system accounts (platform revenue, gateway clearing, ...), each in ascending id order
  (`ORDER BY user_id IS NULL, id`), so two postings over the same accounts never deadlock. A
  posting locks all its accounts at once, except the billing tick's late accounts (below).
* Late accounts (`LateCredits`): a batch may lock a system account it posts to (the billing
  tick's commission legs to platform revenue) last, just before its commit: the engine
  writes the batch's other legs first and buffers the late account's; `LateCredits.write` then
  locks the account, gives each buffered entry its `balance_after` from the locked balance and
  writes them. Every batch of every worker touches platform revenue; locked at the start, it
  would make concurrent batches run one after the other. Locking it after the wallets keeps
  the one order above.
* A payment row, when one is involved, is locked BEFORE the accounts (capture, refund).
* A hold row is locked AFTER its account.
* Nothing here calls the network; the gateway is called by `wallets.payments` outside any
  transaction.

One engine
----------
Every posting goes through `post_locked_batch`: the caller (or `post_transaction` /
`post_transactions_batch` for it) locks the accounts and holds as plain values
(`lock_account_values` / `lock_wallets`, `lock_open_holds`); the engine computes each posting's
effect in plain ints (each account's balance and `balance_after`, a consumed hold and its
wallet's `held`), refuses a user wallet that would end below what stays held
(`InsufficientFunds`), then writes the batch in a handful of statements: the transactions, the
entries, every touched account ONCE (the platform revenue row once per batch, not per charge),
the holds. On PostgreSQL the statements take arrays (`INSERT/UPDATE ... FROM UNNEST`, bound on
the server in binary; ids and amounts packed in one call each: `wallets.arrays`); on SQLite (the
embedded mode) the ORM writes the same rows.

Every posting carries an idempotency key (`wallets.keys`), unique in the database: a posting
whose key exists is skipped and the first transaction stands, or, for callers that know it
cannot exist (the billing engine's charges, built from locked rows), it is an error
(`DuplicatePosting`).
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from config import metrics
from wallets.arrays import BigintArray, UuidArray
from wallets.arrays import plain as plain_array
from wallets.arrays import register as register_arrays
from wallets.errors import InsufficientFunds
from wallets.models import (
    SYSTEM_ACCOUNT_KINDS,
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    LedgerEntry,
    LedgerTransaction,
)

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255


class DuplicatePosting(Exception):
    """A posting that must be new found its idempotency key taken: the caller's state and the
    ledger disagree (a bug, or a row changed behind a lock). Nothing of the batch is kept."""


@dataclass(slots=True)
class LockedAccount:
    """An account row locked by this transaction, as plain values (no model instance)."""

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
    """A balanced transaction to post."""

    kind: str
    legs: list[Leg]
    idempotency_key: str
    reference_type: str = ""
    reference_id: str = ""
    description: str = ""
    consume_hold: Hold | LockedHold | None = None


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


def _in_lock_order(query):
    """`query` ordered as every account lock is taken: user wallets, then system accounts, each
    by id (the module's locking policy)."""
    system = ExpressionWrapper(Q(user__isnull=True), output_field=BooleanField())
    return query.alias(system=system).order_by("system", "id")


def lock_accounts(accounts: list[Account] | list[int]) -> dict[int, Account]:
    """Locks the accounts (in lock order) and returns them fresh by id, as model instances.
    Inside a transaction."""
    ids = sorted({a if isinstance(a, int) else a.id for a in accounts})
    locked = _in_lock_order(Account.objects.select_for_update().filter(id__in=ids))
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
    """Posts one balanced transaction and returns it (`post_transactions_batch` of one).

    Opens a savepoint of its own (call it inside your transaction to commit with it). Locks the
    legs' accounts in id order, then `consume_hold`'s row. Guarantees: the legs sum to zero
    (`ValueError` otherwise, before touching the database); each account's cached balance moves
    by its legs; entries carry `balance_after`; a key that exists returns the existing
    transaction and posts nothing (also when a concurrent twin commits first).

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
    written = post_transactions_batch(postings=[posting])
    if written:
        return written[0]
    # A concurrent twin committed while we waited for the locks: its transaction stands.
    return LedgerTransaction.objects.get(idempotency_key=idempotency_key)


def post_transactions_batch(*, postings: list[Posting]) -> list[LedgerTransaction]:
    """Posts many balanced transactions in ONE database transaction (a savepoint inside the
    caller's); returns those written. Postings whose key exists (or repeats an earlier posting
    of the batch) are skipped.

    Locks every account of the batch once, in id order, then the consumed holds, and posts them
    with `post_locked_batch`. The caller's `Account` and `Hold` objects show the new values
    afterwards. Raises `InsufficientFunds` for the whole batch if any posting would take a user
    wallet below what stays held.
    """
    if not postings:
        return []
    for posting in postings:
        _check_posting(posting)
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
        if isinstance(hold, Hold) and hold.id in holds:
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


def post_locked_batch(
    *,
    postings: list[Posting],
    accounts: dict[int, LockedAccount],
    holds: dict[Any, LockedHold] | None = None,
    now=None,
    checked: bool = False,
    must_be_new: bool = False,
    late: LateCredits | None = None,
) -> list[tuple[uuid.UUID, Posting]]:
    """THE posting engine: posts balanced transactions over accounts the caller has locked.

    `accounts` holds every account of the postings (`lock_account_values`/`lock_wallets`, this
    transaction), `holds` every consumed hold (`lock_open_holds`, by id; `Posting.consume_hold`
    may be a `Hold` or a `LockedHold`). They are moved in place: each account's balance by its
    legs, a consumed hold and its wallet's `held` by what the posting spends. Writes one INSERT
    of the transactions (a key that exists, or repeats one of the batch, is skipped; with
    `must_be_new` it raises `DuplicatePosting` instead), one INSERT of the entries, one UPDATE of
    every account touched (platform revenue once), one of the holds. Raises
    `InsufficientFunds` (nothing is kept: run it inside `atomic`) if a user wallet would end
    below what stays held. `checked=True` skips `_check_posting` (the caller built the postings
    itself). `late`: the legs on its accounts (credits to unlocked system accounts) are not
    written here but buffered in it, for the caller's `late.write(now)` before its commit.
    Returns `(transaction id, posting)` for the postings written.
    """
    holds = holds or {}
    now = now or timezone.now()
    if not checked:
        for posting in postings:
            _check_posting(posting)
    seen: set[str] = set()
    todo: list = []
    for posting in postings:
        if posting.idempotency_key in seen:
            if must_be_new:
                raise DuplicatePosting(f"key {posting.idempotency_key} twice in one batch")
            continue
        seen.add(posting.idempotency_key)
        todo.append(posting)
    if not todo:
        return []
    todo = list(zip(ordered_uuids(len(todo)), todo, strict=True))
    written = _insert_transactions(todo, now)
    if len(written) != len(todo):
        if must_be_new:
            taken = sorted(p.idempotency_key for t, p in todo if t not in written)
            raise DuplicatePosting(f"keys already posted: {', '.join(taken[:10])}")
        todo = [(t, p) for t, p in todo if t in written]
    if not todo:
        return []

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
            if late is not None and leg.account.id in late.ids:
                late.add(txn_id, leg.account.id, leg.kind or posting.kind, leg.amount)
                continue
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
    _insert_entries(now, e_txn, e_account, e_kind, e_amount, e_after)
    _update_accounts([touched[i] for i in sorted(touched)], now)
    if touched_holds:
        _update_holds([touched_holds[i] for i in sorted(touched_holds, key=str)], now)
    metrics.ledger_postings(p.kind for _, p in todo)
    return todo


class LateCredits:
    """Credits to system accounts that a batch locks only at its end (the module's "Late
    accounts"): `post_locked_batch(late=...)` buffers their legs, `write(now)` locks the
    accounts (after every wallet the batch holds: the lock order), writes the buffered entries
    with `balance_after` from the locked balances, and the accounts' new balances. Call `write`
    in the same savepoint as the postings, right before it is released: until then the
    transactions are unbalanced (the deferred check would refuse them at commit)."""

    def __init__(self, accounts: list[LockedAccount]) -> None:
        # Unlocked placeholders (`unlocked_system_account`): only their ids are used.
        self.ids = {a.id for a in accounts}
        self._entries: list[tuple[uuid.UUID, int, str, int]] = []

    def add(self, txn_id: uuid.UUID, account_id: int, kind: str, amount: int) -> None:
        self._entries.append((txn_id, account_id, kind, amount))

    def write(self, now) -> None:
        if not self._entries:
            return
        locked = lock_account_values(sorted({e[1] for e in self._entries}))
        txns, accounts, kinds, amounts, afters = [], [], [], [], []
        for txn_id, account_id, kind, amount in self._entries:
            account = locked[account_id]
            if account.is_user_wallet:  # its balance must be known (and checked) when posting
                raise ValueError(f"account {account_id} is a wallet: it cannot be locked late")
            account.balance += amount
            txns.append(txn_id)
            accounts.append(account_id)
            kinds.append(kind)
            amounts.append(amount)
            afters.append(account.balance)
        _insert_entries(now, txns, accounts, kinds, amounts, afters)
        _update_accounts([locked[i] for i in sorted(locked)], now)
        self._entries = []


def unlocked_system_account(kind: str) -> LockedAccount:
    """A placeholder for the system account of `kind`, for legs a `LateCredits` will write: its
    id only (its balance is never read: `LateCredits.write` locks and reads the row)."""
    return LockedAccount(system_account(kind).id, None, False, 0, 0)


# --- The engine's writes: arrays on PostgreSQL, the ORM on SQLite -----------------------------


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _insert_transactions(todo: list[tuple[uuid.UUID, Posting]], now) -> set[uuid.UUID]:
    """Inserts the transactions whose key is free; returns the ids written."""
    if not _postgres():
        keys = [p.idempotency_key for _, p in todo]
        taken = set(
            LedgerTransaction.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        fresh = [(t, p) for t, p in todo if p.idempotency_key not in taken]
        LedgerTransaction.objects.bulk_create(
            LedgerTransaction(
                id=t,
                kind=p.kind,
                idempotency_key=p.idempotency_key,
                reference_type=p.reference_type,
                reference_id=str(p.reference_id),
                description=p.description[:255],
                created_at=now,
            )
            for t, p in fresh
        )
        return {t for t, _ in fresh}
    table = LedgerTransaction._meta.db_table
    ids = UuidArray([t for t, _ in todo])
    with array_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, kind, idempotency_key, reference_type, "  # noqa: S608
            "reference_id, description, created_at) "
            "SELECT t.*, %b FROM UNNEST(%b::uuid[], %b::varchar[], %b::varchar[], %b::varchar[], "
            "%b::varchar[], %b::varchar[]) AS t ON CONFLICT (idempotency_key) DO NOTHING",
            [
                now,
                ids,
                [p.kind for _, p in todo],
                [p.idempotency_key for _, p in todo],
                [p.reference_type for _, p in todo],
                [str(p.reference_id) for _, p in todo],
                [p.description[:255] for _, p in todo],
            ],
        )
        if cursor.rowcount == len(todo):
            return {t for t, _ in todo}
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%b::uuid[])",  # noqa: S608
            [ids],
        )
        return {row[0] for row in cursor.fetchall()}


def _insert_entries(now, txns, accounts, kinds, amounts, afters) -> None:
    if not _postgres():
        public_ids = ordered_uuids(len(txns))
        LedgerEntry.objects.bulk_create(
            LedgerEntry(
                public_id=public_id,
                transaction_id=txn,
                account_id=account,
                kind=kind,
                amount=amount,
                balance_after=after,
                created_at=now,
            )
            for public_id, txn, account, kind, amount, after in zip(
                public_ids, txns, accounts, kinds, amounts, afters, strict=True
            )
        )
        return
    with array_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LedgerEntry._meta.db_table} (public_id, transaction_id, "  # noqa: S608
            "account_id, kind, amount, balance_after, created_at) "
            "SELECT e.*, %b FROM UNNEST(%b::uuid[], %b::uuid[], %b::bigint[], "
            "%b::varchar[], %b::bigint[], %b::bigint[]) AS e",
            [
                now,
                UuidArray(_ordered_uuid_ints(len(txns))),  # no UUID object needed
                UuidArray(txns),
                BigintArray(accounts),
                kinds,
                BigintArray(amounts),
                BigintArray(afters),
            ],
        )


def _update_accounts(changed: list[LockedAccount], now) -> None:
    """Writes each account's balance and held ONCE, whatever the number of postings."""
    if not _postgres():
        for account in changed:
            Account.objects.filter(id=account.id).update(
                balance=account.balance, held=account.held, updated_at=now
            )
        return
    ids = BigintArray([a.id for a in changed])
    balances = BigintArray([a.balance for a in changed])
    held = BigintArray([a.held for a in changed])
    with array_cursor() as cursor:
        cursor.execute(
            f"UPDATE {Account._meta.db_table} AS a SET balance = v.balance, "  # noqa: S608
            "held = v.held, updated_at = %b "
            "FROM UNNEST(%b::bigint[], %b::bigint[], %b::bigint[]) AS v(id, balance, held) "
            # The ANY lets the planner probe the primary key instead of hashing the whole table.
            "WHERE a.id = v.id AND a.id = ANY(%b::bigint[])",
            [now, ids, balances, held, ids],
        )


def _update_holds(changed: list[LockedHold], now) -> None:
    if not _postgres():
        for hold in changed:
            Hold.objects.filter(id=hold.id).update(
                remaining=hold.remaining,
                status=HoldStatus.OPEN if hold.remaining else HoldStatus.CLOSED,
                updated_at=now,
            )
        return
    with array_cursor() as cursor:
        cursor.execute(
            f"UPDATE {Hold._meta.db_table} AS h SET remaining = v.remaining, "  # noqa: S608
            "status = CASE WHEN v.remaining = 0 THEN 'closed' ELSE h.status END, "
            "updated_at = %b "
            "FROM UNNEST(%b::uuid[], %b::bigint[]) AS v(id, remaining) WHERE h.id = v.id",
            [now, UuidArray([h.id for h in changed]), BigintArray([h.remaining for h in changed])],
        )


# --- Locking as plain values ------------------------------------------------------------------
#
# A billing tick posts thousands of charges a second. Here no model instance is made: rows are
# locked into `LockedAccount`/`LockedHold` values (PostgreSQL: one statement, arrays bound in
# binary; SQLite: the ORM).

_ACCOUNT_COLUMNS = "id, user_id, kind = 'user_wallet', balance, held"


def ordered_uuids(count: int) -> list[uuid.UUID]:
    """`count` new UUIDs in increasing order, laid out as version 7 (48 bits of Unix time in
    milliseconds, then 74 random bits, here a random start plus the position).

    Random (version 4) keys land on random pages of their B-tree indexes: a batch of thousands
    touches thousands of index pages (and, after a checkpoint, logs a full image of each);
    keys that grow with time are appended to the right-most pages."""
    return [uuid.UUID(int=i) for i in _ordered_uuid_ints(count)]


def _ordered_uuid_ints(count: int) -> range:
    """`ordered_uuids` as the UUIDs' 128-bit ints: `UuidArray` sends ints as they are, which
    saves making a `UUID` object for each (1.4 us an id)."""
    head = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | 0b10 << 62
    random_bits = int.from_bytes(os.urandom(10), "big")
    head |= (random_bits >> 68) << 64  # 12 random bits after the version
    start = random_bits & ((1 << 62) - 1) >> 1  # room for `count` more without wrapping
    return range(head | start, (head | start) + count)


class _ClientBoundCursor:
    """The fallback of `array_cursor`: Django's own cursor, with `%b` placeholders turned into
    `%s` (parameters then bind on the client: slower, same results)."""

    def __init__(self, cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params=None):
        params = None if params is None else [plain_array(p) for p in params]
        return self._cursor.execute(re.sub(r"%b\b", "%s", sql), params)

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._cursor.close()


def array_cursor(*, binary_results: bool = False):
    """A cursor on the current connection (same database transaction) that binds parameters on
    the SERVER, in binary: a list of 10,000 ids or amounts travels as one binary array instead
    of a quoted text literal built in Python (Django's psycopg cursors bind on the client, which
    cost about 60 us per batch row here). Use `%b` placeholders. It goes through Django's cursor
    wrapper (`make_cursor` / `make_debug_cursor`), so query capture and execute wrappers still
    see it. `binary_results`: rows come back in binary too (timestamps and intervals are then
    parsed in C, not by regex).

    Only public APIs of Django (`ensure_connection`, `validate_thread_sharing`,
    `queries_logged`, `make_cursor`, `make_debug_cursor`, `connection.connection`) and psycopg
    (`psycopg.Cursor`) are used; if a future version lacks one, this falls back to Django's own
    cursor (client-side binding) and logs it once. `wallets/tests/test_engine.py` fails loudly
    when the fast path is lost.
    """
    try:
        import psycopg

        connection.ensure_connection()
        connection.validate_thread_sharing()
        cursor = psycopg.Cursor(connection.connection)
        register_arrays(cursor.adapters)  # `BigintArray`, `UuidArray`: packed in one call
        if binary_results:
            cursor.format = psycopg.pq.Format.BINARY
        # Django wraps any DB-API cursor; the stubs name the wrapper as the argument's type.
        if connection.queries_logged:
            return connection.make_debug_cursor(cursor)  # type: ignore[arg-type]
        return connection.make_cursor(cursor)  # type: ignore[arg-type]
    except (ImportError, AttributeError, TypeError) as exc:
        _warn_fallback(exc)
        return _ClientBoundCursor(connection.cursor())


_fallback_logged = False


def _warn_fallback(exc: Exception) -> None:
    global _fallback_logged
    if not _fallback_logged:
        _fallback_logged = True
        logger.warning(
            "array_cursor: server-side binding unavailable (%r); binding on the client", exc
        )


def _locked_accounts(rows) -> dict[int, LockedAccount]:
    return {row[0]: LockedAccount(*row) for row in rows}


def _lock_account_rows(query) -> dict[int, LockedAccount]:
    """The ORM's way (SQLite): the same columns, locked, in lock order."""
    rows = _in_lock_order(query.select_for_update()).values_list(
        "id", "user_id", "kind", "balance", "held"
    )
    return {
        r[0]: LockedAccount(r[0], r[1], r[2] == AccountKind.USER_WALLET, r[3], r[4]) for r in rows
    }


def lock_account_values(account_ids: list[int]) -> dict[int, LockedAccount]:
    """`lock_accounts` without model instances: locks the rows (lock order) and returns their
    values by id. Inside a transaction."""
    ids = sorted(set(account_ids))
    if not _postgres():
        return _lock_account_rows(Account.objects.filter(id__in=ids))
    with array_cursor() as cursor:
        cursor.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM {Account._meta.db_table} "  # noqa: S608 - constants
            "WHERE id = ANY(%b::bigint[]) ORDER BY user_id IS NULL, id FOR UPDATE",
            [BigintArray(ids)],
        )
        return _locked_accounts(cursor.fetchall())


def lock_wallets(*, user_ids, system_kinds: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """Locks the wallets of `user_ids` and the system accounts of `system_kinds` in ONE
    statement (lock order), creating a missing wallet first. Returns `(by_user_id, by_kind)` of
    `LockedAccount`. Inside a transaction."""
    user_ids = list(set(user_ids))
    system_ids = [system_account(kind).id for kind in system_kinds]

    def lock(users: list, systems: list) -> dict[int, LockedAccount]:
        if not _postgres():
            from django.db.models import Q

            return _lock_account_rows(
                Account.objects.filter(Q(user_id__in=users) | Q(id__in=systems))
            )
        # Every identifier is a constant of this module; the values travel as parameters.
        sql = (
            f"SELECT {_ACCOUNT_COLUMNS} FROM {Account._meta.db_table} "  # noqa: S608
            "WHERE user_id = ANY(%b::uuid[]) OR id = ANY(%b::bigint[]) "
            "ORDER BY user_id IS NULL, id FOR UPDATE"
        )
        with array_cursor() as cursor:
            cursor.execute(sql, [UuidArray(users), BigintArray(systems)])
            return _locked_accounts(cursor.fetchall())

    locked = lock(user_ids, system_ids)
    by_user = {a.user_id: a for a in locked.values() if a.user_id is not None}
    missing = [uid for uid in user_ids if uid not in by_user]
    if missing:
        from accounts.models import User

        for uid in missing:  # a consultant's first earning: the wallet is made here
            wallet_for(user=User(id=uid))
        for account in lock(missing, []).values():
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
    if not _postgres():
        rows = (
            Hold.objects.select_for_update()
            .filter(id__in=ids, status=HoldStatus.OPEN)
            .order_by("id")
            .values_list("id", "account_id", "remaining")
        )
        return {row[0]: LockedHold(*row) for row in rows}
    with array_cursor() as cursor:
        cursor.execute(
            f"SELECT id, account_id, remaining FROM {Hold._meta.db_table} "  # noqa: S608
            "WHERE id = ANY(%b::uuid[]) AND status = 'open' ORDER BY id FOR UPDATE",
            [UuidArray(ids)],
        )
        return {row[0]: LockedHold(*row) for row in cursor.fetchall()}


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
    lookup: dict[str, object] = (
        {"id": hold.id}
        if hold is not None
        else {"id": hold_id}
        if hold_id is not None
        else {"idempotency_key": idempotency_key}
    )
    found = Hold.objects.filter(**lookup).first()
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
