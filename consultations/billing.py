"""The billing engine: exact per-second charges over locked consultations, in batches.

The arithmetic, written once
----------------------------
* After `s` billed seconds a client has paid `total_for(rate, s) = floor(rate * s / 60)` paise
  in total (integers only). A charge is that total minus what was charged before, so a late,
  missed or repeated tick leaves the total right, and a repeat charges nothing.
* The platform's share is cumulative too: after a charge the consultation's commission is
  `commission_for(total)` (`wallets.services.commission_for`, the one rounding rule: rounded
  down, the consultant keeps the fraction), and the charge's commission leg is the difference.
  So per consultation `commission_amount = commission_for(total_amount)` and
  `consultant_amount = total_amount - commission_amount`, to the paisa, whatever the ticks.
* Billable seconds: `floor(now - started_at - paused - running pause)`, where a pause is time
  after the consultant's socket has been gone for `PRESENCE_GRACE_SECONDS`.
* Money runs out: the largest affordable `s` is `(60 * (total + funds + 1) - 1) // rate`, where
  funds is the client's available balance plus what the consultation's own hold still
  reserves. If the target second is past it, the consultation is billed up to that second and
  force-ended with `insufficient_balance` in the same transaction; a balance never goes below
  zero (and the database's `wallet_balance_non_negative` would refuse it anyway).

Locking: the caller has the consultation rows locked (`select_for_update`). `settle` then locks
every wallet of the batch plus platform revenue at once, in id order (`lock_accounts`), sizes
each charge from the locked balances and posts the whole batch with `post_transactions_batch`,
which writes each account once: the platform revenue row once per batch, not per charge.

The tick on PostgreSQL: `bill_batch_postgres` does what `settle` does for a batch of due rows,
with the same arithmetic and the same locks in the same order, but over tuples and arrays (no
model instance on the hot path, a fixed number of statements per batch: bench/BILLING.md).
`settle` stays the one path for SQLite (the embedded mode) and for ending one consultation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from config.events import announce_many, user_group
from consultations.models import Consultation, EndReason, Kind, Status
from wallets import keys
from wallets.models import AccountKind, EntryKind, Hold, HoldStatus
from wallets.services import (
    Leg,
    Posting,
    array_cursor,
    commission_for,
    lock_accounts,
    lock_open_holds,
    lock_wallets,
    post_locked_batch,
    post_transactions_batch,
    system_account,
    wallet_for,
)

logger = logging.getLogger(__name__)

ONE_SECOND = timedelta(seconds=1)
BALANCE_LOW_SECONDS = 120


# --- Arithmetic -------------------------------------------------------------------------------


def total_for(*, rate_per_minute: int, seconds: int) -> int:
    """Paise a client has paid in total after `seconds` billed seconds at `rate_per_minute`."""
    return rate_per_minute * seconds // 60


def affordable_seconds(*, rate_per_minute: int, budget: int) -> int:
    """The largest `s` with `total_for(rate, s) <= budget` (paise)."""
    return (60 * (budget + 1) - 1) // rate_per_minute


def _grace() -> timedelta:
    return timedelta(seconds=settings.PRESENCE_GRACE_SECONDS)


def _timeout() -> timedelta:
    return timedelta(seconds=settings.DISCONNECT_TIMEOUT_SECONDS)


def pause_since(started_at, absent_since, now: datetime, grace: timedelta) -> timedelta:
    """Unbilled time of the consultant's current absence (past the grace), up to `now`."""
    if absent_since is None or started_at is None:
        return timedelta(0)
    return max(timedelta(0), now - max(absent_since + grace, started_at))


def billable(started_at, paused, absent_since, now: datetime, grace: timedelta) -> int:
    """Whole seconds both sides have been there since acceptance, up to `now`: the rule over
    plain values, shared by the ORM path and the set-based batch."""
    if started_at is None:
        return 0
    elapsed = now - started_at - paused - pause_since(started_at, absent_since, now, grace)
    return max(0, elapsed // ONE_SECOND)


def gone_too_long(absent_since, started_at, now: datetime, timeout: timedelta) -> bool:
    return absent_since is not None and now - max(absent_since, started_at or now) >= timeout


def running_pause(consultation: Consultation, now: datetime) -> timedelta:
    return pause_since(consultation.started_at, consultation.consultant_absent_since, now, _grace())


def billable_seconds(consultation: Consultation, now: datetime) -> int:
    c = consultation
    return billable(c.started_at, c.paused, c.consultant_absent_since, now, _grace())


def disconnect_reason(consultation: Consultation, now: datetime) -> str | None:
    """`consultant_disconnected` / `client_disconnected` once a side has been gone too long."""
    c, timeout = consultation, _timeout()
    if gone_too_long(c.consultant_absent_since, c.started_at, now, timeout):
        return EndReason.CONSULTANT_DISCONNECTED
    if gone_too_long(c.client_absent_since, c.started_at, now, timeout):
        return EndReason.CLIENT_DISCONNECTED
    return None


# --- Settling a batch -------------------------------------------------------------------------


@dataclass
class Ending:
    """How a consultation should end once its final charge is settled."""

    status: str
    reason: str
    actor_id: object = None


@dataclass
class Settled:
    consultation: Consultation
    charged: int  # paise charged now
    client_balance: int  # the client's wallet balance afterwards
    remaining_seconds: int  # seconds the client's funds still pay for


def consultant_user_id(consultation: Consultation):
    """The consultant's user id: annotated by the tick's query (no profile row loaded), else
    read from the profile."""
    annotated = getattr(consultation, "consultant_user_id", None)
    return annotated if annotated is not None else consultation.consultant.user_id


def settle(
    rows: list[Consultation],
    *,
    now: datetime,
    endings: dict | None = None,
    announce_ticks: bool = True,
) -> list[Settled]:
    """Bills every locked active row up to `now`, ends what must end, writes it all.

    Must run inside a transaction with `rows` locked. `endings` maps a consultation id to the
    `Ending` its caller asks for (a participant or an admin ending it); the engine adds its own
    (`insufficient_balance`, `consultant_disconnected`, `client_disconnected`, and
    `booking_over` for a booked row whose `ends_at` has come). Rows that end get their final
    status, `end_reason` and `ended_at`, written with the billing state; the caller closes them
    (`services.close_consultations`). Announces `billing_tick` and `balance_low` after commit.
    A booked row is never charged.
    """
    if not rows:
        return []
    endings = dict(endings or {})
    platform = system_account(AccountKind.PLATFORM_REVENUE)
    wallet_ids = _wallet_ids(rows)
    locked = lock_accounts([platform.id, *wallet_ids.values()])
    hold_ids = [row.hold_id for row in rows if row.hold_id is not None]
    # The wallets are locked, so the holds on them cannot move under us.
    holds = (
        {h.id: h for h in Hold.objects.filter(id__in=hold_ids, status=HoldStatus.OPEN)}
        if hold_ids
        else {}
    )

    postings: list[Posting] = []
    settled: list[Settled] = []
    for row in rows:
        client_wallet = locked[wallet_ids[row.client_id]]
        consultant_wallet = locked[wallet_ids[consultant_user_id(row)]]
        if row.kind == Kind.BOOKED:  # prepaid: never charged here, ends on schedule
            if row.id not in endings and row.ends_at is not None and row.ends_at <= now:
                endings[row.id] = Ending(Status.ENDED, EndReason.BOOKING_OVER)
            row.last_billed_at = now
            settled.append(Settled(row, 0, client_wallet.balance, 0))
            continue
        own_hold = holds.get(row.hold_id)
        funds = client_wallet.balance - client_wallet.held + (own_hold.remaining if own_hold else 0)
        last_second = affordable_seconds(
            rate_per_minute=row.rate_per_minute, budget=row.total_amount + funds
        )
        target = max(billable_seconds(row, now), row.billed_seconds)
        reason = disconnect_reason(row, now)
        if target > last_second:
            target = last_second  # billed up to the second the money lasts
            reason = EndReason.INSUFFICIENT_BALANCE
        if reason is not None and row.id not in endings:  # a caller's own ending stands
            endings[row.id] = Ending(Status.FORCE_ENDED, reason)

        total = total_for(rate_per_minute=row.rate_per_minute, seconds=target)
        charge = total - row.total_amount
        commission = commission_for(total, percent=row.commission_percent) - row.commission_amount
        if charge > 0:
            legs = [Leg(client_wallet, -charge, EntryKind.CONSULTATION_CHARGE)]
            if charge - commission:
                legs.append(
                    Leg(consultant_wallet, charge - commission, EntryKind.CONSULTATION_EARNING)
                )
            if commission:
                legs.append(Leg(locked[platform.id], commission, EntryKind.COMMISSION))
            postings.append(
                Posting(
                    kind=EntryKind.CONSULTATION_CHARGE,
                    legs=legs,
                    idempotency_key=keys.consultation_charge(row.id, target),
                    reference_type="consultation",
                    reference_id=str(row.id),
                    description=f"{row.channel} consultation, {target} s billed",
                    consume_hold=own_hold if own_hold and own_hold.remaining else None,
                )
            )
            row.commission_amount += commission
            row.consultant_amount += charge - commission
            row.total_amount = total
        row.billed_seconds = target
        row.last_billed_at = now
        settled.append(
            Settled(
                consultation=row,
                charged=max(charge, 0),
                client_balance=client_wallet.balance - max(charge, 0),
                remaining_seconds=max(0, last_second - target),
            )
        )

    # One posting per charge, one write per account for the whole batch.
    post_transactions_batch(postings=postings)

    ended = [s for s in settled if s.consultation.id in endings]
    for item in ended:
        ending = endings[item.consultation.id]
        row = item.consultation
        row.status = ending.status
        row.end_reason = ending.reason
        row.ended_at = now
        item.remaining_seconds = 0
    frames: list[tuple[str, dict]] = []
    for item in settled:
        row = item.consultation
        if (
            row.status == Status.ACTIVE
            and row.kind == Kind.INSTANT
            and not row.balance_low_sent
            and item.remaining_seconds < BALANCE_LOW_SECONDS
        ):
            row.balance_low_sent = True
            frames.append(
                (
                    user_group(row.client_id),
                    {
                        "type": "balance_low",
                        "session_id": str(row.id),
                        "remaining_seconds": item.remaining_seconds,
                    },
                )
            )

    save_billing_state(rows, now=now)

    if announce_ticks:
        for item in settled:
            if item.charged:
                row = item.consultation
                frame = {
                    "type": "billing_tick",
                    "session_id": str(row.id),
                    "billed_seconds": row.billed_seconds,
                    "total_amount": row.total_amount,
                    "balance": item.client_balance,
                    "remaining_seconds": item.remaining_seconds,
                }
                frames.append((user_group(row.client_id), frame))
                frames.append((user_group(consultant_user_id(row)), frame))
    # One send for the whole batch after commit (one event loop, concurrent group sends).
    announce_many(frames)
    return settled


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
]


def save_billing_state(rows: list[Consultation], *, now: datetime) -> None:
    """Writes the rows' billing fields in ONE statement.

    On PostgreSQL an `UPDATE ... FROM UNNEST(arrays)`: one array per column, so the statement's
    size and planning cost grow linearly (Django's `bulk_update` builds a `CASE WHEN` per row
    and field, which costs seconds of Python at a few hundred rows).
    """
    for row in rows:
        row.updated_at = now
    if connection.vendor != "postgresql":
        Consultation.objects.bulk_update(
            rows, [name for name, _ in BILLING_FIELDS] + ["updated_at"]
        )
        return
    table = Consultation._meta.db_table
    columns = [("id", "uuid"), *BILLING_FIELDS]
    unnest = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    names = ", ".join(name for name, _ in columns)
    assignments = ", ".join(f"{name} = v.{name}" for name, _ in BILLING_FIELDS)
    # Every identifier here is a constant of this module; the values travel as parameters.
    sql = (
        f"UPDATE {table} AS c SET {assignments}, updated_at = %s "  # noqa: S608
        f"FROM UNNEST({unnest}) AS v({names}) WHERE c.id = v.id"
    )
    params = [[getattr(row, name) for row in rows] for name, _ in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *params])


def _wallet_ids(rows: list[Consultation]) -> dict:
    """user id -> wallet (account) id for every client and consultant of `rows`."""
    from wallets.models import Account

    user_ids = {row.client_id for row in rows} | {consultant_user_id(row) for row in rows}
    found = dict(Account.objects.filter(user_id__in=user_ids).values_list("user_id", "id"))
    for user_id in user_ids - set(found):
        # A consultant's first earning: the wallet is made here (its own savepoint).
        from accounts.models import User

        found[user_id] = wallet_for(user=User(id=user_id)).id
    return found


# --- The tick's batch on PostgreSQL: tuples and arrays, no model instances --------------------

# What the tick reads of each locked row, in this order.
TICK_FIELDS = (
    "id",
    "client_id",
    "consultant__user_id",
    "channel",
    "rate_per_minute",
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
    "commission_percent",
)


@dataclass
class BatchReport:
    billed: int  # consultations settled
    charges: int  # postings written
    last_id: object  # the batch's last consultation id (the next batch starts after it)
    ended: dict  # consultation id -> end reason, for the rows that ended (written already)


def bill_batch_postgres(
    query, *, now: datetime, batch_size: int, announce_ticks: bool = True
) -> BatchReport | None:
    """One batch of the tick on PostgreSQL, inside the caller's (durable) transaction: `settle`
    for the locked due rows of `query`, in a fixed number of statements.

    Takes up to `batch_size` rows of `query` (in id order, `select_for_update(skip_locked)`) as
    tuples, locks every wallet of the batch and platform revenue in one statement
    (`wallets.services.lock_wallets`), then the open holds, sizes each charge in plain ints from
    the locked balances exactly as `settle` does, posts the batch with
    `wallets.services.post_locked_batch` (each account written once), writes the rows' billing
    state in one `UPDATE ... FROM UNNEST` (with the final status of the rows that end; the
    caller closes those). Frames go out after commit. None when nothing is due. Instant rows
    only (the caller's query says so).
    """
    sql, params = query.values_list(*TICK_FIELDS)[:batch_size].query.sql_with_params()
    with array_cursor(binary_results=True) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    user_ids = [row[1] for row in rows] + [row[2] for row in rows]
    wallets, system = lock_wallets(user_ids=user_ids, system_kinds=(AccountKind.PLATFORM_REVENUE,))
    platform = system[AccountKind.PLATFORM_REVENUE]
    holds = lock_open_holds(row[13] for row in rows)

    grace = _grace()
    timeout = _timeout()
    charge_kind = EntryKind.CONSULTATION_CHARGE
    earning_kind = EntryKind.CONSULTATION_EARNING
    commission_kind = EntryKind.COMMISSION
    postings: list[Posting] = []
    # The rows' new billing state, one list per column (BILLING_FIELDS' order).
    ids, seconds, totals, commissions, consultant_amounts = [], [], [], [], []
    lows, statuses, reasons, ended_ats = [], [], [], []
    ticks: list[tuple] = []  # (row, seconds, total, client balance after, remaining seconds)
    frames: list[tuple[str, dict]] = []
    ended: dict = {}
    for row in rows:
        (cid, client_id, consultant_uid, channel, rate, started_at, paused, k_absent, c_absent,
         billed, total0, commission0, consultant0, hold_id, low_sent, percent) = row  # fmt: skip
        client = wallets[client_id]
        own_hold = holds.get(hold_id)
        funds = client.balance - client.held + (own_hold.remaining if own_hold else 0)
        last_second = affordable_seconds(rate_per_minute=rate, budget=total0 + funds)
        target = max(billable(started_at, paused, k_absent, now, grace), billed)
        reason = None
        if gone_too_long(k_absent, started_at, now, timeout):
            reason = EndReason.CONSULTANT_DISCONNECTED
        elif gone_too_long(c_absent, started_at, now, timeout):
            reason = EndReason.CLIENT_DISCONNECTED
        if target > last_second:
            target = last_second  # billed up to the second the money lasts
            reason = EndReason.INSUFFICIENT_BALANCE

        total = total_for(rate_per_minute=rate, seconds=target)
        charge = total - total0
        commission = commission_for(total, percent=percent) - commission0
        if charge > 0:
            legs = [Leg(client, -charge, charge_kind)]
            if charge - commission:
                legs.append(Leg(wallets[consultant_uid], charge - commission, earning_kind))
            if commission:
                legs.append(Leg(platform, commission, commission_kind))
            postings.append(
                Posting(
                    kind=charge_kind,
                    legs=legs,
                    idempotency_key=keys.consultation_charge(cid, target),
                    reference_type="consultation",
                    reference_id=str(cid),
                    description=f"{channel} consultation, {target} s billed",
                    consume_hold=own_hold if own_hold and own_hold.remaining else None,
                )
            )
            commission0 += commission
            consultant0 += charge - commission
        else:
            charge = 0
        remaining = max(0, last_second - target)
        if reason is not None:
            ended[cid] = reason
            remaining = 0
            statuses.append(Status.FORCE_ENDED)
            reasons.append(reason)
            ended_ats.append(now)
        else:
            statuses.append(Status.ACTIVE)
            reasons.append(None)
            ended_ats.append(None)
            if not low_sent and remaining < BALANCE_LOW_SECONDS:
                low_sent = True
                frames.append(
                    (
                        user_group(client_id),
                        {
                            "type": "balance_low",
                            "session_id": str(cid),
                            "remaining_seconds": remaining,
                        },
                    )
                )
        ids.append(cid)
        seconds.append(target)
        totals.append(total)
        commissions.append(commission0)
        consultant_amounts.append(consultant0)
        lows.append(low_sent)
        if charge:
            ticks.append((row, target, total, client.balance - charge, remaining))

    # One posting per charge, one write per account for the whole batch.
    post_locked_batch(
        postings=postings,
        accounts=_by_id(wallets, platform),
        holds=holds,
        checked=True,  # built above from locked rows: two or three legs summing to zero
    )
    _write_billing_state(
        [
            ids,
            seconds,
            totals,
            commissions,
            consultant_amounts,
            [now] * len(ids),
            lows,
            statuses,
            reasons,
            ended_ats,
        ],  # fmt: skip
        now=now,
    )
    if announce_ticks:
        for row, target, total, balance, remaining in ticks:
            frame = {
                "type": "billing_tick",
                "session_id": str(row[0]),
                "billed_seconds": target,
                "total_amount": total,
                "balance": balance,
                "remaining_seconds": remaining,
            }
            frames.append((user_group(row[1]), frame))
            frames.append((user_group(row[2]), frame))
    announce_many(frames)
    return BatchReport(billed=len(rows), charges=len(postings), last_id=rows[-1][0], ended=ended)


def _by_id(wallets: dict, *more) -> dict:
    accounts = {account.id: account for account in wallets.values()}
    for account in more:
        accounts[account.id] = account
    return accounts


def _write_billing_state(columns: list[list], *, now: datetime) -> None:
    """`save_billing_state` over column lists (`id` then BILLING_FIELDS' order)."""
    table = Consultation._meta.db_table
    names = [("id", "uuid"), *BILLING_FIELDS]
    unnest = ", ".join(f"%b::{kind}[]" for _, kind in names)
    aliases = ", ".join(name for name, _ in names)
    assignments = ", ".join(f"{name} = v.{name}" for name, _ in BILLING_FIELDS)
    # Every identifier here is a constant of this module; the values travel as parameters.
    sql = (
        f"UPDATE {table} AS c SET {assignments}, updated_at = %b "  # noqa: S608
        # The ANY lets the planner probe the primary key instead of hashing the whole table.
        f"FROM UNNEST({unnest}) AS v({aliases}) WHERE c.id = v.id AND c.id = ANY(%b::uuid[])"
    )
    with array_cursor() as cursor:
        cursor.execute(sql, [now, *columns, columns[0]])
