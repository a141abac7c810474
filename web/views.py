"""The pages that bring several apps together, so they live in the top app of the dependency
order (ARCHITECTURE.md): the home page, a consultant's public profile (reviews, the viewer's
wallet), the consultant's dashboard (availability, requests, earnings) and the list of one's
consultations. Each reads through the apps' selectors and services; none holds a rule.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from consultants import selectors as consultant_selectors
from consultants.models import Category, Channel
from reviews.models import Review
from wallets.services import wallet_for

HOME_ONLINE = 6
PROFILE_REVIEWS = 10


@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    online = list(
        consultant_selectors.public_consultants()
        .filter(is_online=True)
        .order_by("is_busy", "-rating", "-rating_count", "id")[:HOME_ONLINE]
    )
    return render(
        request,
        "web/home.html",
        {"categories": list(Category.objects.order_by("name")), "online": online},
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
    if user.is_authenticated and user.is_client:
        available = wallet_for(user=user).available
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
        },
    )


def not_built(request: HttpRequest) -> HttpResponse:
    raise Http404
