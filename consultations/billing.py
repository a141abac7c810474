"""The billing engine: the rules of a charge written once, and one place that applies them.

The rules (`plan_charge`, pure: plain values in, a `Plan` out)
--------------------------------------------------------------
* After `s` billed seconds a client has paid `total_for(rate, s) = floor(rate * s / 60)` paise
  in total (integers only). A charge is that total minus what was charged before, so a late,
  missed or repeated tick leaves the total right, and a repeat charges nothing.
* The platform's share is cumulative too: after a charge the consultation's commission is
  `commission_for(total, percent)` with the consultation's own percentage (fixed when it was
  created; `wallets.services.commission_for` is the one rounding rule: down, the consultant
  keeps the fraction), and the charge's commission leg is the difference.
* Billable seconds: `floor(now - started_at - paused - running pause)`, where a pause is time
  after the consultant's socket has been gone for `PRESENCE_GRACE_SECONDS` (CONTRACT.md).
* Money runs out: the largest affordable `s` is `(60 * (total + funds + 1) - 1) // rate`, where
  funds is the client's available balance plus what the consultation's own hold still
  reserves. Once the billable seconds reach it, the consultation is billed up to that second
  and force-ended with `insufficient_balance`; a balance never goes below zero (and the
  database's `wallet_balance_non_negative` would refuse it anyway).
* A side gone past `DISCONNECT_TIMEOUT_SECONDS` ends it (`consultant_disconnected`,
  `client_disconnected`); a booked consultation is never charged and ends at its `ends_at`
  (`booking_over`).
* `ends_at` is the next moment the consultation must end if nothing changes: the second the
  money runs out (were the running pause to stop now), a side's disconnect timeout, a booking's
  end. The sweep every second (`services.end_due_consultations`) bills and ends what is due.
* `now` is never earlier than `last_billed_at`: a tick that took its time from a moment before
  another worker billed the row bills nothing and moves nothing back.

Applying plans (`bill_rows`, the one applier, both databases)
--------------------------------------------------------------
The caller has the consultation rows locked (`select_for_update`) and passes them as tuples of
`TICK_FIELDS`. `bill_rows` locks every wallet of the batch in one statement, in id order
(`lock_wallets`), then the open holds, plans every row from the locked balances, posts the
charges with `post_locked_batch` (each account written once) and writes the rows' billing state
in one statement. Platform revenue, which every batch credits, is locked last, just before the
commit (`wallets.services.LateCredits`): its entries and its one UPDATE are the batch's last
statements, so batches on several connections (`BILLING_WORKERS`) overlap everything else.
On PostgreSQL those statements take arrays (a fixed number of statements per batch:
bench/BILLING.md); on SQLite (the embedded mode) the ORM writes the same rows.

One consultation that cannot be billed (a bug, a constraint) never stops the others: planning
is per row, and the writes run in a savepoint; if they fail, the batch is split in halves, each
retried in its own savepoint, down to the one row that fails, which is set aside (rolled back,
logged with its id, counted in `set_aside_total`) while the rest are billed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from config import metrics
from config.events import announce_many, user_group
from consultations.models import Consultation, EndReason, Kind, Status
from wallets import keys
from wallets.arrays import BigintArray, UuidArray
from wallets.models import AccountKind, EntryKind
from wallets.services import (
    LateCredits,
    Leg,
    LockedHold,
    Posting,
    array_cursor,
    commission_for,
    lock_open_holds,
    lock_wallets,
    post_locked_batch,
    unlocked_system_account,
)

logger = logging.getLogger(__name__)

ONE_SECOND = timedelta(seconds=1)
NO_TIME = timedelta(0)
BALANCE_LOW_SECONDS = 120


# --- The rules, over plain values ---------------------------------------------------------------


def total_for(*, rate_per_minute: int, seconds: int) -> int:
    """Paise a client has paid in total after `seconds` billed seconds at `rate_per_minute`."""
    return rate_per_minute * seconds // 60


def affordable_seconds(*, rate_per_minute: int, budget: int) -> int:
    """The largest `s` with `total_for(rate, s) <= budget` (paise)."""
    return (60 * (budget + 1) - 1) // rate_per_minute


def grace() -> timedelta:
    return timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)


def timeout() -> timedelta:
    return timedelta(seconds=settings.DISCONNECT_TIMEOUT_SECONDS)


def pause_since(started_at, absent_since, now: datetime, grace: timedelta) -> timedelta:
    """Unbilled time of the consultant's current absence (past the grace), up to `now`."""
    if absent_since is None or started_at is None:
        return NO_TIME
    return max(NO_TIME, now - max(absent_since + grace, started_at))


def billable(started_at, paused, absent_since, now: datetime, grace: timedelta) -> int:
    """Whole billable seconds since acceptance, up to `now`."""
    if started_at is None:
        return 0
    elapsed = now - started_at - paused - pause_since(started_at, absent_since, now, grace)
    return max(0, elapsed // ONE_SECOND)


def gone_at(absent_since, started_at, timeout: timedelta) -> datetime | None:
    """When a side absent since `absent_since` has been gone too long (None: it is there)."""
    if absent_since is None:
        return None
    return max(absent_since, started_at or absent_since) + timeout


@dataclass(slots=True)
class Plan:
    """What billing one consultation at `billed_at` does."""

    seconds: int  # billed seconds after it
    total: int  # paise charged in total after it
    charge: int  # paise charged now (>= 0)
    commission: int  # the platform's part of `charge`
    end_reason: str | None  # the engine's own reason to end it now, if any
    remaining_seconds: int  # seconds the client's funds still pay for after it
    ends_at: datetime | None  # the next moment it must end if nothing changes
    billed_at: datetime  # its new `last_billed_at` (never earlier than the old one)


def plan_charge(
    *,
    kind: str,
    rate: int,
    percent: int,
    started_at: datetime,
    paused: timedelta,
    consultant_absent_since: datetime | None,
    client_absent_since: datetime | None,
    billed_seconds: int,
    total_amount: int,
    commission_amount: int,
    last_billed_at: datetime | None,
    ends_at: datetime | None,
    funds: int,
    now: datetime,
    grace: timedelta,
    timeout: timedelta,
) -> Plan:
    """THE billing rules (see the module's docstring), for one consultation at `now`, from
    plain values: the ORM's and the tuples' alike."""
    if last_billed_at is not None and now < last_billed_at:
        now = last_billed_at  # another worker billed it later than our `now`: nothing to do
    if kind == Kind.BOOKED:  # prepaid: never charged here, ends on schedule
        due = ends_at is not None and ends_at <= now
        return Plan(
            billed_seconds,
            total_amount,
            0,
            0,
            EndReason.BOOKING_OVER if due else None,
            0,
            ends_at,
            now,
        )
    last_second = affordable_seconds(rate_per_minute=rate, budget=total_amount + funds)
    pause = pause_since(started_at, consultant_absent_since, now, grace)
    elapsed = now - started_at - paused - pause
    target = max(max(0, elapsed // ONE_SECOND), billed_seconds)
    consultant_gone = gone_at(consultant_absent_since, started_at, timeout)
    client_gone = gone_at(client_absent_since, started_at, timeout)
    reason = None
    if consultant_gone is not None and consultant_gone <= now:
        reason = EndReason.CONSULTANT_DISCONNECTED
    elif client_gone is not None and client_gone <= now:
        reason = EndReason.CLIENT_DISCONNECTED
    if target >= last_second:
        target = last_second  # billed up to the second the money lasts, and no further
        reason = EndReason.INSUFFICIENT_BALANCE
    total = total_for(rate_per_minute=rate, seconds=target)
    commission = commission_for(total, percent=percent) - commission_amount
    if reason is not None:
        return Plan(target, total, total - total_amount, commission, reason, 0, None, now)
    # The money runs out `last_second` billable seconds after the start, were the running pause
    # to stop now (if it goes on, the sweep finds nothing to end and looks again later).
    next_end = started_at + paused + pause + timedelta(seconds=last_second)
    for moment in (consultant_gone, client_gone):
        if moment is not None and moment < next_end:
            next_end = moment
    return Plan(
        target,
        total,
        total - total_amount,
        commission,
        None,
        last_second - target,
        next_end,
        now,
    )


def plan_for(consultation: Consultation, *, funds: int, now: datetime) -> Plan:
    """`plan_charge` for a model instance (accepting, tests)."""
    c = consultation
    assert c.started_at is not None, "only a started consultation has a plan"
    return plan_charge(
        kind=c.kind,
        rate=c.rate_per_minute,
        percent=c.commission_percent,
        started_at=c.started_at,
        paused=c.paused,
        consultant_absent_since=c.consultant_absent_since,
        client_absent_since=c.client_absent_since,
        billed_seconds=c.billed_seconds,
        total_amount=c.total_amount,
        commission_amount=c.commission_amount,
        last_billed_at=c.last_billed_at,
        ends_at=c.ends_at,
        funds=funds,
        now=now,
        grace=grace(),
        timeout=timeout(),
    )


def running_pause(consultation: Consultation, now: datetime) -> timedelta:
    return pause_since(consultation.started_at, consultation.consultant_absent_since, now, grace())


def consultant_user_id(consultation: Consultation):
    """The consultant's user id: annotated by a query (no profile row loaded), else read from
    the profile."""
    annotated = getattr(consultation, "consultant_user_id", None)
    return annotated if annotated is not None else consultation.consultant.user_id


# --- Applying plans ------------------------------------------------------------------------------

# What the engine reads of each locked row, in this order.
TICK_FIELDS = (
    "id",
    "client_id",
    "consultant__user_id",
    "channel",
    "kind",
    "rate_per_minute",
    "commission_percent",
    "started_at",
    "paused",
    "consultant_absent_since",
    "client_absent_since",
    "billed_seconds",
    "total_amount",
    "commission_amount",
    "consultant_amount",
    "hold_id",
    "balance_low_sent",
    "last_billed_at",
    "ends_at",
)

# What it writes back, in this order (after `id`), with PostgreSQL's type for the arrays.
BILLING_FIELDS = [
    ("billed_seconds", "bigint"),
    ("total_amount", "bigint"),
    ("commission_amount", "bigint"),
    ("consultant_amount", "bigint"),
    ("last_billed_at", "timestamptz"),
    ("balance_low_sent", "boolean"),
    ("status", "varchar"),
    ("end_reason", "varchar"),
    ("ended_at", "timestamptz"),
    ("ends_at", "timestamptz"),
]

# Consultations set aside (not billable: a bug, a constraint), by this process (tests read it;
# /metrics has `consult_billing_set_aside`, for every process).
set_aside_total: Counter[str] = Counter()


def count_set_aside(consultation_id, error: BaseException) -> None:
    set_aside_total["consultations"] += 1
    metrics.billing_set_aside()
    logger.error(
        "billing: consultation %s set aside (not billed this time): %r",
        consultation_id,
        error,
        exc_info=error,
    )


@dataclass
class Ending:
    """How a caller (a participant, an admin) wants a consultation to end, after its final
    charge is settled."""

    status: str
    reason: str
    actor_id: object = None


@dataclass
class Billed:
    """One row's outcome."""

    consultation_id: object
    charged: int  # paise charged now
    client_balance: int  # the client's wallet balance afterwards
    status: str  # active, or the final status it ended with
    end_reason: str | None


@dataclass
class BillResult:
    billed: list[Billed]
    charges: int  # postings written
    ended: dict  # consultation id -> (status, end_reason) for the rows that ended
    set_aside: list  # consultation ids not billed this time


def read_locked_rows(query, *, limit: int | None = None) -> list[tuple]:
    """The rows of `query` (a `select_for_update` queryset, in the caller's transaction) as
    `TICK_FIELDS` tuples: on PostgreSQL read in binary (timestamps parsed in C)."""
    rows = query.values_list(*TICK_FIELDS)
    if limit is not None:
        rows = rows[:limit]
    if connection.vendor != "postgresql":
        return list(rows)
    sql, params = rows.query.sql_with_params()
    with array_cursor(binary_results=True) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def bill_rows(
    rows: list[tuple],
    *,
    now: datetime,
    endings: dict | None = None,
    announce_ticks: bool = True,
    on_end: Callable[[dict], None] | None = None,
) -> BillResult:
    """Bills locked rows (`TICK_FIELDS` tuples) up to `now` and ends what must end.

    Must run inside a transaction with the rows locked. `endings` maps a consultation id to the
    `Ending` its caller asks for; the engine adds its own (`insufficient_balance`,
    `consultant_disconnected`, `client_disconnected`, `booking_over`). A row that ends gets its
    final status, `end_reason` and `ended_at` written with its billing state, and `on_end` is
    called with `{id: Ending}` of those rows inside the same savepoint (the services close them
    there: hold, consultant, audit, signal), so a row whose closing fails is set aside whole.
    Announces `billing_tick` and `balance_low` after commit.
    """
    endings = dict(endings or {})
    if not rows:
        return BillResult([], 0, {}, [])
    user_ids = [row[1] for row in rows] + [row[2] for row in rows]
    wallets, _ = lock_wallets(user_ids=user_ids)
    # Locked last, at the end of the batch (`LateCredits`): concurrent batches wait for each
    # other only for its few statements and the commit.
    platform = unlocked_system_account(AccountKind.PLATFORM_REVENUE)
    holds = lock_open_holds(row[15] for row in rows)
    the_grace, the_timeout = grace(), timeout()

    items: list[_Item] = []
    set_aside: list = []
    for row in rows:
        try:
            items.append(
                _plan_row(row, wallets, holds, platform, endings, now, the_grace, the_timeout)
            )
        except Exception as exc:  # noqa: BLE001 - one row must not stop the batch
            count_set_aside(row[0], exc)
            set_aside.append(row[0])

    applied = _apply_isolating(items, wallets, platform, holds, now, on_end, set_aside)

    frames: list[tuple[str, dict]] = []
    billed: list[Billed] = []
    ended: dict = {}
    charges = 0
    for item in applied:
        row, plan = item.row, item.plan
        billed.append(Billed(row[0], plan.charge, item.client_balance, item.status, item.reason))
        if item.status != Status.ACTIVE:
            ended[row[0]] = (item.status, item.reason)
        if plan.charge:
            charges += 1
        if item.low_frame:
            frames.append(
                (
                    user_group(row[1]),
                    {
                        "type": "balance_low",
                        "session_id": str(row[0]),
                        "remaining_seconds": plan.remaining_seconds,
                    },
                )
            )
        if announce_ticks and plan.charge:
            frame = {
                "type": "billing_tick",
                "session_id": str(row[0]),
                "billed_seconds": plan.seconds,
                "total_amount": plan.total,
                "balance": item.client_balance,
                "remaining_seconds": 0 if item.status != Status.ACTIVE else plan.remaining_seconds,
            }
            frames.append((user_group(row[1]), frame))
            frames.append((user_group(row[2]), frame))
    # One send for the whole batch after commit (one event loop, pipelined publishes).
    announce_many(frames)
    return BillResult(billed, charges, ended, set_aside)


@dataclass(slots=True)
class _Item:
    row: tuple
    plan: Plan
    posting: Posting | None
    status: str
    reason: str | None
    ending: Ending | None
    low_frame: bool
    client_balance: int


def _plan_row(row, wallets, holds, platform, endings, now, the_grace, the_timeout) -> _Item:
    (cid, client_id, consultant_uid, channel, kind, rate, percent, started_at, paused,
     k_absent, c_absent, billed, total0, commission0, consultant0, hold_id, low_sent,
     last_billed_at, ends_at) = row  # fmt: skip
    client = wallets[client_id]
    own_hold = holds.get(hold_id)
    funds = client.balance - client.held + (own_hold.remaining if own_hold else 0)
    plan = plan_charge(
        kind=kind,
        rate=rate,
        percent=percent,
        started_at=started_at,
        paused=paused,
        consultant_absent_since=k_absent,
        client_absent_since=c_absent,
        billed_seconds=billed,
        total_amount=total0,
        commission_amount=commission0,
        last_billed_at=last_billed_at,
        ends_at=ends_at,
        funds=funds,
        now=now,
        grace=the_grace,
        timeout=the_timeout,
    )
    posting = None
    if plan.charge > 0:
        cid_text = str(cid)
        share = plan.charge - plan.commission
        legs = [Leg(client, -plan.charge, EntryKind.CONSULTATION_CHARGE)]
        if share:
            legs.append(Leg(wallets[consultant_uid], share, EntryKind.CONSULTATION_EARNING))
        if plan.commission:
            legs.append(Leg(platform, plan.commission, EntryKind.COMMISSION))
        posting = Posting(
            kind=EntryKind.CONSULTATION_CHARGE,
            legs=legs,
            idempotency_key=keys.consultation_charge(cid_text, plan.seconds),
            reference_type="consultation",
            reference_id=cid_text,
            description=f"{channel} consultation, {plan.seconds} s billed",
            consume_hold=own_hold if own_hold and own_hold.remaining else None,
        )
    ending = endings.get(cid)  # a caller's own ending stands
    if ending is None and plan.end_reason is not None:
        status = Status.ENDED if plan.end_reason == EndReason.BOOKING_OVER else Status.FORCE_ENDED
        ending = Ending(status, plan.end_reason)
    status, reason = (ending.status, ending.reason) if ending else (Status.ACTIVE, None)
    low_frame = (
        status == Status.ACTIVE
        and kind == Kind.INSTANT
        and not low_sent
        and plan.remaining_seconds < BALANCE_LOW_SECONDS
    )
    return _Item(row, plan, posting, status, reason, ending, low_frame, client.balance)


def _snapshot(wallets: dict, holds: dict) -> tuple:
    # Platform revenue is not in it: its legs are written late (`LateCredits`), from the row.
    accounts = {a.id: (a.balance, a.held) for a in wallets.values()}
    return accounts, {h.id: h.remaining for h in holds.values()}


def _restore(snapshot: tuple, wallets: dict, holds: dict) -> None:
    accounts, remaining = snapshot
    for account in wallets.values():
        account.balance, account.held = accounts[account.id]
    for hold in holds.values():
        hold.remaining = remaining[hold.id]


def _apply_isolating(items, wallets, platform, holds, now, on_end, set_aside) -> list[_Item]:
    """Applies `items` in a savepoint; on failure, halves and retries each half in its own, down
    to the single rows that fail (set aside). Returns the items applied."""
    if not items:
        return []
    snapshot = _snapshot(wallets, holds)
    try:
        with transaction.atomic():
            _apply(items, wallets, platform, holds, now, on_end)
        return items
    except Exception as exc:  # noqa: BLE001 - isolate the row(s) that cannot be billed
        _restore(snapshot, wallets, holds)
        if len(items) == 1:
            count_set_aside(items[0].row[0], exc)
            set_aside.append(items[0].row[0])
            return []
    middle = len(items) // 2
    return _apply_isolating(
        items[:middle], wallets, platform, holds, now, on_end, set_aside
    ) + _apply_isolating(items[middle:], wallets, platform, holds, now, on_end, set_aside)


def _apply(items: list[_Item], wallets, platform, holds, now, on_end) -> None:
    postings = [item.posting for item in items if item.posting is not None]
    accounts = {a.id: a for a in wallets.values()}
    late = LateCredits([platform])
    # Built above from locked rows: two or three legs summing to zero, a key that cannot exist.
    post_locked_batch(
        postings=postings,
        accounts=accounts,
        holds=holds,
        now=now,
        checked=True,
        must_be_new=True,
        late=late,
    )
    for item in items:
        item.client_balance = wallets[item.row[1]].balance
    columns: list[list] = [[] for _ in range(len(BILLING_FIELDS) + 1)]
    for item in items:
        row, plan = item.row, item.plan
        finished = item.status != Status.ACTIVE
        values = (
            row[0],
            plan.seconds,
            plan.total,
            row[13] + plan.commission,
            row[14] + plan.charge - plan.commission,
            plan.billed_at,
            row[16] or item.low_frame,
            item.status,
            item.reason,
            now if finished else None,
            None if finished and row[4] == Kind.INSTANT else plan.ends_at,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    write_billing_state(columns, now=now)
    ended = {item.row[0]: item.ending for item in items if item.status != Status.ACTIVE}
    if ended and on_end is not None:
        on_end(ended)
    late.write(now)  # the commissions, platform revenue locked for this and the commit only


def write_billing_state(columns: list[list], *, now: datetime) -> None:
    """Writes the rows' billing fields (`id` then BILLING_FIELDS' order, one list per column) in
    ONE statement on PostgreSQL: an `UPDATE ... FROM UNNEST(arrays)`, whose size and planning
    cost grow linearly (Django's `bulk_update` builds a `CASE WHEN` per row and field).
    `last_billed_at` only moves forward (GREATEST), whoever wrote it last."""
    if connection.vendor != "postgresql":
        names = [name for name, _ in BILLING_FIELDS]
        # SQLite has one writer at a time, and `plan_charge` never moves `last_billed_at` back.
        for values in zip(*columns, strict=True):
            fields = dict(zip(names, values[1:], strict=True))
            Consultation.objects.filter(id=values[0]).update(**fields, updated_at=now)
        return
    table = Consultation._meta.db_table
    typed = [("id", "uuid"), *BILLING_FIELDS]  # (column, PostgreSQL type)
    unnest = ", ".join(f"%b::{kind}[]" for _, kind in typed)
    aliases = ", ".join(name for name, _ in typed)
    assignments = ", ".join(
        "last_billed_at = GREATEST(c.last_billed_at, v.last_billed_at)"
        if name == "last_billed_at"
        else f"{name} = v.{name}"
        for name, _ in BILLING_FIELDS
    )
    # Every identifier here is a constant of this module; the values travel as parameters.
    sql = (
        f"UPDATE {table} AS c SET {assignments}, updated_at = %b "  # noqa: S608
        # The ANY lets the planner probe the primary key instead of hashing the whole table.
        f"FROM UNNEST({unnest}) AS v({aliases}) WHERE c.id = v.id AND c.id = ANY(%b::uuid[])"
    )
    packed = {"uuid": UuidArray, "bigint": BigintArray}  # the rest: psycopg's own lists
    arrays = [
        packed.get(kind, list)(column) for (_, kind), column in zip(typed, columns, strict=True)
    ]
    with array_cursor() as cursor:
        cursor.execute(sql, [now, *arrays, arrays[0]])


__all__ = [
    "BillResult",
    "Ending",
    "LockedHold",
    "Plan",
    "affordable_seconds",
    "bill_rows",
    "plan_charge",
    "read_locked_rows",
    "total_for",
]
