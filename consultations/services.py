"""Every state change of a consultation: one function, one transaction each.

The door
--------
`open_consultation` and `close_consultations` are the only ways a consultation starts or
finishes. They own what every opening and closing must do: the row and its constraints, the
consultant's `is_busy`, releasing the consultation's hold, the audit row (`ConsultationEvent`)
and the real-time events (after commit), plus `consultation_ended` for receivers in other apps.
`start_consultation`, `accept_consultation`, `decline_consultation`, `cancel_consultation`,
`end_consultation`, `force_end_consultation`, the tick and the bookings app all go through them.

Locking policy
--------------
* Starting: the Redis locks `lock:consultant:<id>` then `lock:client:<id>` (never waited for:
  held means a concurrent start is under way, answered 409 at once), then in the transaction the
  consultant's profile row (`select_for_update`, taken by `open_consultation`), which serializes
  opening per consultant on the database too. The partial unique constraints are the guarantee
  behind both. A caller of `open_consultation` (bookings) locks its own rows (the booking) first.
* Every other transition locks the consultation row first (`select_for_update(of=("self",))`),
  then, through the wallets services, the wallet rows in id order, then holds.
* The billing tick takes consultation rows with `skip_locked=True` in id order, so two workers
  share a tick instead of waiting on each other, and a row being ended by a participant is
  simply left to that participant's transaction (which bills its final seconds itself).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F, Q

from accounts.models import User
from config import clock, metrics
from config.errors import InvalidState, NotFound, PermissionDenied
from config.events import announce, announce_many, user_group
from consultants.errors import ConsultantNotVerified
from consultants.models import ConsultantProfile
from consultations import presence
from consultations.billing import (
    BillResult,
    Ending,
    bill_rows,
    consultant_user_id,
    plan_for,
    read_locked_rows,
    running_pause,
    total_for,
)
from consultations.errors import ChannelNotOffered, ClientBusy, ConsultantBusy, ConsultantOffline
from consultations.locks import client_lock_name, consultant_lock_name, try_lock
from consultations.models import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    Consultation,
    ConsultationEvent,
    EndReason,
    Kind,
    Status,
)
from consultations.serializers import consultation_frame_data
from consultations.signals import consultation_ended
from wallets import keys
from wallets.errors import InsufficientFunds
from wallets.freezes import check_not_frozen
from wallets.services import hold, release, wallet_for

logger = logging.getLogger(__name__)

CLOSED_STATUSES = [*FINISHED_STATUSES, Status.DECLINED, Status.CANCELLED, Status.EXPIRED]


# --- The door: opening and closing ------------------------------------------------------------

# Other apps may hold a consultant for something that is not an open consultation yet (bookings:
# a confirmed booking about to start). Each check is called with `(consultant, now)` when a
# client asks for an instant consultation, and answers True if the consultant is busy.
BusyCheck = Callable[[ConsultantProfile, datetime], bool]
_busy_checks: dict[str, BusyCheck] = {}


def add_busy_check(check: BusyCheck, *, uid: str) -> None:
    """Registers `check` (idempotent per `uid`; call it from an `AppConfig.ready`)."""
    _busy_checks[uid] = check


def _busy_elsewhere(consultant: ConsultantProfile, now: datetime) -> bool:
    return any(check(consultant, now) for check in _busy_checks.values())


def open_consultation(
    *,
    client: User,
    consultant: ConsultantProfile,
    channel: str,
    kind: str = Kind.INSTANT,
    booking_id: uuid.UUID | None = None,
    ends_at: datetime | None = None,
    actor: User | None = None,
    now: datetime | None = None,
) -> Consultation:
    """Opens a consultation between `client` and `consultant` on `channel`; returns it.

    Must run inside the caller's `transaction.atomic()` (its rows, such as a booking, locked
    first). Locks the consultant's profile, then creates the row:

    * `instant`: `pending` (ringing) at the consultant's current rate for `channel`
      (400 `channel_not_offered` if there is none); announces `consultation_requested` to the
      consultant. The caller has checked the client's balance and the consultant's availability
      (`start_consultation` does).
    * `booked`: `active` from `now`, `rate_per_minute` 0, `booking_id` set, ending at `ends_at`
      (required) with `end_reason` `booking_over` unless someone ends it before; never billed by
      the tick. Announces `consultation_updated` to both. Opening a booking's consultation again
      returns the one it has (whatever its status): one consultation per booking.

    Both: the commission percentage is fixed on the row now; the consultant is marked busy; the
    audit row is written. Raises 409 `consultant_busy` / `client_busy` when either already has an
    open consultation (the partial unique constraints decide).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("open_consultation runs inside the caller's transaction")
    if kind not in Kind.values:
        raise ValueError(f"unknown consultation kind {kind!r}")
    if kind == Kind.BOOKED:
        if booking_id is None or ends_at is None:
            raise ValueError("a booked consultation needs its booking_id and ends_at")
        existing = Consultation.objects.filter(booking_id=booking_id).first()
        if existing is not None:
            return existing
    elif booking_id is not None or ends_at is not None:
        raise ValueError("booking_id and ends_at belong to booked consultations")
    now = now or clock.now()
    profile = ConsultantProfile.objects.select_for_update().filter(id=consultant.id).first()
    if profile is None:
        raise NotFound("No such consultant.")
    if kind == Kind.INSTANT:
        rate = profile.rate_for(channel)
        if rate is None:
            raise ChannelNotOffered()
        status, started_at = Status.PENDING, None
    else:
        rate, status, started_at = 0, Status.ACTIVE, now
    try:
        with transaction.atomic():
            consultation = Consultation.objects.create(
                client=client,
                consultant=profile,
                channel=channel,
                kind=kind,
                booking_id=booking_id,
                status=status,
                rate_per_minute=rate,
                commission_percent=settings.PLATFORM_COMMISSION_PERCENT,
                requested_at=now,
                started_at=started_at,
                last_billed_at=started_at,
                ends_at=ends_at,
            )
    except IntegrityError as exc:
        # The constraints are the truth; the callers' checks only make this rare.
        if "one_open_consultation_per_consultant" in str(exc):
            raise ConsultantBusy() from exc
        if "one_open_consultation_per_client" in str(exc):
            raise ClientBusy() from exc
        if "consultation_one_per_booking" in str(exc):
            return Consultation.objects.get(booking_id=booking_id)
        raise
    ConsultantProfile.objects.filter(id=profile.id).update(is_busy=True)
    _audit(
        consultation,
        "",
        status,
        actor=actor,
        reason="requested" if kind == Kind.INSTANT else "booking_started",
        now=now,
    )
    if kind == Kind.INSTANT:
        frame = {
            "type": "consultation_requested",
            # (to the consultant only: as they read it, birth details for an astrologer)
            "consultation": consultation_frame_data(consultation, reader_id=profile.user_id),
        }
        announce(user_group(profile.user_id), frame)
    else:
        announce_many(update_frames(consultation))
    return consultation


def close_consultations(
    rows: Iterable[Consultation],
    *,
    now: datetime,
    from_status: str,
    actors: dict | None = None,
    reasons: dict | None = None,
    saved: bool = False,
) -> None:
    """Finishes locked consultations, inside the caller's transaction.

    Each row already carries its final status (`ended`, `force_ended`, `declined`, `cancelled`
    or `expired`), its `end_reason` (for the first two) and `ended_at`; `saved` says whether they
    are written already (the billing engine writes them with the charges). Then, for every row:
    releases what its hold still reserves, frees the consultant (`is_busy` false, and
    `total_sessions + 1` for a consultation that took place), writes the audit row (`actors` and
    `reasons` by consultation id), sends `consultation_ended` for ended and force-ended ones
    (receivers each in a savepoint of their own) and announces `consultation_updated` to both
    participants after commit.
    """
    rows = list(rows)
    if not rows:
        return
    if any(row.status not in CLOSED_STATUSES for row in rows):
        raise ValueError("close_consultations needs rows in a final status")
    actors = actors or {}
    reasons = reasons or {}
    if not saved:
        for row in rows:
            row.updated_at = now
        Consultation.objects.bulk_update(
            rows, ["status", "end_reason", "ended_at", "ends_at", "updated_at"]
        )
    took_place = [r for r in rows if r.status in FINISHED_STATUSES]
    for row in rows:
        if row.hold_id is not None:
            release(hold_id=row.hold_id)
    not_held = [r.consultant_id for r in rows if r not in took_place]
    if not_held:
        ConsultantProfile.objects.filter(id__in=not_held).update(is_busy=False)
    if took_place:
        ConsultantProfile.objects.filter(id__in=[r.consultant_id for r in took_place]).update(
            is_busy=False, total_sessions=F("total_sessions") + 1
        )
    ConsultationEvent.objects.bulk_create(
        ConsultationEvent(
            consultation=row,
            from_status=from_status,
            to_status=row.status,
            actor_id=actors.get(row.id),
            reason=reasons.get(row.id) or row.end_reason or "",
            at=now,
        )
        for row in rows
    )
    for row in took_place:
        consultation_ended.send(sender=Consultation, consultation=row)
    announce_many([message for row in rows for message in update_frames(row)])


def update_frames(consultation: Consultation) -> list[tuple[str, dict]]:
    """`consultation_updated` for both participants, as `(group, frame)` pairs."""
    frame = {"type": "consultation_updated", "consultation": consultation_frame_data(consultation)}
    return [
        (user_group(consultation.client_id), frame),
        (user_group(consultant_user_id(consultation)), frame),
    ]


def _audit(consultation, from_status, to_status, *, actor, reason, now) -> None:
    ConsultationEvent.objects.create(
        consultation=consultation,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        reason=reason,
        at=now,
    )


# --- Starting an instant consultation ---------------------------------------------------------


def _parse_id(value) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _check_consultant(consultant: ConsultantProfile | None, channel: str, now: datetime) -> int:
    """The contract's order: exists, verified, online, not busy, offers the channel."""
    if consultant is None:
        raise NotFound("No such consultant.")
    if not consultant.is_verified:
        raise ConsultantNotVerified("The consultant is not verified.", status=409)
    if not consultant.is_online:
        raise ConsultantOffline()
    if consultant.is_busy or _busy_elsewhere(consultant, now):
        raise ConsultantBusy()
    rate = consultant.rate_for(channel)
    if rate is None:
        raise ChannelNotOffered()
    return rate


def _check_client(client: User, rate: int) -> None:
    """No open consultation, and `MIN_MINUTES` of the rate available."""
    if Consultation.objects.filter(client=client, status__in=OPEN_STATUSES).exists():
        raise ClientBusy()
    needed = settings.MIN_MINUTES * rate
    available = wallet_for(user=client).available
    if available < needed:
        raise InsufficientFunds(
            f"Starting needs {needed} paise available ({settings.MIN_MINUTES} minutes at "
            f"{rate} paise a minute); the wallet has {available}."
        )


def start_consultation(*, client: User, consultant_id, channel: str) -> Consultation:
    """The client asks a consultant for an instant consultation: a `pending` row at the current
    rate (`open_consultation`).

    Checks in the contract's order (404 consultant, 409 `consultant_not_verified`,
    `consultant_offline`, `consultant_busy`, 400 `channel_not_offered`, 409 `client_busy`, 402
    `insufficient_balance`), first without locks, then again under them; 423 `wallet_frozen`
    when an operator froze the client's wallet. Announces
    `consultation_requested` to the consultant after commit.
    """
    if not client.is_client:
        raise PermissionDenied("Only clients start consultations.")
    check_not_frozen(user=client)
    profile_id = _parse_id(consultant_id)
    consultant = ConsultantProfile.objects.filter(id=profile_id).first() if profile_id else None
    rate = _check_consultant(consultant, channel, clock.now())
    _check_client(client, rate)
    assert consultant is not None

    with try_lock(consultant_lock_name(consultant.id)) as consultant_free:
        if not consultant_free:
            raise ConsultantBusy()
        with try_lock(client_lock_name(client.id)) as client_free:
            if not client_free:
                raise ClientBusy()
            with transaction.atomic(durable=True):
                now = clock.now()
                # 423 wallet_frozen; the wallet's row is locked (before the profile, the order
                # billing takes them in) so that a freeze racing this request ends it after.
                check_not_frozen(user=client, lock=True)
                locked = ConsultantProfile.objects.select_for_update().filter(id=consultant.id)
                rate = _check_consultant(locked.first(), channel, now)
                _check_client(client, rate)
                return open_consultation(
                    client=client, consultant=consultant, channel=channel, actor=client, now=now
                )


# --- Transitions of a request -----------------------------------------------------------------


def _locked(consultation_id) -> Consultation:
    pk = _parse_id(consultation_id)
    found = (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("consultant")
        .filter(id=pk)
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound()
    return found


def _role_of(consultation: Consultation, user: User) -> str | None:
    if user.id == consultation.client_id:
        return "client"
    if user.id == consultation.consultant.user_id:
        return "consultant"
    if user.is_admin:
        return "admin"
    return None


def _require(consultation: Consultation, user: User, role: str) -> None:
    """Only `role` may do this: a stranger gets 404 (the row is not theirs to see), the other
    participant or an admin 403."""
    actual = _role_of(consultation, user)
    if actual is None:
        raise NotFound()
    if actual != role:
        raise PermissionDenied(f"Only the consultation's {role} can do this.")


def _ring_expired(consultation: Consultation, now: datetime) -> bool:
    return now >= consultation.requested_at + timedelta(seconds=settings.RING_TIMEOUT_SECONDS)


def first_tick_hold_amount(*, rate_per_minute: int) -> int:
    """Paise reserved at accept: the first tick's charge, rounded up."""
    return -(-rate_per_minute * settings.BILLING_TICK_SECONDS // 60)


def accept_consultation(*, consultation_id, actor: User) -> Consultation:
    """The consultant accepts a pending request: it becomes `active` and billing starts now.

    Locks the row, then (through `wallets.services.hold`) the client's wallet, reserving the
    first tick's charge (or what is available, if less). A participant with no live socket is
    recorded absent from this moment (CONTRACT.md: gone from acceptance). Sets `ends_at` to the
    moment the client's funds run out. 409 `invalid_state` unless pending and still ringing.
    Announces `consultation_updated` to both after commit.
    """
    with transaction.atomic(durable=True):
        consultation = _locked(consultation_id)
        now = clock.now()
        _require(consultation, actor, "consultant")
        if consultation.status != Status.PENDING:
            raise InvalidState(f"The consultation is {consultation.status}.")
        if _ring_expired(consultation, now):
            raise InvalidState("The request has expired.")
        wanted = first_tick_hold_amount(rate_per_minute=consultation.rate_per_minute)
        amount = min(wanted, max(0, wallet_for(user=consultation.client).available))
        if amount > 0:
            consultation.hold = hold(
                user=consultation.client,
                amount=amount,
                idempotency_key=keys.consultation_hold(consultation.id),
                reference_type="consultation",
                reference_id=str(consultation.id),
            )
        consultation.status = Status.ACTIVE
        consultation.started_at = now
        consultation.last_billed_at = now
        there = presence.connected_at_acceptance([consultation.client_id, actor.id])
        if consultation.client_id not in there:
            consultation.client_absent_since = now
        if actor.id not in there:
            consultation.consultant_absent_since = now
        funds = wallet_for(user=consultation.client).available + amount
        consultation.ends_at = plan_for(consultation, funds=funds, now=now).ends_at
        consultation.save(
            update_fields=[
                "status",
                "started_at",
                "last_billed_at",
                "hold",
                "client_absent_since",
                "consultant_absent_since",
                "ends_at",
                "updated_at",
            ]
        )
        _audit(consultation, Status.PENDING, Status.ACTIVE, actor=actor, reason="accepted", now=now)
        announce_many(update_frames(consultation))
    return consultation


def _close_request(
    consultation_id, *, actor: User | None, role: str | None, to: str
) -> Consultation:
    with transaction.atomic(durable=True):
        consultation = _locked(consultation_id)
        now = clock.now()
        if actor is not None and role is not None:
            _require(consultation, actor, role)
        if consultation.status != Status.PENDING:
            raise InvalidState(f"The consultation is {consultation.status}.")
        consultation.status = to
        consultation.ended_at = now
        close_consultations(
            [consultation],
            now=now,
            from_status=Status.PENDING,
            actors={consultation.id: actor.id if actor else None},
            reasons={consultation.id: to},
        )
    return consultation


def decline_consultation(*, consultation_id, actor: User) -> Consultation:
    """Its consultant declines a pending request. 409 `invalid_state` unless pending."""
    return _close_request(consultation_id, actor=actor, role="consultant", to=Status.DECLINED)


def cancel_consultation(*, consultation_id, actor: User) -> Consultation:
    """Its client withdraws a pending request. 409 `invalid_state` unless pending."""
    return _close_request(consultation_id, actor=actor, role="client", to=Status.CANCELLED)


def cancel_pending_consultation(*, consultation_id) -> Consultation:
    """The platform withdraws a pending request (its client's wallet was frozen): cancelled,
    with no actor. 409 `invalid_state` unless pending."""
    return _close_request(consultation_id, actor=None, role=None, to=Status.CANCELLED)


# --- Ending -----------------------------------------------------------------------------------


@dataclass
class EndResult:
    consultation: Consultation
    remaining_balance: int  # the client's wallet balance after the final charge, paise


def _end(consultation_id, *, ending_for) -> EndResult:
    # Who is still there, first: a participant whose socket died without a word is gone from
    # their last heartbeat, not from whenever the tick would have noticed.
    pk = _parse_id(consultation_id)
    participants = (
        Consultation.objects.filter(id=pk).values_list("client_id", "consultant__user_id").first()
        if pk
        else None
    )
    if participants:
        presence.sweep_presence_safely(user_ids=participants)
    with transaction.atomic(durable=True):
        consultation = _locked(consultation_id)
        now = clock.now()
        ending = ending_for(consultation)
        if consultation.status != Status.ACTIVE:
            raise InvalidState(
                "Only an active consultation can be ended; cancel or decline a pending one."
                if consultation.status == Status.PENDING
                else f"The consultation is {consultation.status}."
            )
        rows = read_locked_rows(Consultation.objects.filter(id=consultation.id))
        result = _bill_and_close(rows, now=now, endings={consultation.id: ending})
        if result.set_aside:
            raise RuntimeError(f"consultation {consultation.id} could not be billed")
        consultation.refresh_from_db()
    return EndResult(consultation=consultation, remaining_balance=result.billed[0].client_balance)


def end_consultation(*, consultation_id, actor: User) -> EndResult:
    """A participant (or an admin) ends an active consultation: the final partial tick is
    billed, the hold released, the consultant freed; status `ended` with `client_ended`,
    `consultant_ended` or `admin`. 409 `invalid_state` unless active (a pending one is cancelled
    or declined instead). Sends `consultation_ended`; announces `consultation_updated`."""

    def ending_for(consultation: Consultation) -> Ending:
        role = _role_of(consultation, actor)
        if role is None:
            raise NotFound()
        reason = {
            "client": EndReason.CLIENT_ENDED,
            "consultant": EndReason.CONSULTANT_ENDED,
            "admin": EndReason.ADMIN,
        }[role]
        return Ending(Status.ENDED, reason, actor.id)

    return _end(consultation_id, ending_for=ending_for)


def force_end_consultation(
    *, consultation_id, reason: str = EndReason.ADMIN, actor: User | None = None
) -> EndResult:
    """Ends an active consultation as `force_ended` with `reason` (an admin's action, by
    default `admin`), billing its final seconds first. 409 `invalid_state` unless active."""
    if reason not in EndReason.values:
        raise ValueError(f"unknown end reason {reason!r}")
    return _end(
        consultation_id,
        ending_for=lambda c: Ending(Status.FORCE_ENDED, reason, actor.id if actor else None),
    )


def _bill_and_close(
    rows: list[tuple], *, now: datetime, endings: dict | None = None, announce_ticks=True
) -> BillResult:
    """Bills locked rows (`billing.bill_rows`) and closes, in the same savepoint, those that
    end (`close_consultations`)."""

    def close(ended: dict) -> None:
        close_consultations(
            Consultation.objects.annotate(consultant_user_id=F("consultant__user_id"))
            .filter(id__in=list(ended))
            .order_by("id"),
            now=now,
            from_status=Status.ACTIVE,
            actors={cid: ending.actor_id for cid, ending in ended.items()},
            saved=True,
        )

    return bill_rows(rows, now=now, endings=endings, announce_ticks=announce_ticks, on_end=close)


# --- Presence ---------------------------------------------------------------------------------


def record_presence(*, user_id, online: bool, at: datetime | None = None) -> Consultation | None:
    """Records that the user's last socket left (`online=False`) or one is back (`True`).

    Sets or clears `consultant_absent_since` / `client_absent_since` on the user's open
    consultation (returns it; None if there is none). When the consultant comes back, the
    unbilled part of the absence (past `PRESENCE_GRACE_SECONDS`) is added to `paused`, so the
    billing engine never bills it. Locks the consultation row.
    """
    at = at or clock.now()
    with transaction.atomic():
        consultation = (
            Consultation.objects.select_for_update(of=("self",))
            .select_related("consultant")
            .filter(status__in=OPEN_STATUSES)
            .filter(Q(client_id=user_id) | Q(consultant__user_id=user_id))
            .order_by("-requested_at")
            .first()
        )
        if consultation is None:
            return None
        is_consultant = str(consultation.consultant.user_id) == str(user_id)
        field = "consultant_absent_since" if is_consultant else "client_absent_since"
        changed = [field]
        if online:
            if getattr(consultation, field) is None:
                return consultation
            if is_consultant and consultation.status == Status.ACTIVE:
                consultation.paused += running_pause(consultation, at)
                changed.append("paused")
            setattr(consultation, field, None)
        else:
            if getattr(consultation, field) is not None:
                return consultation
            setattr(consultation, field, at)
            if consultation.status == Status.ACTIVE:  # ends then unless they come back
                assert consultation.started_at is not None  # an active consultation has started
                gone_at = max(at, consultation.started_at) + timedelta(
                    seconds=settings.DISCONNECT_TIMEOUT_SECONDS
                )
                if consultation.ends_at is None or gone_at < consultation.ends_at:
                    consultation.ends_at = gone_at
                    changed.append("ends_at")
        consultation.save(update_fields=[*changed, "updated_at"])
    return consultation


# --- The tick ---------------------------------------------------------------------------------


@dataclass
class TickReport:
    expired: int = 0
    billed: int = 0  # consultations settled
    charges: int = 0  # postings written
    ended: int = 0
    batches: int = 0
    set_aside: int = 0  # consultations that could not be billed (logged; billed next time)


def expire_stale_requests(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Pending requests past `RING_TIMEOUT_SECONDS` become `expired` (consultant freed)."""
    now = now or clock.now()
    batch_size = batch_size or settings.BILLING_BATCH_SIZE
    cutoff = now - timedelta(seconds=settings.RING_TIMEOUT_SECONDS)
    expired = 0
    while True:
        with transaction.atomic(durable=True):
            rows = list(
                Consultation.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("consultant")
                .filter(status=Status.PENDING, requested_at__lte=cutoff)
                .order_by("id")[:batch_size]
            )
            if not rows:
                return expired
            for row in rows:
                row.status = Status.EXPIRED
                row.ended_at = now
            close_consultations(
                rows,
                now=now,
                from_status=Status.PENDING,
                reasons={row.id: "expired" for row in rows},
            )
        expired += len(rows)


def end_due_consultations(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """Active consultations whose `ends_at` has come: a booked one ends (`ended`,
    `booking_over`); an instant one is billed up to `now` and force-ended if its money ran out or
    a side has been gone too long (else its `ends_at` moves on). Sweeps the participants'
    presence first. Rows taken `skip_locked` in id order, `BILLING_BATCH_SIZE` at a time, each
    batch one durable transaction. Returns how many ended."""
    now = now or clock.now()
    batch_size = batch_size or settings.BILLING_BATCH_SIZE
    due = Consultation.objects.filter(status=Status.ACTIVE, ends_at__lte=now)
    users = list(due.values_list("client_id", "consultant__user_id")[:batch_size])
    if not users:
        return 0
    presence.sweep_presence_safely(now=now, user_ids={u for pair in users for u in pair})
    ended = 0
    after = None
    while True:
        with transaction.atomic(durable=True):
            query = due.select_for_update(skip_locked=True, of=("self",))
            if after is not None:
                query = query.filter(id__gt=after)
            rows = read_locked_rows(query.order_by("id"), limit=batch_size)
            if not rows:
                return ended
            ended += len(_bill_and_close(rows, now=now).ended)
        after = rows[-1][0]


@metrics.billing_tick
def bill_due_consultations(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    announce_ticks: bool = True,
    workers: int | None = None,
) -> TickReport:
    """The billing tick: expires stale requests, ends what is due to end, then bills every due
    active instant consultation.

    `now` (the database's clock) is taken once for the whole tick: the presence sweep that runs
    before it (`tasks.bill_due_consultations`) judged who was there as of that moment, so no
    batch bills past it. Active instant rows not billed for half a tick or more are due; they
    are taken in id order, `BILLING_BATCH_SIZE` at a time, each batch one durable transaction
    with the rows locked `skip_locked` (another worker's rows are its own to bill). A
    consultation whose funds or presence run out is force-ended in its batch's transaction; one
    that cannot be billed is set aside (`billing.bill_rows`). Booked consultations are never
    billed here.

    `workers` (default `BILLING_WORKERS`) threads bill batches at once, each on its own database
    connection: one plans its batch in Python while another's statements run in PostgreSQL.
    They claim batches from one cursor (the highest id claimed so far); `skip_locked` keeps
    their rows apart, and the lock order (wallets, then platform revenue last: `bill_rows`)
    keeps two batches sharing a wallet from deadlocking. One worker, on the caller's
    connection, on SQLite (one writer at a time) and inside a caller's transaction (tests),
    which other connections could not see.
    """
    now = now or clock.now()
    batch_size = batch_size or settings.BILLING_BATCH_SIZE
    report = TickReport(expired=expire_stale_requests(now=now, batch_size=batch_size))
    report.ended += end_due_consultations(now=now, batch_size=batch_size)
    due_before = now - timedelta(seconds=max(1, settings.BILLING_TICK_SECONDS // 2))
    gone_before = now - timedelta(seconds=settings.DISCONNECT_TIMEOUT_SECONDS)
    # Due: not billed for half a tick, or a side gone past the disconnect timeout (the watchdog).
    due = (
        Q(last_billed_at__lte=due_before)
        | Q(consultant_absent_since__lte=gone_before)
        | Q(client_absent_since__lte=gone_before)
    )
    cursor = _Claims()

    def work() -> TickReport:
        done = TickReport()
        while not cursor.stopped:
            with transaction.atomic(durable=True):
                query = Consultation.objects.select_for_update(
                    skip_locked=True, of=("self",)
                ).filter(due, status=Status.ACTIVE, kind=Kind.INSTANT)
                after = cursor.after
                if after is not None:
                    query = query.filter(id__gt=after)
                rows = read_locked_rows(query.order_by("id"), limit=batch_size)
                if not rows:
                    return done
                cursor.claimed(rows[-1][0])
                result = _bill_and_close(rows, now=now, announce_ticks=announce_ticks)
            done.batches += 1
            done.billed += len(result.billed)
            done.charges += result.charges
            done.ended += len(result.ended)
            done.set_aside += len(result.set_aside)
        return done

    count = workers or settings.BILLING_WORKERS
    if count == 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        parts = [work()]
    else:
        parts = _run_on_own_connections(work, count, cursor)
    for part in parts:
        report.batches += part.batches
        report.billed += part.billed
        report.charges += part.charges
        report.ended += part.ended
        report.set_aside += part.set_aside
    return report


class _Claims:
    """The tick's workers' shared cursor: the highest consultation id a batch has claimed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.after: uuid.UUID | None = None
        self.stopped = False  # no more batches: the caller was interrupted

    def claimed(self, last: uuid.UUID) -> None:
        with self._lock:
            if self.after is None or last > self.after:
                self.after = last


def _run_on_own_connections(
    work: Callable[[], TickReport], count: int, cursor: _Claims
) -> list[TickReport]:
    """Runs `work` in `count` threads, each on its own database connection (closed after);
    waits for all of them, then raises the first error, if any. If the waiting thread is
    interrupted (Celery's soft time limit), the workers finish the batch in hand and claim no
    other; the interruption is raised once they have stopped."""

    def run() -> TickReport:
        try:
            return work()
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="billing") as pool:
        futures = [pool.submit(run) for _ in range(count)]
        try:
            wait(futures)
        except BaseException:
            cursor.stopped = True
            raise
    return [future.result() for future in futures]


__all__ = [
    "EndResult",
    "TickReport",
    "accept_consultation",
    "bill_due_consultations",
    "add_busy_check",
    "cancel_consultation",
    "close_consultations",
    "decline_consultation",
    "end_due_consultations",
    "end_consultation",
    "expire_stale_requests",
    "force_end_consultation",
    "open_consultation",
    "record_presence",
    "start_consultation",
    "total_for",
]
