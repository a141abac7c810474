"""The bookings pages (UI.md): the consultant's session types and weekly hours
(`/dashboard/bookings/`), booking a session (`/bookings/new/`) and a booking
(`/bookings/<id>/`: its status, cancel with the refund it gives, join when the room opens).
Thin like the API: a form parses, one service decides, the page shows."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.exceptions import ValidationError

from accounts.permissions import signed_in_user
from bookings import pages, schedules
from bookings.forms import BookingForm, CancelForm, ScheduleForm, SessionTypeForm, attach_errors
from bookings.models import Booking, SessionType
from config.errors import ApiError, message_for
from consultants.services import profile_for
from wallets.payments import checkout_fields
from web.decorators import role_required

# --- The consultant's session types and weekly hours --------------------------------------------


def offer_editor(
    request: HttpRequest, profile, *, back: str
) -> tuple[HttpResponse | None, dict, int]:
    """The session types and weekly hours editors, for whichever page carries them (this app's
    `/dashboard/bookings/`, the web app's `/dashboard/profile/`): runs the posted action if it
    is one of theirs (`add_type`, `type_off`, `hours`; a page may carry other editors beside
    them). Answers `(redirect, context, status)`: a redirect to `back` after a change, else
    the editors' context (the failed form bound, its errors next to their fields, what was
    typed kept) and the status the page answers with (400 if an action of theirs failed)."""
    action = request.POST.get("action", "") if request.method == "POST" else ""
    schedule = schedules.schedule_of(profile) or schedules.empty_schedule(profile)
    type_form = SessionTypeForm(request.POST if action == "add_type" else None)
    hours_form = ScheduleForm(
        request.POST if action == "hours" else None, initial=ScheduleForm.initial_for(schedule)
    )
    status = 200
    if action == "add_type":
        status = 400
        if type_form.is_valid():
            try:
                schedules.create_session_type(consultant=profile, values=type_form.values())
            except ValidationError as error:
                attach_errors(type_form, error.detail)
            else:
                messages.success(request, _("Session type added: clients can book it now."))
                return redirect(back), {}, 302
    elif action == "type_off":
        try:
            schedules.deactivate_session_type(
                consultant=profile, session_type_id=_session_type_id(request.POST)
            )
        except ApiError as error:
            messages.error(request, message_for(error))
        else:
            messages.success(request, _("Session type turned off. Bookings made keep their terms."))
        return redirect(back), {}, 302
    elif action == "hours":
        status = 400
        if hours_form.is_valid():
            try:
                schedules.set_schedule(consultant=profile, values=hours_form.values())
            except ValidationError as error:
                hours_form.attach(error.detail)
            else:
                messages.success(request, _("Your hours are saved."))
                return redirect(back), {}, 302
    session_types = list(
        SessionType.objects.filter(consultant=profile, is_active=True).order_by("price", "title")
    )
    context = {
        "session_types": session_types,
        "type_form": type_form,
        "hours_form": hours_form,
        "schedule": schedule,
    }
    return None, context, status


def _session_type_id(data) -> uuid.UUID | None:
    """The posted session type's id; None for what is not one (a stale or edited form), which
    then matches no session type, as the service says in words, instead of a query error."""
    try:
        return uuid.UUID(data.get("session_type", ""))
    except ValueError:
        return None


@role_required("consultant")
@require_http_methods(["GET", "POST"])
def editor(request: HttpRequest) -> HttpResponse:
    """The consultant's bookings: the upcoming ones, and what they sell and when (the same
    editors as the profile page's, `offer_editor`)."""
    profile = profile_for(user=signed_in_user(request))
    answer, context, status = offer_editor(
        request, profile, back=reverse("web:dashboard-bookings") + "#main"
    )
    if answer is not None:
        return answer
    return render(
        request,
        "bookings/editor.html",
        {
            **context,
            "profile": profile,
            "upcoming": pages.upcoming_for_consultant(profile, now=timezone.now()),
        },
        status=status,
    )


# --- Booking a session --------------------------------------------------------------------------


def _bookable(session_type_id) -> SessionType:
    """An active session type of a verified consultant (what the profile offers), else 404."""
    from consultants import selectors as consultant_selectors

    try:
        key = uuid.UUID(str(session_type_id))
    except ValueError:
        raise Http404 from None
    session_type = (
        SessionType.objects.filter(id=key, is_active=True)
        .select_related("consultant__user")
        .first()
    )
    if session_type is None:
        raise Http404
    if consultant_selectors.public_consultant(consultant_id=session_type.consultant_id) is None:
        raise Http404
    return session_type


def _first_day(request: HttpRequest, schedule, now) -> tuple:
    """The first local date of the free times shown (`?from=`, today at the earliest)."""
    from datetime import date

    today = pages.today_of(schedule, now)
    try:
        asked = date.fromisoformat(request.GET.get("from", ""))
    except ValueError:
        asked = today
    return max(today, asked), today


@role_required("client")
@require_http_methods(["GET", "POST"])
def new_booking(request: HttpRequest) -> HttpResponse:
    """Pick one of the next free times, write goals, pay from the wallet or by card / UPI."""
    from datetime import timedelta

    from bookings import services
    from wallets import freezes

    session_type = _bookable(request.GET.get("session_type") or request.POST.get("session_type"))
    profile = session_type.consultant
    schedule = schedules.schedule_of(profile)
    now = timezone.now()
    first, today = _first_day(request, schedule, now)
    found = pages.free_times(schedule=schedule, session_types=[session_type], first=first, now=now)[
        session_type.id
    ]
    account, freeze = freezes.wallet_and_freeze(user=request.user)
    form = BookingForm(
        request.POST or None,
        slots=found,
        initial={"slot": request.GET.get("start")},
        split_label=_split_label(account.available, session_type.price) if freeze is None else None,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                booking = services.book(
                    client=signed_in_user(request),
                    session_type_id=session_type.id,
                    start_at=form.start_at(),
                    payment_method=form.cleaned_data["pay_with"],
                    goals=form.cleaned_data["goals"],
                )
            except ValidationError as error:  # `split` no longer fits the wallet
                attach_errors(form, error.detail, fields={"payment_method": "pay_with"})
            except ApiError as error:
                _booking_error(form, error)
                status = error.status_code
            else:
                if booking.status == "confirmed":
                    messages.success(
                        request, _("Booked. The confirmation is on its way to your email.")
                    )
                    return redirect("web:booking", booking_id=booking.id)
                return redirect(_payment_url(booking))
    if request.method == "POST":  # what the wallet holds now, after a refused booking
        account, freeze = freezes.wallet_and_freeze(user=request.user)
    days = [
        (day, [_radio(form, slot) for slot in day_slots])
        for day, day_slots in pages.by_local_day(found)
    ]
    later = first + timedelta(days=pages.BOOKING_PAGE_DAYS)
    return render(
        request,
        "bookings/new.html",
        {
            "session_type": session_type,
            "profile": profile,
            "form": form,
            "days": days,
            "wallet": account,
            "wallet_frozen": freeze is not None,
            "enough": account.available >= session_type.price,
            "later": later.isoformat() if schedule else None,
            "earlier": (first - timedelta(days=pages.BOOKING_PAGE_DAYS)).isoformat()
            if first > today
            else None,
            "policy": _policy(),
        },
        status=status,
    )


def _split_label(available: int, price: int) -> str | None:
    """The `split` choice for a wallet short of the price (`services.split_problem`), in
    rupees, or None when it does not fit. Worded without "Wallet" or "Card / UPI", the names
    of the other two choices, so that each name still finds one control."""
    from bookings import services
    from web.templatetags.site import format_rupees

    if services.split_problem(available=available, price=price) is not None:
        return None
    return _("%(held)s from my balance + %(rest)s online") % {
        "held": format_rupees(available),
        "rest": format_rupees(price - available),
    }


def _radio(form: BookingForm, slot):
    """The slot's radio button of the form, and its time as the day's list shows it."""
    key = slot.start_at.isoformat()
    for radio in form["slot"]:
        if radio.data["value"] == key:
            return radio, timezone.localtime(slot.start_at)
    raise LookupError(key)


def _booking_error(form: BookingForm, error: ApiError) -> None:
    code = getattr(error, "code", None) or error.get_codes()
    if code == "slot_unavailable":
        form.add_error(
            "slot",
            _("That time has just been taken or is no longer available. Choose another slot."),
        )
    elif code in ("insufficient_balance", "insufficient_funds"):
        form.add_error(
            "pay_with",
            _(
                "Your wallet's available balance is below the price. Add money, or pay by "
                "card / UPI."
            ),
        )
    elif code == "not_found":
        form.add_error(None, _("This session is no longer offered."))
    elif code in ("gateway_error", "gateway_unavailable"):
        form.add_error(None, _("The payment gateway did not answer. Try again in a moment."))
    elif code == "invalid" and isinstance(error.detail, dict):
        attach_errors(form, error.detail, fields={"goals": "goals", "payment_method": "pay_with"})
    else:
        form.add_error(None, message_for(error))


def _policy() -> dict:
    return {
        "full_hours": settings.BOOKING_FULL_REFUND_HOURS,
        "no_refund_hours": settings.BOOKING_NO_REFUND_HOURS,
        "late_percent": settings.BOOKING_LATE_REFUND_PERCENT,
        "join_early": settings.BOOKING_JOIN_EARLY_MINUTES,
        "payment_minutes": settings.BOOKING_PAYMENT_MINUTES,
    }


def _payment_url(booking: Booking) -> str:
    """Where a pending booking's gateway payment is made: the offline checkout (local mode),
    which returns to the booking, or the booking's page, which opens the gateway's own."""
    page = reverse("web:booking", args=[booking.id])
    if settings.PAYMENT_GATEWAY == "local" and booking.payment_id:
        checkout = reverse("web:checkout", args=[booking.payment_id])
        return f"{checkout}?{urlencode({'next': page})}"
    return f"{page}?pay=1"


# --- A booking ----------------------------------------------------------------------------------


def _own_booking(request: HttpRequest, booking_id) -> tuple[Booking, str]:
    """The booking and the viewer's part in it (client, consultant); 404 for anyone else."""
    booking = (
        Booking.objects.filter(id=booking_id)
        .select_related("client", "consultant__user", "payment")
        .first()
    )
    if booking is None:
        raise Http404
    if booking.client_id == request.user.id:
        return booking, "client"
    if booking.consultant.user_id == request.user.id:
        return booking, "consultant"
    raise Http404


def _checkout(request, booking: Booking, role: str) -> tuple[dict | None, dict | None]:
    """What the page pays a pending booking with once the client asks (`?pay=1`), in the
    running gateway's shape (`wallets.payments.checkout_fields`, which alone tells gateways
    apart): Razorpay Checkout's order, or Stripe's PaymentIntent (its client secret asked of
    Stripe again: never stored) for the Payment Element. Both verify at the wallet's verify and
    come back here. The offline checkout (local mode) is a page of its own (`_payment_url`)."""
    if not (
        role == "client"
        and booking.status == "pending"
        and booking.payment_id
        and request.GET.get("pay")
        and booking.payment is not None  # (it has one: payment_id; read just below anyway)
    ):
        return None, None
    fields = checkout_fields(booking.payment, fetch=True)
    back = reverse("web:booking", args=[booking.id])
    if fields.get("offline"):
        return None, None
    if "client_secret" in fields:
        if not fields["client_secret"]:  # Stripe did not answer: "Pay now" stays to try again
            return None, None
        return None, {**fields, "payment_id": str(booking.payment_id), "next": back}
    return {
        "key": fields["key_id"],
        "order_id": fields["gateway_order_id"],
        "amount": fields["amount"],
        "currency": fields["currency"],
        "next": back,
    }, None


@login_required
@require_http_methods(["GET"])
def booking_page(request: HttpRequest, booking_id: uuid.UUID) -> HttpResponse:
    booking, role = _own_booking(request, booking_id)
    return _render_booking(request, booking, role)


def _render_booking(request, booking: Booking, role: str, *, cancel_form=None, status=200):
    from datetime import timedelta

    from bookings import services

    now = timezone.now()
    opens = booking.start_at - timedelta(minutes=settings.BOOKING_JOIN_EARLY_MINUTES)
    live = booking.status in ("confirmed", "in_progress") and now < booking.end_at
    cancellable = booking.status in ("pending", "confirmed")
    refund = services.refund_for(booking=booking, cancelled_by=role, now=now) if cancellable else 0
    razorpay, stripe = _checkout(request, booking, role)
    return render(
        request,
        "bookings/booking.html",
        {
            "booking": booking,
            "role": role,
            "other": booking.consultant.user if role == "client" else booking.client,
            "opens": opens,
            "room_open": live and now >= opens,
            "room_later": live and now < opens,
            "cancellable": cancellable,
            "refund": refund,
            "cancel_form": cancel_form or CancelForm(),
            "pay_url": _payment_url(booking) if booking.status == "pending" else None,
            "razorpay": razorpay,
            "stripe": stripe,
            "split": {
                "held": booking.price - booking.payment.amount,
                "rest": booking.payment.amount,
            }
            if booking.payment_method == "split" and booking.payment is not None
            else None,
            "policy": _policy(),
        },
        status=status,
    )


@login_required
@require_POST
def cancel_booking(request: HttpRequest, booking_id: uuid.UUID) -> HttpResponse:
    from bookings import services
    from web.templatetags.site import format_rupees

    booking, role = _own_booking(request, booking_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _render_booking(request, booking, role, cancel_form=form, status=400)
    try:
        booking = services.cancel_booking(
            booking_id=booking.id, actor=signed_in_user(request), reason=form.cleaned_data["reason"]
        )
    except ApiError as error:
        if error.status_code == 404:
            raise Http404 from None
        messages.error(request, _("This booking can no longer be cancelled."))
    else:
        refund = format_rupees(booking.refund_amount)
        if role == "client":
            messages.success(request, _("%(refund)s refunded") % {"refund": refund})
        else:
            messages.success(
                request,
                _("Booking cancelled. %(refund)s goes back to the client's wallet.")
                % {"refund": refund},
            )
    return redirect("web:booking", booking_id=booking.id)


@login_required
@require_POST
def join_booking(request: HttpRequest, booking_id: uuid.UUID) -> HttpResponse:
    """Into the booking's consultation room (opening it if this is the first to join)."""
    from bookings import services

    booking, _role = _own_booking(request, booking_id)
    try:
        joined = services.join_booking(booking_id=booking.id, actor=signed_in_user(request))
    except ApiError as error:
        if error.status_code == 404:
            raise Http404 from None
        messages.error(request, message_for(error))
        return redirect("web:booking", booking_id=booking.id)
    return redirect("web:room", consultation_id=joined.consultation.id)
