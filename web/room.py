"""The consultation room, `/consultations/<id>/` (UI.md): one page through a consultation's life.

`room` renders the whole page for the state the consultation is in (ringing, active, finished,
or a request that never started); `static/js/room/` keeps it live over the WebSocket and asks
the routes below whenever it must re-read something: after a reconnect or a reload, on a status
change, after a recharge. Every route answers the consultation's two participants only (404 for
anyone else, the login page or 401 for a visitor) and calls the same services and selectors as
the API. No rule lives here or in the scripts: the figures come from `consultations.selectors`.

| route | answers |
| --- | --- |
| `GET  /consultations/<id>/` | the page; `?part=body` only the part that changes with the status |
| `GET  .../state/` | the consultation, its meter, the other side's presence (JSON) |
| `GET  .../messages/?before=<message id>` | older messages, newest first (JSON, like the API) |
| `GET  .../rtc/` | the call's ICE servers (JSON, like the API's `rtc`) |
| `POST .../end/` | either side ends it (the final seconds are billed) |
| `POST .../cancel/` | the client withdraws a request that is still ringing |
| `POST .../review/` | the client's review of a finished consultation (a form) |
| `POST .../recharge/` | the client opens a gateway order without leaving the room (JSON) |
| `POST .../recharge/<payment id>/pay/` | `local` gateway only: the offline checkout's Pay |
| `POST .../recharge/verify/` | Razorpay Checkout's answer, verified (JSON) |

JSON errors are the API's shape, `{"code", "detail"}`, with the API's codes.
"""

from __future__ import annotations

import uuid
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.permissions import signed_in_user
from chat import selectors as chat_selectors
from chat.rtc import ice_config
from chat.serializers import message_data
from config.errors import ApiError
from consultations import presence
from consultations import selectors as consultation_selectors
from consultations import services as consultations
from consultations.billing import BALANCE_LOW_SECONDS
from consultations.models import FINISHED_STATUSES, Consultation, EndReason, Kind, Status
from consultations.serializers import consultation_frame_data
from reviews.models import MAX_COMMENT_LENGTH, Review
from reviews.services import create_review
from wallets import payments
from wallets.forms import RechargeForm
from wallets.gateway import LocalGateway
from wallets.models import EntryKind, LedgerEntry, Payment, PaymentStatus
from wallets.services import wallet_for

FIRST_PAGE = 30  # messages rendered with the page; older ones are fetched on scroll up
MAX_PAGE = 50
RECHARGE_PRESETS = (10000, 20000, 50000, 100000)  # paise: ₹100, ₹200, ₹500, ₹1,000


# Keyed by the status as stored (a str; Status members are equal to theirs).
STATUS_LABELS: dict[str, Promise] = {
    Status.PENDING: gettext_lazy("Ringing"),
    Status.ACTIVE: gettext_lazy("In progress"),
    Status.ENDED: gettext_lazy("Ended"),
    Status.FORCE_ENDED: gettext_lazy("Ended"),
    Status.DECLINED: gettext_lazy("Declined"),
    Status.CANCELLED: gettext_lazy("Cancelled"),
    Status.EXPIRED: gettext_lazy("Not answered"),
}
CHANNEL_LABELS = {
    "chat": gettext_lazy("Chat"),
    "voice": gettext_lazy("Voice call"),
    "video": gettext_lazy("Video call"),
}


# --- Who may see the room ---------------------------------------------------------------------


class Room:
    """A consultation as one of its participants sees it."""

    def __init__(self, consultation: Consultation, user):
        self.consultation = consultation
        self.user = user
        self.role = "client" if user.id == consultation.client_id else "consultant"
        self.peer = consultation.consultant.user if self.role == "client" else consultation.client

    @property
    def is_client(self) -> bool:
        return self.role == "client"


def _room_for(request: HttpRequest, consultation_id) -> Room:
    consultation = (
        Consultation.objects.select_related("consultant__user", "client")
        .filter(id=consultation_id)
        .first()
    )
    user = request.user
    if consultation is None or user.id not in (
        consultation.client_id,
        consultation.consultant.user_id,
    ):
        raise Http404
    return Room(consultation, user)


def participant_page(view):
    """A page of the room: visitors go to the login page, strangers get a 404."""

    @wraps(view)
    def wrapper(request, consultation_id, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, _room_for(request, consultation_id), *args, **kwargs)

    return wrapper


def participant_json(view):
    """A JSON route of the room: 401 `not_authenticated`, 404 `not_found`, the services'
    `ApiError`s as `{"code", "detail"}` with their status."""

    @wraps(view)
    def wrapper(request, consultation_id, *args, **kwargs):
        if not request.user.is_authenticated:
            return _error(401, "not_authenticated", _("Sign in again to carry on."))
        try:
            room = _room_for(request, consultation_id)
            return view(request, room, *args, **kwargs)
        except Http404:
            return _error(404, "not_found", _("Not found."))
        except ApiError as error:
            return _error(error.status_code, error.code, str(error.detail))

    return wrapper


def _error(status: int, code: str, detail: str, **more) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, **more}, status=status)


# --- What the page shows ----------------------------------------------------------------------


def state(room: Room) -> dict:
    """The consultation and its figures as of now, as the page's script reads them: on the
    first paint (in the page), after a reconnect and after a recharge (`room_state`). The
    client's wallet is shown to the client only; the earnings to the consultant only."""
    consultation = room.consultation
    now = timezone.now()
    figures = consultation_selectors.meter(consultation, now=now)
    meter = {
        "billed_seconds": figures.billed_seconds,
        "total_amount": figures.total_amount,
        "remaining_seconds": figures.remaining_seconds if room.is_client else None,
        "ends_in_seconds": figures.ends_in_seconds,
        "balance_low": (
            room.is_client
            and figures.remaining_seconds is not None
            and figures.remaining_seconds < BALANCE_LOW_SECONDS
        ),
    }
    if room.is_client:
        meter.update(balance=figures.balance, available=figures.available)
    else:
        meter.update(earned=figures.earned)
    return {
        "consultation": consultation_frame_data(consultation),
        "role": room.role,
        "peer_online": presence.is_online(room.peer.id),
        "ring_seconds_left": consultation_selectors.ring_seconds_left(consultation, now=now),
        "meter": meter,
    }


def end_reason_text(room: Room) -> str:
    """Why it ended, in words for this viewer."""
    reason = room.consultation.end_reason
    peer = room.peer.name
    mine = {
        "client": EndReason.CLIENT_ENDED,
        "consultant": EndReason.CONSULTANT_ENDED,
    }[room.role]
    if reason == mine:
        return _("You ended the consultation.")
    if reason in (EndReason.CLIENT_ENDED, EndReason.CONSULTANT_ENDED):
        return _("%(name)s ended the consultation.") % {"name": peer}
    if reason == EndReason.INSUFFICIENT_BALANCE:
        if room.is_client:
            return _("Your balance ran out, so the consultation ended by itself.")
        return _("The client's balance ran out, so the consultation ended by itself.")
    if reason == EndReason.CONSULTANT_DISCONNECTED:
        if room.is_client:
            return _("%(name)s lost their connection for too long; you are not billed for it.") % {
                "name": peer
            }
        return _("Your connection was lost for too long, so the consultation ended.")
    if reason == EndReason.CLIENT_DISCONNECTED:
        if room.is_client:
            return _("Your connection was lost for too long, so the consultation ended.")
        return _("%(name)s lost their connection for too long.") % {"name": peer}
    if reason == EndReason.BOOKING_OVER:
        return _("The booked time is over.")
    if reason == EndReason.ADMIN:
        return _("Our support team ended the consultation.")
    return _("The consultation has ended.")


def closed_text(room: Room) -> str:
    """What became of a request that never started, for this viewer."""
    status, peer = room.consultation.status, room.peer.name
    if status == Status.DECLINED:
        if room.is_client:
            return _("%(name)s could not take your request just now. You were not charged.") % {
                "name": peer
            }
        return _("You declined this request.")
    if status == Status.CANCELLED:
        if room.is_client:
            return _("You cancelled the request. You were not charged.")
        return _("%(name)s cancelled the request before you answered.") % {"name": peer}
    if room.is_client:
        return _("%(name)s did not answer in time. You were not charged.") % {"name": peer}
    return _("This request expired before you answered.")


def balance_after(consultation: Consultation) -> int:
    """The client's balance right after the consultation's last charge (the receipt's "balance
    left"), or the balance now if it never charged anything."""
    entry = (
        LedgerEntry.objects.filter(
            account__user_id=consultation.client_id,
            kind=EntryKind.CONSULTATION_CHARGE,
            transaction__reference_type="consultation",
            transaction__reference_id=str(consultation.id),
        )
        .order_by("-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    return entry if entry is not None else wallet_for(user=consultation.client).balance


def receipt(room: Room) -> dict:
    consultation = room.consultation
    if consultation.kind == Kind.BOOKED and consultation.started_at and consultation.ended_at:
        seconds = int((consultation.ended_at - consultation.started_at).total_seconds())
    else:
        seconds = consultation.billed_seconds
    return {
        "seconds": seconds,
        "amount": consultation.total_amount,
        "earned": consultation.consultant_amount,
        "balance_left": balance_after(consultation) if room.is_client else None,
        "reason": end_reason_text(room),
    }


class ReviewForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=gettext_lazy("Rating"),
        choices=[(n, str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": gettext_lazy("Choose from 1 to 5 stars.")},
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        required=False,
        max_length=MAX_COMMENT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Optional. Other clients read it on their profile."),
    )


def suggested_recharge(consultation: Consultation) -> int:
    """Paise for about ten more minutes at the rate, in whole hundreds of rupees (at least ₹100)."""
    wanted = max(consultation.rate_per_minute * 10, payments.MIN_RECHARGE)
    return max(10000, -(-wanted // 10000) * 10000)


def _messages_page(consultation: Consultation, before=None, size: int = FIRST_PAGE):
    """Up to `size` messages older than `before`, oldest first, and whether there are more."""
    page = list(chat_selectors.history(consultation_id=consultation.id, before=before)[: size + 1])
    more = len(page) > size
    return list(reversed(page[:size])), more


def strings() -> dict:
    """The words the room's scripts show, translated here (the template feeds them in)."""
    return {
        "queued": _("Waiting for the connection"),
        "sent": _("Sent"),
        "delivered": _("Delivered"),
        "seen": _("Seen"),
        "failed": _("Not sent: %(reason)s"),
        "not_sent": _("Not sent"),
        "you": _("You"),
        "online_label": _("Online"),
        "offline_label": _("Offline"),
        "new_message": _("%(name)s: %(body)s"),
        "load_older": _("Load earlier messages"),
        "older_loading": _("Loading earlier messages…"),
        "older_failed": _("Could not load earlier messages. Scroll up to try again."),
        "too_long": _("A message is at most 4,000 characters."),
        "reconnecting": _(
            "Connection lost. Reconnecting… What you send now goes out as soon as it is back."
        ),
        "reconnected": _("Connected again."),
        "signed_out": _("You were signed out."),
        "sign_in": _("Sign in again"),
        "low_balance": _(
            "Less than 2 minutes of talk time left. Recharge to keep talking; "
            "the consultation goes on while you pay."
        ),
        "recharged": _("%(amount)s added. Talk time left: %(time)s."),
        "recharge_failed": _("The payment did not go through: %(reason)s"),
        "paying": _("Paying…"),
        "call_waiting": _("Waiting for %(name)s to join the call…"),
        "call_connecting": _("Connecting the call…"),
        "call_connected": _("Connected"),
        "call_reconnecting": _("The connection dropped. Reconnecting the call…"),
        "call_closed": _("%(name)s left the call. It reconnects when they are back."),
        "call_ended": _("The call has ended."),
        "media_denied": _(
            "Your browser blocked the camera and microphone. Allow them for this site (the "
            "icon in the address bar), then press Try again. The chat still works."
        ),
        "media_missing": _(
            "No camera or microphone was found. Connect one and press Try again. "
            "The chat still works."
        ),
        "media_busy": _(
            "Your camera or microphone is in use by another app. Close it and press Try "
            "again. The chat still works."
        ),
        "media_failed": _("The call cannot start on this device. The chat still works."),
        "camera_missing": _("No camera found: you are in the call with your voice only."),
        "end_failed": _("Could not end the consultation: %(reason)s"),
        "cancel_failed": _("Could not cancel: %(reason)s"),
        "ring_over": _("No answer yet…"),
        "error_generic": _("Something went wrong. Try again."),
    }


def _config(request: HttpRequest, room: Room) -> dict:
    """What the scripts need that does not change with the status."""
    consultation = room.consultation
    base = reverse("web:room", args=[consultation.id])
    return {
        "id": str(consultation.id),
        "role": room.role,
        "me": str(room.user.id),
        "peer": {"id": str(room.peer.id), "name": room.peer.name},
        "channel": consultation.channel,
        "kind": consultation.kind,
        "gateway": settings.PAYMENT_GATEWAY,
        "csrf": get_token(request),
        "urls": {
            "page": base,
            "body": f"{base}?part=body",
            "state": base + "state/",
            "messages": base + "messages/",
            "rtc": base + "rtc/",
            "end": base + "end/",
            "cancel": base + "cancel/",
            "recharge": base + "recharge/",
            "verify": base + "recharge/verify/",
            "login": reverse("web:login") + "?next=" + base,
        },
    }


# --- The page -----------------------------------------------------------------------------------


@require_GET
@participant_page
def room(request: HttpRequest, room: Room) -> HttpResponse:
    return _render(request, room)


def _render(
    request: HttpRequest,
    room: Room,
    *,
    review_form: ReviewForm | None = None,
    status: int = 200,
) -> HttpResponse:
    consultation = room.consultation
    page, more = _messages_page(consultation)
    for message in page:
        message.mine = message.sender_id == room.user.id
    finished = consultation.status in FINISHED_STATUSES
    review = None
    if finished and room.is_client:
        review = Review.objects.filter(consultation=consultation).first()
    context = {
        "consultation": consultation,
        "room": room,
        "peer": room.peer,
        "state": state(room),
        "messages_page": page,
        "older": str(page[0].id) if more and page else "",
        "finished": finished,
        "receipt": receipt(room) if finished else None,
        "closed_text": closed_text(room)
        if consultation.status in (Status.DECLINED, Status.CANCELLED, Status.EXPIRED)
        else "",
        "review": review,
        "review_form": review_form or ReviewForm(),
        "recharge_form": RechargeForm(
            initial={"amount": f"{suggested_recharge(consultation) / 100:.2f}"}
        ),
        "recharge_presets": [
            {
                "paise": paise,
                "value": f"{paise / 100:.2f}",
                "minutes": paise // consultation.rate_per_minute
                if consultation.rate_per_minute
                else None,
            }
            for paise in RECHARGE_PRESETS
        ],
        "call": consultation.channel in ("voice", "video"),
        "instant": consultation.kind == Kind.INSTANT,
        "status_label": STATUS_LABELS[consultation.status],
        "channel_label": CHANNEL_LABELS[consultation.channel],
    }
    if request.GET.get("part") == "body":
        return render(request, "consultations/_room_body.html", context, status=status)
    context.update(config=_config(request, room), strings=strings())
    return render(request, "consultations/room.html", context, status=status)


# --- JSON for the page's script ---------------------------------------------------------------


@require_GET
@participant_json
def room_state(request: HttpRequest, room: Room) -> JsonResponse:
    return JsonResponse(state(room))


@require_GET
@participant_json
def room_messages(request: HttpRequest, room: Room) -> JsonResponse:
    """A page of older messages (`?before=<message id>`), newest first like the API's history,
    with `next` (the id to ask with next, or null at the start of the conversation)."""
    before = None
    raw = request.GET.get("before")
    if raw:
        try:
            before = room.consultation.messages.filter(id=uuid.UUID(raw)).first()
        except ValueError:
            before = None
        if before is None:
            return _error(400, "invalid", _("No such message in this consultation."))
    try:
        size = min(MAX_PAGE, max(1, int(request.GET.get("page_size", FIRST_PAGE))))
    except ValueError:
        size = FIRST_PAGE
    page, more = _messages_page(room.consultation, before=before, size=size)
    page.reverse()
    return JsonResponse(
        {
            "results": [message_data(m) for m in page],
            "next": str(page[-1].id) if more and page else None,
        }
    )


@require_GET
@participant_json
def room_rtc(request: HttpRequest, room: Room) -> JsonResponse:
    """The API's `rtc` for the page: 409 `channel_not_offered` for a chat, `invalid_state` once
    the consultation is over (no TURN credentials for a finished call)."""
    consultation = room.consultation
    if consultation.channel not in ("voice", "video"):
        return _error(409, "channel_not_offered", _("Chat consultations have no call."))
    if consultation.status not in (Status.PENDING, Status.ACTIVE):
        return _error(409, "invalid_state", _("The consultation is over."))
    config = ice_config(user_id=request.user.id)
    return JsonResponse(
        {"ice_servers": config.ice_servers, "expires_at": config.expires_at.isoformat()}
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _transition(request: HttpRequest, room: Room, service, *, already: str) -> HttpResponse:
    """Runs End or Cancel's service. With the script (Accept: JSON) the answer is the
    consultation, or the error; a plain form post comes back to the room, where the status
    shows (`already` says why when it had moved on)."""
    try:
        consultation = service(consultation_id=room.consultation.id, actor=request.user)
    except ApiError as error:
        if _wants_json(request):
            return _error(error.status_code, error.code, str(error.detail))
        if error.code != "invalid_state":
            raise
        flash.info(request, already)
        return redirect("web:room", consultation_id=room.consultation.id)
    if _wants_json(request):
        return JsonResponse({"consultation": consultation_frame_data(consultation)})
    return redirect("web:room", consultation_id=room.consultation.id)


@require_POST
@participant_page
def end(request: HttpRequest, room: Room) -> HttpResponse:
    """Either side ends an active consultation (its final seconds billed); both pages then hear
    `consultation_updated` and show the receipt."""

    def end_it(**kwargs) -> Consultation:
        return consultations.end_consultation(**kwargs).consultation

    return _transition(request, room, end_it, already=_("This consultation had already ended."))


@require_POST
@participant_page
def cancel(request: HttpRequest, room: Room) -> HttpResponse:
    """The client withdraws a request that is still ringing."""
    if not room.is_client:
        raise Http404
    return _transition(
        request,
        room,
        consultations.cancel_consultation,
        already=_("The request had already been answered or had expired."),
    )


@require_POST
@participant_page
def review(request: HttpRequest, room: Room) -> HttpResponse:
    """The client's review of a finished consultation (the form under the receipt)."""
    if not room.is_client:
        raise Http404
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _render(request, room, review_form=form, status=400)
    try:
        create_review(
            client=signed_in_user(request),
            consultation_id=room.consultation.id,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except ApiError as error:
        if error.code == "already_reviewed":
            flash.info(request, _("You have already reviewed this consultation."))
        else:
            flash.error(request, str(error.detail))
        return redirect("web:room", consultation_id=room.consultation.id)
    flash.success(request, _("Thank you! Your review helps other clients choose."))
    return redirect("web:room", consultation_id=room.consultation.id)


# --- Recharging without leaving the room --------------------------------------------------------


def _recharged(room: Room, payment: Payment) -> JsonResponse:
    """The answer to a credited recharge: the room's figures as of now (the talk time left has
    grown by what the money buys)."""
    room.consultation.refresh_from_db()
    return JsonResponse({"amount": payment.amount, "status": payment.status, **state(room)})


@require_POST
@participant_json
def recharge(request: HttpRequest, room: Room) -> JsonResponse:
    """Opens a gateway order for the amount in the room's dialog (the wallet's recharge,
    `wallets.payments.create_recharge`). The script then pays it: the offline checkout's Pay in
    `local` mode, Razorpay Checkout in `razorpay` mode."""
    if not room.is_client:
        return _error(404, "not_found", _("Not found."))
    form = RechargeForm(request.POST)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return _error(400, "invalid", _("Check the amount."), fields=fields)
    payment = payments.create_recharge(user=request.user, amount=form.paise())
    # What the running gateway's checkout needs (Razorpay's order and key, Stripe's client
    # secret and publishable key); the wallets app alone tells the gateways apart.
    answer = {**payments.checkout_fields(payment), "payment_id": str(payment.id)}
    if answer.pop("offline", False):
        answer["pay_url"] = reverse(
            "web:room-recharge-pay", args=[room.consultation.id, payment.id]
        )
    answer.update(name=room.user.name, email=room.user.email)
    return JsonResponse(answer, status=201)


@require_POST
@participant_json
def recharge_pay(request: HttpRequest, room: Room, payment_id: uuid.UUID) -> JsonResponse:
    """The offline gateway's checkout, inside the room (`PAYMENT_GATEWAY=local` only): Pay
    plays the gateway (a captured payment and its signature, `LocalGateway.pay`) and the
    platform credits it only through the verify service, exactly as for Razorpay."""
    if settings.PAYMENT_GATEWAY != "local" or not room.is_client:
        return _error(404, "not_found", _("Not found."))
    payment = Payment.objects.filter(id=payment_id, user=signed_in_user(request)).first()
    if payment is None:
        return _error(404, "not_found", _("Not found."))
    if payment.status == PaymentStatus.CREATED:
        gateway_payment_id, signature = LocalGateway.pay(payment.gateway_order_id)
        payment, _entry = payments.verify_recharge(
            user=request.user,
            razorpay_order_id=payment.gateway_order_id,
            razorpay_payment_id=gateway_payment_id,
            razorpay_signature=signature,
        )
    return _recharged(room, payment)


@require_POST
@participant_json
def recharge_verify(request: HttpRequest, room: Room) -> JsonResponse:
    """Razorpay Checkout's handler answer, checked by the verify service (credited once); or,
    after Stripe.js confirmed the payment, only its `payment_id`: the platform asks Stripe."""
    if not room.is_client:
        return _error(404, "not_found", _("Not found."))
    if "razorpay_signature" not in request.POST and request.POST.get("payment_id"):
        payment, _entry = payments.confirm_recharge(
            user=request.user, payment_id=request.POST["payment_id"][:64]
        )
        return _recharged(room, payment)
    payment, _entry = payments.verify_recharge(
        user=request.user,
        razorpay_order_id=request.POST.get("razorpay_order_id", "")[:64],
        razorpay_payment_id=request.POST.get("razorpay_payment_id", "")[:64],
        razorpay_signature=request.POST.get("razorpay_signature", "")[:128],
    )
    return _recharged(room, payment)
