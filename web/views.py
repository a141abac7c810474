"""The pages that bring several apps together, so they live in the top app of the dependency
order (ARCHITECTURE.md): the home page, a consultant's public profile (reviews, the viewer's
wallet), the consultant's dashboard (availability, requests, earnings), the consultant's own
profile editors (the consultants app's and the bookings app's) and the list of one's
consultations. Each reads through the apps' selectors and services; none holds a rule.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.permissions import signed_in_user
from bookings.views import offer_editor
from consultants import selectors as consultant_selectors
from consultants.cards import cards
from consultants.models import Category, Channel
from consultants.services import profile_for
from consultants.views import profile_editor
from reviews.models import Review
from wallets import freezes
from wallets.services import wallet_for
from web.decorators import role_required

HOME_ONLINE = 6
PROFILE_REVIEWS = 10


@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    online = list(
        consultant_selectors.public_consultants()
        .filter(is_online=True)
        .order_by("is_busy", "-rating", "-rating_count", "id")[:HOME_ONLINE]
    )
    online_cards, labels = cards(online)
    return render(
        request,
        "web/home.html",
        {
            "categories": list(Category.objects.order_by("name")),
            "online": online,
            "cards": online_cards,
            "labels": labels,
        },
    )


def channel_offers(profile, available: int | None) -> list[dict]:
    """Each offered channel with its rate, what it needs to start (MIN_MINUTES of it) and, for
    a client, what their available balance buys."""
    offers = []
    for channel in Channel:
        rate = profile.rate_for(channel)
        if rate is None:
            continue
        offers.append(
            {
                "channel": channel.value,
                "label": channel.label,
                "rate": rate,
                "needed": rate * settings.MIN_MINUTES,
                "minutes": available // rate if available is not None else None,
                "enough": available is not None and available >= rate * settings.MIN_MINUTES,
            }
        )
    return offers


@require_http_methods(["GET"])
def consultant_profile(request: HttpRequest, consultant_id: uuid.UUID) -> HttpResponse:
    profile = consultant_selectors.public_consultant(consultant_id=consultant_id)
    if profile is None:
        raise Http404
    user = request.user
    available = None
    frozen = False
    if user.is_authenticated and user.is_client:
        account, freeze = freezes.wallet_and_freeze(user=user)  # (one query)
        available, frozen = account.available, freeze is not None
    from bookings.pages import profile_offers

    booking_offers = profile_offers(profile, now=timezone.now())
    reviews = list(
        Review.objects.filter(consultant=profile)
        .select_related("client")
        .order_by("-created_at", "-id")[:PROFILE_REVIEWS]
    )
    return render(
        request,
        "web/consultant_profile.html",
        {
            "profile": profile,
            "offers": channel_offers(profile, available),
            "available": available,
            "reviews": reviews,
            "min_minutes": settings.MIN_MINUTES,
            "wallet_frozen": frozen,
            "booking_offers": booking_offers,
        },
    )


# --- Consultations ------------------------------------------------------------------------------

CONSULTATIONS_PAGE = 25


def _own_consultations(user):
    from django.db.models import Q

    from consultations.models import Consultation

    return Consultation.objects.filter(Q(client=user) | Q(consultant__user=user)).select_related(
        "client", "consultant__user"
    )


@login_required
@require_http_methods(["GET"])
def consultations(request: HttpRequest) -> HttpResponse:
    """Own consultations (as client or as consultant), newest first, each with its amount;
    `?before=<id>` pages back; the first page starts with one's bookings (latest first)."""
    from django.db.models import Q

    rows = _own_consultations(request.user)
    before = request.GET.get("before")
    if before:
        anchor = rows.filter(id=_uuid_or_none(before)).values("requested_at", "id").first()
        if anchor is not None:
            rows = rows.filter(
                Q(requested_at__lt=anchor["requested_at"])
                | Q(requested_at=anchor["requested_at"], id__lt=anchor["id"])
            )
    page = list(rows.order_by("-requested_at", "-id")[: CONSULTATIONS_PAGE + 1])
    older = str(page[CONSULTATIONS_PAGE - 1].id) if len(page) > CONSULTATIONS_PAGE else None
    from bookings.pages import own_bookings

    return render(
        request,
        "web/consultations.html",
        {
            "consultations": page[:CONSULTATIONS_PAGE],
            "older": older,
            "bookings": [] if before else own_bookings(request.user),
        },
    )


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


# --- The consultant's dashboard -----------------------------------------------------------------


@role_required("consultant")
@require_http_methods(["GET"])
def dashboard(request: HttpRequest) -> HttpResponse:
    from consultations.models import Status
    from earnings.selectors import earnings_summary

    profile = profile_for(user=signed_in_user(request))
    ringing = list(
        _own_consultations(request.user)
        .filter(consultant=profile, status=Status.PENDING)
        .order_by("requested_at")
    )
    active = (
        _own_consultations(request.user).filter(consultant=profile, status=Status.ACTIVE).first()
    )
    recent = list(
        _own_consultations(request.user)
        .filter(consultant=profile)
        .exclude(status__in=[Status.PENDING, Status.ACTIVE])
        .order_by("-requested_at", "-id")[:5]
    )
    account = wallet_for(user=request.user)
    from bookings import pages as booking_pages

    now = timezone.now()
    return render(
        request,
        "web/dashboard.html",
        {
            "profile": profile,
            "ringing": ringing,
            "active": active,
            "recent": recent,
            "summary": earnings_summary(consultant_user=request.user),
            "wallet": account,
            "ring_seconds": settings.RING_TIMEOUT_SECONDS,
            "complete": bool(profile.category_id and profile.rates and profile.bio),
            "upcoming": booking_pages.upcoming_for_consultant(profile, now=now),
            "bookings": booking_pages.offer_summary(profile, now=now),
        },
    )


# --- The consultant's own profile ---------------------------------------------------------------


@role_required("consultant")
@require_http_methods(["GET", "POST"])
def edit_profile(request: HttpRequest) -> HttpResponse:
    """`/dashboard/profile/` (UI.md): who you are, rates, verification (the consultants app's
    editors) and session types and weekly hours (the bookings app's, also on
    `/dashboard/bookings/`). Each form posts its own `action`; the editor it belongs to runs it
    and the others are drawn as they are. Composed here because consultants may not import
    bookings (ARCHITECTURE.md)."""
    profile = profile_for(user=signed_in_user(request))
    back = reverse("web:dashboard-profile") + "#main"  # the saved message, at the page's top
    answer, about, about_status = profile_editor(request, profile, back=back)
    if answer is not None:
        return answer
    answer, offer, offer_status = offer_editor(request, profile, back=back)
    if answer is not None:
        return answer
    return render(
        request,
        "web/profile.html",
        {**about, **offer, "profile": profile},
        status=max(about_status, offer_status),  # the one editor that ran (200 if none did)
    )
