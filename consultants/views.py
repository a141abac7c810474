"""Discovery (`/consultants/`) and the consultant's own profile editors (`profile_editor`, drawn
on `/dashboard/profile/` by the web app beside the bookings app's).

Discovery runs the API's selector and keyset pagination (one query a page, pinned in a test);
profile editing calls the same services as `PATCH /consultants/me` and the documents route.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from rest_framework import serializers
from rest_framework.request import Request

from accounts.permissions import signed_in_user
from config.errors import ApiError, message_for
from consultants import selectors, services
from consultants.cards import cards
from consultants.forms import DiscoveryForm, DocumentForm, ProfileForm
from consultants.pagination import KeysetPagination
from web.decorators import role_required

PAGE_SIZE = 20
SELECTS = ("category", "channel", "max_rate", "min_rating", "ordering")


@require_http_methods(["GET"])
def discovery(request: HttpRequest) -> HttpResponse:
    form = DiscoveryForm(request.GET or None)
    if form.is_bound:
        form.is_valid()  # errors are shown; the valid filters apply
    ordering = form.sort_order()
    paginator = KeysetPagination(keys=selectors.sort_keys(ordering), name=ordering)
    paginator.page_size = PAGE_SIZE
    queryset = selectors.discover_consultants(filters=form.filters())
    try:
        consultants = paginator.paginate_queryset(queryset, Request(request))
    except serializers.ValidationError:
        # A cursor we did not make (an old or edited link): the first page instead.
        messages.info(request, _("That page link has expired; here is the first page."))
        params = request.GET.copy()
        params.pop("cursor", None)
        return redirect(f"{request.path}?{params.urlencode()}")
    consultant_cards, labels = cards(consultants)
    return render(
        request,
        "consultants/discovery.html",
        {
            "form": form,
            "options": {name: form.options(name) for name in SELECTS},
            "consultants": consultants,
            "cards": consultant_cards,
            "labels": labels,
            "next_url": paginator.next_url,
            "previous_url": paginator.previous_url,
            "filtered": any(
                value for name, value in request.GET.items() if name not in ("cursor", "ordering")
            ),
        },
    )


def profile_editor(
    request: HttpRequest, profile, *, back: str
) -> tuple[HttpResponse | None, dict, int]:
    """The profile's own editors (who you are, rates, verification documents): runs the
    posted action if it is one of theirs (`profile`, `document`; a page may carry other
    editors beside them), through the same services as `PATCH
    /consultants/me` and the documents route. Answers `(redirect, context, status)`: a
    redirect to `back` after a change, else the forms to draw (the failed one bound, its errors
    next to their fields) and the status the page answers with."""
    action = request.POST.get("action", "") if request.method == "POST" else ""
    initial = {
        "bio": profile.bio,
        "category": profile.category.slug if profile.category is not None else None,
        "specializations": profile.specializations,
        "languages": profile.languages,
        "experience_years": profile.experience_years,
        "rate_chat": profile.rate_chat,
        "rate_voice": profile.rate_voice,
        "rate_video": profile.rate_video,
    }
    form = ProfileForm(request.POST if action == "profile" else None, initial=initial)
    document_form = DocumentForm(
        request.POST if action == "document" else None,
        request.FILES if action == "document" else None,
    )
    status = 200
    if action == "profile":
        status = 400
        if form.is_valid():
            try:
                services.update_profile(profile=profile, changes=form.changes())
            except serializers.ValidationError as exc:
                _attach_errors(form, exc.detail)
            else:
                messages.success(request, _("Your profile is saved."))
                return redirect(back), {}, 302
    elif action == "document":
        status = 400
        if document_form.is_valid():
            try:
                services.add_document(
                    profile=profile,
                    kind=document_form.cleaned_data["kind"],
                    upload=document_form.cleaned_data["file"],
                )
            except serializers.ValidationError as exc:
                _attach_errors(document_form, exc.detail)
            except ApiError as exc:  # too large
                document_form.add_error("file", message_for(exc))
                status = exc.status_code
            else:
                messages.success(
                    request, _("Document uploaded. An operator will review it shortly.")
                )
                return redirect(back), {}, 302
    context = {
        "form": form,
        "document_form": document_form,
        "documents": list(profile.documents.order_by("-uploaded_at")),
        "decision": profile.verification_decisions.order_by("-created_at").first(),
        "max_upload": settings.MAX_UPLOAD_BYTES,
    }
    return None, context, status


def _attach_errors(form, detail) -> None:
    """A service's 400 (`{field: [messages]}`) as errors next to the form's fields."""
    if not isinstance(detail, dict):
        form.add_error(None, str(detail))
        return
    for name, problems in detail.items():
        target = name if name in form.fields else None
        if name == "rates":
            target = None
        for problem in problems if isinstance(problems, list) else [problems]:
            form.add_error(target, str(problem))


@role_required("consultant")
@require_http_methods(["POST"])
def availability(request: HttpRequest) -> HttpResponse:
    """The dashboard's Online switch: the API's `set_availability`. Answers JSON to the
    switch's script, or sends a plain form back to the dashboard."""
    from django.http import JsonResponse

    wants_json = "application/json" in request.headers.get("Accept", "")
    profile = services.profile_for(user=signed_in_user(request))
    try:
        profile = services.set_availability(
            profile=profile, is_online=request.POST.get("online") in ("on", "true", "1")
        )
    except ApiError as error:
        detail = _("You can go online once an operator has verified your profile.")
        if wants_json:
            return JsonResponse({"code": error.code, "detail": detail}, status=error.status_code)
        messages.error(request, detail)
        return redirect("web:dashboard")
    if wants_json:
        return JsonResponse({"is_online": profile.is_online})
    if profile.is_online:
        messages.success(request, _("You are online: clients can ask for you now."))
    else:
        messages.info(request, _("You are offline: no new requests will ring."))
    return redirect("web:dashboard")
