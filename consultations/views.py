"""Starting a consultation from a profile and answering a request from the dashboard. The
consultation room itself (`/consultations/<id>/`) brings several apps together, so it lives in
the top app: `web/room.py`."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services as account_services
from accounts.forms import BirthDetailsForm
from accounts.permissions import signed_in_user
from config.errors import ApiError, message_for
from consultants.models import Channel, ConsultantProfile
from consultations import services
from consultations.models import OPEN_STATUSES, Consultation
from consultations.privacy import ASTROLOGY
from web.decorators import role_required


def start_error_message(error: ApiError) -> str:
    """The words a client reads when a consultation cannot start (CONTRACT.md's codes)."""
    return {
        "consultant_offline": _("This expert has just gone offline. Try again later."),
        "consultant_busy": _(
            "This expert is in another consultation right now. Try again in a few minutes."
        ),
        "consultant_not_verified": _("This expert cannot take consultations right now."),
        "channel_not_offered": _("This expert does not offer that kind of consultation."),
        "not_found": _("This expert is no longer on the platform."),
    }.get(error.code, message_for(error))


@role_required("client")
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    consultant_id = request.POST.get("consultant_id", "")
    channel = request.POST.get("channel", "")
    profile_url = (
        reverse("web:consultant", args=[consultant_id])
        if _is_uuid(consultant_id)
        else (reverse("web:consultants"))
    )
    if channel not in Channel.values:
        messages.error(request, _("Choose chat, voice or video."))
        return redirect(profile_url)
    offer = _birth_details_offer(request, consultant_id, channel)
    if offer is not None:
        return offer
    try:
        consultation = services.start_consultation(
            client=signed_in_user(request), consultant_id=consultant_id, channel=channel
        )
    except ApiError as error:
        if error.code == "client_busy":
            open_one = (
                Consultation.objects.filter(
                    client=signed_in_user(request), status__in=OPEN_STATUSES
                )
                .only("id")
                .first()
            )
            if open_one is not None:
                messages.info(request, _("You already have a consultation open: here it is."))
                return redirect("web:room", consultation_id=open_one.id)
        if error.code == "insufficient_balance":
            messages.warning(
                request,
                _(
                    "Add money to your wallet to start: you need at least a few minutes of "
                    "the rate available."
                ),
            )
            query = urlencode({"next": profile_url})
            return redirect(f"{reverse('web:wallet')}?{query}")
        messages.error(request, start_error_message(error))
        return redirect(profile_url)
    return redirect("web:room", consultation_id=consultation.id)


def _birth_details_offer(request: HttpRequest, consultant_id: str, channel: str):
    """Before a client's first astrology consultation: the offer to give their birth details
    (DESIGN.md: asked once, before the first astrology chat). Skippable; saved through the
    same service as the account page. None when there is nothing to offer (or it was answered:
    the consultation starts)."""
    user = signed_in_user(request)
    answer = request.POST.get("birth_offer", "")
    if user.birth_date is not None or answer == "skip" or not _is_uuid(consultant_id):
        return None
    category = (
        ConsultantProfile.objects.filter(id=consultant_id)
        .values_list("category__slug", flat=True)
        .first()
    )
    if category != ASTROLOGY:
        return None
    form = BirthDetailsForm(request.POST if answer == "save" else None)
    if answer == "save" and form.is_valid():
        account_services.update_account(user=user, birth_details=form.birth_details())
        messages.success(request, _("Your birth details are saved."))
        return None
    profile = ConsultantProfile.objects.select_related("user").get(id=consultant_id)
    return render(
        request,
        "consultations/birth_details_offer.html",
        {"form": form, "profile": profile, "channel": channel},
        status=400 if answer == "save" else 200,
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@role_required("consultant")
@require_POST
def answer(request: HttpRequest, consultation_id: uuid.UUID, decision: str) -> HttpResponse:
    """Accept or decline from the dashboard (without its script, or as its fallback)."""
    service = (
        services.accept_consultation if decision == "accept" else services.decline_consultation
    )
    try:
        consultation = service(consultation_id=consultation_id, actor=signed_in_user(request))
    except ApiError as error:
        if error.code == "not_found":
            raise Http404 from None
        messages.info(
            request, _("This request is no longer waiting (it was cancelled or it expired).")
        )
        return redirect("web:dashboard")
    if decision == "accept":
        return redirect("web:room", consultation_id=consultation.id)
    messages.info(request, _("Request declined."))
    return redirect("web:dashboard")


@role_required("consultant")
@require_http_methods(["GET"])
def incoming(request: HttpRequest, consultation_id: uuid.UUID) -> HttpResponse:
    """One ringing request as the dashboard shows it (an HTML fragment its script inserts when
    the socket says `consultation_requested`): the client's name, the channel, the rate."""
    from consultations.models import Status

    consultation = (
        Consultation.objects.select_related("client")
        .filter(id=consultation_id, consultant__user=signed_in_user(request), status=Status.PENDING)
        .first()
    )
    if consultation is None:
        raise Http404
    return render(request, "web/_incoming.html", {"c": consultation})
