"""Every state change of a booking: one function, one transaction each.

Each one locks what it changes, checks the state, moves the money (`bookings.money`), writes
the audit row (`BookingEvent`), queues the emails (`BookingEmail` rows, sent after commit) and
announces `booking_updated` to both participants after commit.

Locking policy
--------------
* A booking's consultation row (if it has one) before the booking row, the booking row before
  any wallet: the order the consultations app takes them in when a consultation's end
  completes a booking (consultation, then our receiver locks the booking).
* Booking: the client's wallet row first (`check_not_frozen(lock=True)`: a freeze committing
  at the same time waits), then the new row. Two clients racing for one slot both pass the
  Python check; PostgreSQL's exclusion constraint (`booking_no_overlap_per_consultant`) makes
  the second insert wait for the first and fail once it commits: 409 `slot_unavailable`, and
  the second request's transaction (its charge too) rolls back.
* Joining: the booking row, then (`open_consultation`) the consultant's profile row.
* Jobs take their rows with `skip_locked`, so two workers (or a beat sending twice) split the
  work, and each row is re-checked under its lock.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from bookings import money
from bookings.errors import SlotUnavailable, TooEarly
from bookings.models import (
    HOLDING_STATUSES,
    Booking,
    BookingEmail,
    BookingEvent,
    Notice,
    Party,
    PaymentMethod,
    Schedule,
    SessionType,
    Status,
)
from bookings.serializers import booking_frame_data
from bookings.slots import is_free_slot
from config import clock
from config.errors import Invalid, InvalidState, NotFound, PermissionDenied
from config.events import announce, user_group
from consultants.models import ConsultantProfile
from consultations.models import Consultation, EndReason, Kind
from consultations.models import Status as ConsultationStatus
from consultations.services import close_consultations, open_consultation
from earnings.services import record_booking_earning
from wallets import keys
from wallets.errors import InsufficientFunds
from wallets.freezes import check_not_frozen
from wallets.models import Payment
from wallets.payments import MIN_RECHARGE, create_recharge
from wallets.services import commission_for, hold, release, wallet_for

logger = logging.getLogger(__name__)

MAX_GOALS = 2000


def _parse_id(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


# --- The refund policy ------------------------------------------------------------------------


def refund_for(*, booking: Booking, cancelled_by: str | None, now: datetime) -> int:
    """What a cancellation gives back, in paise (CONTRACT.md): everything when the consultant
    (or an operator: `cancelled_by` None) cancels, or when the client cancels at least
    `BOOKING_FULL_REFUND_HOURS` before the start; `BOOKING_LATE_REFUND_PERCENT` of it, rounded
    down, when the client cancels at least `BOOKING_NO_REFUND_HOURS` before; else nothing. An
    unpaid booking has nothing to give back."""
    if booking.paid_at is None:
        return 0
    if cancelled_by != Party.CLIENT:
        return booking.price
    ahead = booking.start_at - now
    if ahead >= timedelta(hours=settings.BOOKING_FULL_REFUND_HOURS):
        return booking.price
    if ahead >= timedelta(hours=settings.BOOKING_NO_REFUND_HOURS):
        return booking.price * settings.BOOKING_LATE_REFUND_PERCENT // 100
    return 0


# --- Transitions' common part -----------------------------------------------------------------


def _announce(booking: Booking) -> None:
    """`booking_updated` to every socket of both participants, after commit."""
    frame = {"type": "booking_updated", "booking": booking_frame_data(booking)}
    announce(user_group(booking.client_id), frame)
    announce(user_group(booking.consultant.user_id), frame)


def _email(booking: Booking, notice: str, now: datetime) -> None:
    """Records the email event (once per booking and event: a repeat finds its row) and sends
    it after commit (`bookings.emails`)."""
    try:
        with transaction.atomic():
            row = BookingEmail.objects.create(booking=booking, notice=notice, created_at=now)
    except IntegrityError:
        return
    from bookings import emails

    emails.send_after_commit(row.id)


def _move(
    booking: Booking,
    to: str,
    *,
    now: datetime,
    actor: User | None = None,
    reason: str = "",
    fields: tuple[str, ...] = (),
) -> None:
    """Sets the status (and `fields`), writes the audit row, announces the change."""
    before = booking.status
    booking.status = to
    if booking._state.adding:
        booking.save(force_insert=True)
    else:
        booking.save(update_fields=["status", *fields, "updated_at"])
    BookingEvent.objects.create(
        booking=booking,
        from_status=before if before != to else "",
        to_status=to,
        actor=actor,
        reason=reason[:64],
        at=now,
    )
    _announce(booking)


def _locked(booking_id: Any) -> Booking:
    """The booking, its consultation (if any) locked first, then its own row; 404 if none."""
    pk = _parse_id(booking_id)
    if pk is None:
        raise NotFound("No such booking.")
    consultation_id = (
        Booking.objects.filter(id=pk).values_list("consultation_id", flat=True).first()
    )
    if consultation_id is not None:
        list(Consultation.objects.select_for_update(of=("self",)).filter(id=consultation_id))
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("consultant__user", "client", "payment", "hold")
        .filter(id=pk)
        .first()
    )
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def role_of(booking: Booking, user: User) -> str | None:
    if booking.client_id == user.id:
        return Party.CLIENT
    if booking.consultant.user_id == user.id:
        return Party.CONSULTANT
    return None


def _close_consultation(booking: Booking, now: datetime) -> None:
    """Ends the booking's consultation if it is still active (`booking_over`), through the
    consultations app's door. Its `consultation_ended` reaches `on_consultation_ended`, which
    finds the booking final already and leaves it."""
    if booking.consultation_id is None:
        return
    row = (
        Consultation.objects.select_for_update(of=("self",))
        .filter(id=booking.consultation_id, status=ConsultationStatus.ACTIVE)
        .first()
    )
    if row is None:
        return
    row.status = ConsultationStatus.ENDED
    row.end_reason = EndReason.BOOKING_OVER
    row.ended_at = now
    close_consultations([row], now=now, from_status=ConsultationStatus.ACTIVE)


def _settle(booking: Booking, now: datetime, *, took_place: bool = False) -> None:
    """Moves the money of a booking that reached its final status (once: `settled_at`)."""
    if booking.paid_at is not None and booking.settled_at is None:
        money.settle(booking)
        booking.settled_at = now
        kept = booking.kept_amount
        if kept:
            record_booking_earning(
                booking_id=booking.id,
                consultant_id=booking.consultant_id,
                consultation_id=booking.consultation_id,
                gross=kept,
                commission=commission_for(kept, percent=booking.commission_percent),
                seconds=booking.duration_minutes * 60 if took_place else 0,
                at=now,
            )
    elif booking.hold_id is not None:  # a split booking never paid: its wallet part comes back
        release(hold_id=booking.hold_id)


# --- Booking ----------------------------------------------------------------------------------


@dataclass
class PaymentStart:
    """How a payment method begins, outside the transaction (`prepare`: checks, a gateway
    order) and inside it (`apply`: the money at once, or a hold)."""

    prepare: Callable[[User, int], Payment | None]
    apply: Callable[[Booking], None]


def _prepare_wallet(client: User, price: int) -> None:
    available = wallet_for(user=client).available
    if available < price:
        raise InsufficientFunds(
            _(
                "Your wallet's available balance is below the price. Add money, or pay by "
                "card / UPI."
            )
        )


def _apply_wallet(booking: Booking) -> None:
    money.charge(booking)  # 402 insufficient_balance if the balance went meanwhile
    booking.paid_at = booking.created_at
    booking.status = Status.CONFIRMED


def _prepare_gateway(client: User, price: int) -> Payment:
    return create_recharge(user=client, amount=price)  # an order for exactly the price


def _apply_gateway(booking: Booking) -> None:
    booking.status = Status.PENDING
    booking.expires_at = booking.created_at + timedelta(minutes=settings.BOOKING_PAYMENT_MINUTES)


def _refuse_method(message: Any) -> None:
    """400 `invalid` naming `payment_method`, as DRF's own field errors read."""
    from rest_framework.exceptions import ValidationError

    raise ValidationError({"payment_method": [message]})


def split_problem(*, available: int, price: int) -> Any:
    """Why `split` does not fit an available balance of `available` paise for a price of
    `price` (the message of its 400), or None when it does.

    `split` is for a balance strictly between nothing and the price (CONTRACT.md: "less than
    the price"); outside that the client asked for the wrong method and is told which one fits,
    rather than given a booking of another shape than the one it asked for: the balance covers
    the price (use `wallet`), nothing is available (use `gateway`), or the rest would be under
    the gateway's minimum order (`MIN_RECHARGE`, 100 paise). The booking page offers `split`
    only when this says None."""
    if available >= price:
        return _("Your wallet's available balance covers the price: pay with the wallet.")
    if available <= 0:
        return _("Your wallet has no available balance to put towards it: pay by card / UPI.")
    if price - available < MIN_RECHARGE:
        return _(
            "The rest (%(rest)s paise) is below the gateway's minimum of %(minimum)s paise: "
            "add money to the wallet and pay with it, or pay it all by card / UPI."
        ) % {"rest": price - available, "minimum": MIN_RECHARGE}
    return None


def _prepare_split(client: User, price: int) -> Payment:
    """`split`: the wallet's whole available balance pays part, a gateway order the rest
    (400 `invalid` naming `payment_method` when it does not fit: `split_problem`). The order is
    made here, outside the transaction, for the rest as the balance stands now; `_apply_split`
    holds exactly `price - order` under the wallet's lock, or refuses with 402 if the balance
    went down meanwhile (one that went up is not held: the order is already made)."""
    available = wallet_for(user=client).available
    problem = split_problem(available=available, price=price)
    if problem is not None:
        _refuse_method(problem)
    return create_recharge(user=client, amount=price - available)


def _apply_split(booking: Booking) -> None:
    """Holds the wallet's part (the price less the order made in `_prepare_split`) under the
    booking's key, so that it cannot be spent while the gateway's part is awaited; the booking
    is `pending` like a gateway one. Its capture consumes the hold (`money.charge`); its expiry
    or cancellation releases it (`_settle`)."""
    assert booking.payment is not None
    wallet_part = booking.price - booking.payment.amount
    try:
        booking.hold = hold(
            user=booking.client,
            amount=wallet_part,
            idempotency_key=keys.booking_hold(booking.id),
            reference_type=money.REFERENCE,
            reference_id=str(booking.id),
        )
    except InsufficientFunds as exc:  # spent or held elsewhere since the order was made
        raise InsufficientFunds(
            _(
                "Your wallet's available balance went down while booking. Book again with "
                "what it holds now."
            )
        ) from exc
    _apply_gateway(booking)


# The payment methods `book` knows: `wallet` at once, `gateway` for exactly the price, `split`
# (the wallet's available balance held, the rest at the gateway).
PAYMENT_STARTS: dict[str, PaymentStart] = {
    PaymentMethod.WALLET: PaymentStart(_prepare_wallet, _apply_wallet),
    PaymentMethod.GATEWAY: PaymentStart(_prepare_gateway, _apply_gateway),
    PaymentMethod.SPLIT: PaymentStart(_prepare_split, _apply_split),
}


def _bookable_type(session_type_id: Any) -> SessionType:
    pk = _parse_id(session_type_id)
    found = (
        SessionType.objects.select_related("consultant__user")
        .filter(id=pk, is_active=True, consultant__is_verified=True)
        .first()
        if pk
        else None
    )
    if found is None:
        raise NotFound("No such session type.")
    return found


def _lost_the_slot(exc: Exception) -> bool:
    """The insert lost a race for the time range: the exclusion constraint refused it, or two
    inserts that each waited for the other's conflicting row were broken up by PostgreSQL's
    deadlock detector (the one it aborts is the loser; the other commits)."""
    state = getattr(exc.__cause__, "sqlstate", None)
    return "booking_no_overlap_per_consultant" in str(exc) or state in ("23P01", "40P01")


def book(
    *,
    client: User,
    session_type_id: Any,
    start_at: datetime,
    payment_method: str,
    goals: str = "",
) -> Booking:
    """A client books a session type at `start_at` (one of its free slots).

    `wallet`: the price is charged at once (`booking_charge`) and the booking is `confirmed`.
    `gateway`: a gateway order for exactly the price is made first (outside the transaction),
    and the booking is `pending` until the payment is captured (`confirm_paid_booking`) or it
    expires after `BOOKING_PAYMENT_MINUTES`.
    `split`: the wallet's whole available balance (above nothing, below the price) is held
    and a gateway order made for the rest; `pending` like `gateway`, its capture takes the held
    part and the paid part together, its expiry or cancellation releases the hold.

    Errors: 403 for non-clients, 423 `wallet_frozen`, 404 session type (unknown, inactive, or
    an unverified consultant's), 400 `invalid` (goals too long, an unknown payment method, a
    `split` whose balance is nothing or covers the price: `_prepare_split`), 409
    `slot_unavailable` (not a free slot start, taken, too soon, past the horizon; also a race
    lost at the database), 402 `insufficient_balance` (`wallet`; `split` when the balance went
    down between the order and the hold).
    """
    if not client.is_client:
        raise PermissionDenied("Only clients book sessions.")
    check_not_frozen(user=client)
    if len(goals or "") > MAX_GOALS:
        raise Invalid("Goals are up to 2,000 characters.")
    start = PAYMENT_STARTS.get(payment_method)
    if start is None:
        from rest_framework.exceptions import ValidationError

        raise ValidationError(
            {"payment_method": [f"Not available: {payment_method}. Use wallet, gateway or split."]}
        )
    session_type = _bookable_type(session_type_id)
    consultant = session_type.consultant
    schedule = Schedule.objects.filter(consultant=consultant).first()

    def check_slot(now: datetime) -> None:
        if not is_free_slot(
            schedule=schedule,
            duration_minutes=session_type.duration_minutes,
            start_at=start_at,
            now=now,
        ):
            raise SlotUnavailable()

    check_slot(clock.now())
    payment = start.prepare(client, session_type.price)

    with transaction.atomic(durable=True):
        now = clock.now()
        check_not_frozen(user=client, lock=True)
        check_slot(now)
        booking = Booking(
            client=client,
            consultant=consultant,
            session_type=session_type,
            title=session_type.title,
            channel=session_type.channel,
            duration_minutes=session_type.duration_minutes,
            price=session_type.price,
            currency=settings.CURRENCY,
            commission_percent=settings.PLATFORM_COMMISSION_PERCENT,
            start_at=start_at,
            end_at=start_at + timedelta(minutes=session_type.duration_minutes),
            status=Status.PENDING,
            goals=goals or "",
            payment_method=payment_method,
            payment=payment,
            created_at=now,
        )
        try:
            with transaction.atomic():
                booking.save(force_insert=True)
        except (IntegrityError, OperationalError) as exc:
            if _lost_the_slot(exc):
                raise SlotUnavailable() from exc
            raise
        start.apply(booking)
        booking.save()
        BookingEvent.objects.create(
            booking=booking, to_status=booking.status, actor=client, reason="booked", at=now
        )
        _announce(booking)
        if booking.status == Status.CONFIRMED:
            _email(booking, Notice.CONFIRMED, now)
    return booking


def confirm_paid_booking(payment: Payment) -> Booking | None:
    """The gateway payment of a `pending` booking was captured (the wallets app's capture hook,
    inside the transaction that credits it): the price goes from the wallet to the platform
    (`booking_charge`) and the booking is `confirmed`. For a `split` booking that one charge is
    the held part and the credited part together, consuming the hold. A booking no longer
    pending (expired, cancelled) is left as it is: the money stays in the client's wallet (a
    split one's hold was released when it ended)."""
    booking_id = Booking.objects.filter(payment_id=payment.id).values_list("id", flat=True).first()
    if booking_id is None:
        return None
    booking = _locked(booking_id)
    if booking.status != Status.PENDING:
        logger.info(
            "payment %s captured for booking %s (%s)", payment.id, booking.id, booking.status
        )
        return booking
    now = clock.now()
    money.charge(booking)
    booking.paid_at = now
    _move(booking, Status.CONFIRMED, now=now, reason="paid", fields=("paid_at",))
    _email(booking, Notice.CONFIRMED, now)
    return booking


# --- Cancelling -------------------------------------------------------------------------------


def _cancel(
    booking: Booking, *, by: str | None, actor: User | None, reason: str, now: datetime
) -> Booking:
    if booking.status not in (Status.PENDING, Status.CONFIRMED):
        raise InvalidState(_("This booking can no longer be cancelled."))
    booking.refund_amount = refund_for(booking=booking, cancelled_by=by, now=now)
    booking.cancelled_by = by
    booking.cancel_reason = (reason or "").strip()[:500]
    was_paid = booking.paid_at is not None
    _settle(booking, now)
    _close_consultation(booking, now)
    _move(
        booking,
        Status.CANCELLED,
        now=now,
        actor=actor,
        reason=f"cancelled_by_{by or 'operator'}",
        fields=("refund_amount", "cancelled_by", "cancel_reason", "settled_at"),
    )
    if was_paid:
        _email(booking, Notice.CANCELLED, now)
    return booking


def cancel_booking(*, booking_id: Any, actor: User, reason: str = "") -> Booking:
    """Its client or consultant cancels a `pending` or `confirmed` booking: 200 with its
    `refund_amount` (the policy of `refund_for`); the rest is settled like a completed booking.
    404 for anyone else, 409 `invalid_state` otherwise."""
    with transaction.atomic(durable=True):
        booking = _locked(booking_id)
        role = role_of(booking, actor)
        if role is None:
            raise NotFound("No such booking.")
        return _cancel(booking, by=role, actor=actor, reason=reason, now=clock.now())


def cancel_by_operator(*, booking_id: Any, actor: User | None, reason: str = "") -> Booking:
    """An operator cancels a `pending` or `confirmed` booking with a full refund
    (`cancelled_by` null). 409 `invalid_state` otherwise."""
    with transaction.atomic(durable=True):
        booking = _locked(booking_id)
        return _cancel(booking, by=None, actor=actor, reason=reason, now=clock.now())


# --- Joining ----------------------------------------------------------------------------------


@dataclass
class Joined:
    booking: Booking
    consultation: Consultation


def join_booking(*, booking_id: Any, actor: User) -> Joined:
    """A participant enters the booking's room, from `BOOKING_JOIN_EARLY_MINUTES` before its
    start until its end: the first one opens its consultation (`kind: booked`, active, ending at
    `end_at`), later ones get the same one; once both have joined the booking is
    `in_progress`. 404 for anyone else; 409 `too_early`; 409 `invalid_state` unless confirmed
    or in progress (or once its time is over); 409 `consultant_busy` / `client_busy` when
    either is in another consultation."""
    with transaction.atomic(durable=True):
        booking = _locked(booking_id)
        role = role_of(booking, actor)
        if role is None:
            raise NotFound("No such booking.")
        now = clock.now()
        if booking.status not in (Status.CONFIRMED, Status.IN_PROGRESS):
            raise InvalidState(f"The booking is {booking.status}.")
        opens = booking.start_at - timedelta(minutes=settings.BOOKING_JOIN_EARLY_MINUTES)
        if now < opens:
            raise TooEarly(
                _("The room opens %(minutes)s minutes before the start.")
                % {"minutes": settings.BOOKING_JOIN_EARLY_MINUTES}
            )
        if now >= booking.end_at:
            raise InvalidState(_("The booked time is over."))
        consultation = open_consultation(
            client=booking.client,
            consultant=booking.consultant,
            channel=booking.channel,
            kind=Kind.BOOKED,
            booking_id=booking.id,
            ends_at=booking.end_at,
            actor=actor,
            now=now,
        )
        fields = ["consultation"]
        booking.consultation = consultation
        joined = "client_joined_at" if role == Party.CLIENT else "consultant_joined_at"
        if getattr(booking, joined) is None:
            setattr(booking, joined, now)
            fields.append(joined)
        both = booking.client_joined_at and booking.consultant_joined_at
        if both and booking.status == Status.CONFIRMED:
            _move(
                booking,
                Status.IN_PROGRESS,
                now=now,
                actor=actor,
                reason="both_joined",
                fields=tuple(fields),
            )
        else:
            booking.save(update_fields=[*fields, "updated_at"])
    return Joined(booking=booking, consultation=consultation)


# --- Ends -------------------------------------------------------------------------------------


def _complete(booking: Booking, now: datetime, *, reason: str) -> None:
    booking.refund_amount = 0
    _settle(booking, now, took_place=True)
    _move(booking, Status.COMPLETED, now=now, reason=reason, fields=("refund_amount", "settled_at"))


def _no_show(booking: Booking, now: datetime) -> None:
    """A confirmed booking past its no-show time: the consultant if they have not joined (the
    client gets everything back), else the client (the consultant is paid)."""
    by = Party.CONSULTANT if booking.consultant_joined_at is None else Party.CLIENT
    booking.no_show_by = by
    booking.refund_amount = booking.price if by == Party.CONSULTANT else 0
    _settle(booking, now)
    _close_consultation(booking, now)
    _move(
        booking,
        Status.NO_SHOW,
        now=now,
        reason=f"no_show_{by}",
        fields=("no_show_by", "refund_amount", "settled_at"),
    )
    _email(booking, Notice.NO_SHOW, now)


def on_consultation_ended(sender, consultation: Consultation, **kwargs) -> None:
    """`consultation_ended` of a booked consultation (in its ending transaction): an
    `in_progress` booking is `completed` and settled. A booking still `confirmed` (one side
    never came) is left to the no-show rule."""
    if consultation.kind != Kind.BOOKED or consultation.booking_id is None:
        return
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("consultant__user", "client")
        .filter(id=consultation.booking_id)
        .first()
    )
    if booking is None or booking.status != Status.IN_PROGRESS:
        return
    _complete(booking, consultation.ended_at or clock.now(), reason="consultation_ended")


# --- The lifecycle job ------------------------------------------------------------------------


@dataclass
class Sweep:
    expired: int = 0
    no_shows: int = 0
    completed: int = 0
    reminders: int = 0
    emails: int = 0


BATCH = 200


def _each_locked(query, handle: Callable[[Booking, datetime], bool], now: datetime) -> int:
    """Runs `handle` on the rows of `query`, each in its own durable transaction with its row
    (and its consultation's) locked; rows another worker holds are skipped. Returns how many
    `handle` changed."""
    done = 0
    ids = list(query.order_by("start_at").values_list("id", flat=True)[:BATCH])
    for booking_id in ids:
        with transaction.atomic(durable=True):
            consultation_id = (
                Booking.objects.filter(id=booking_id)
                .values_list("consultation_id", flat=True)
                .first()
            )
            if consultation_id is not None:
                taken = list(
                    Consultation.objects.select_for_update(skip_locked=True, of=("self",))
                    .filter(id=consultation_id)
                    .values_list("id", flat=True)
                )
                if not taken:
                    continue
            booking = (
                Booking.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("consultant__user", "client", "hold")
                .filter(id=booking_id)
                .first()
            )
            if booking is not None and handle(booking, now):
                done += 1
    return done


def _expire(booking: Booking, now: datetime) -> bool:
    if booking.status != Status.PENDING or booking.expires_at is None or booking.expires_at > now:
        return False
    _settle(booking, now)  # a split booking's hold comes back
    _move(booking, Status.EXPIRED, now=now, reason="unpaid")
    return True


def _no_show_due(booking: Booking, now: datetime) -> bool:
    late = booking.start_at + timedelta(minutes=settings.BOOKING_NO_SHOW_MINUTES)
    if booking.status != Status.CONFIRMED or now < late:
        return False
    _no_show(booking, now)
    return True


def _complete_due(booking: Booking, now: datetime) -> bool:
    """An in-progress booking past its end whose consultation's end did not complete it (the
    end sweep is late, or the receiver failed): ends the consultation (which completes the
    booking through `on_consultation_ended`), or completes it directly."""
    if booking.status != Status.IN_PROGRESS or booking.end_at > now:
        return False
    _close_consultation(booking, now)
    if booking.status == Status.IN_PROGRESS:
        booking.refresh_from_db(fields=["status", "settled_at", "refund_amount"])
    if booking.status == Status.IN_PROGRESS:
        _complete(booking, now, reason="end_at")
    return True


def _remind(booking: Booking, now: datetime) -> bool:
    if booking.status != Status.CONFIRMED or booking.start_at <= now:
        return False
    ahead = booking.start_at - now
    if ahead <= timedelta(minutes=15):
        _email(booking, Notice.REMINDER_15M, now)
        return True
    # No 24-hour reminder for a booking confirmed less than 24 hours ahead.
    confirmed_ahead = booking.start_at - (booking.paid_at or booking.created_at)
    if ahead <= timedelta(hours=24) and confirmed_ahead > timedelta(hours=24):
        _email(booking, Notice.REMINDER_24H, now)
        return True
    return False


def run_lifecycle(*, now: datetime | None = None) -> Sweep:
    """The bookings' periodic job (`config.jobs`): unpaid bookings expire (their slot is free
    again), confirmed ones past `BOOKING_NO_SHOW_MINUTES` become no-shows, in-progress ones
    past their end complete, reminders go out 24 hours and 15 minutes before, and email events
    never sent are sent. Safe to run twice or late: every row is re-checked under its lock."""
    now = now or clock.now()
    sweep = Sweep()
    sweep.expired = _each_locked(
        Booking.objects.filter(status=Status.PENDING, expires_at__lte=now), _expire, now
    )
    late = now - timedelta(minutes=settings.BOOKING_NO_SHOW_MINUTES)
    sweep.no_shows = _each_locked(
        Booking.objects.filter(status=Status.CONFIRMED, start_at__lte=late), _no_show_due, now
    )
    sweep.completed = _each_locked(
        Booking.objects.filter(status=Status.IN_PROGRESS, end_at__lte=now), _complete_due, now
    )
    due = Booking.objects.filter(
        status=Status.CONFIRMED, start_at__gt=now, start_at__lte=now + timedelta(hours=24)
    )
    near = due.filter(start_at__lte=now + timedelta(minutes=15)).exclude(
        emails__notice=Notice.REMINDER_15M
    )
    far = due.filter(start_at__gt=now + timedelta(minutes=15)).exclude(
        emails__notice=Notice.REMINDER_24H
    )
    sweep.reminders = _each_locked(near, _remind, now) + _each_locked(far, _remind, now)
    from bookings import emails

    for email_id in emails.unsent_email_ids():
        emails.send_after_commit(email_id)  # (outside a transaction: queued at once)
        sweep.emails += 1
    return sweep


def consultant_is_booked(consultant: ConsultantProfile, now: datetime) -> bool:
    """The busy hook (`consultations.services.add_busy_check`): a booking in progress, or a
    confirmed one whose room is open (from `BOOKING_JOIN_EARLY_MINUTES` before its start)."""
    soon = now + timedelta(minutes=settings.BOOKING_JOIN_EARLY_MINUTES)
    return Booking.objects.filter(
        Q(status=Status.IN_PROGRESS)
        | Q(status=Status.CONFIRMED, start_at__lte=soon, end_at__gt=now),
        consultant_id=consultant.id,
    ).exists()


__all__ = [
    "HOLDING_STATUSES",
    "PAYMENT_STARTS",
    "Joined",
    "PaymentStart",
    "book",
    "cancel_booking",
    "cancel_by_operator",
    "confirm_paid_booking",
    "consultant_is_booked",
    "join_booking",
    "on_consultation_ended",
    "refund_for",
    "role_of",
    "run_lifecycle",
    "split_problem",
]
