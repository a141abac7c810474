"""A consultant as a card in a list (home, discovery): every word and figure worked out once
in Python, so a page of twenty cards renders as plain variables (bench_discovery times it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from consultants.models import Channel, ConsultantProfile
from web.templatetags.site import format_rupees, initials


@dataclass(frozen=True)
class Labels:
    """The words every card shares, translated once per page."""

    verified: str
    states: dict
    channels: dict
    per_minute: str
    price_from: str
    talk_now: str
    view_profile: str
    new: str

    @classmethod
    def current(cls) -> Labels:
        return cls(
            verified=_("Verified"),
            states={"online": _("Online"), "busy": _("Busy"), "offline": _("Offline")},
            channels={
                Channel.CHAT.value: _("Chat"),
                Channel.VOICE.value: _("Voice"),
                Channel.VIDEO.value: _("Video"),
            },
            per_minute=_("min"),
            price_from=_("from"),
            talk_now=_("Talk now"),
            view_profile=_("View profile"),
            new=_("New"),
        )


@dataclass(frozen=True)
class Card:
    id: str
    url: str
    name: str
    initials: str
    state: str  # online | busy | offline
    state_label: str
    meta: str  # "Legal · 15 years"
    tags: str
    rating: str  # "4.8", "" before the first review
    details: str  # "(12 reviews) · 40 sessions · English, Hindi"
    price: str
    price_prefix: str
    channels: list[tuple[str, str]]  # (icon, label)
    action: str


def card(profile: ConsultantProfile, labels: Labels) -> Card:
    state = "offline"
    if profile.is_online:
        state = "busy" if profile.is_busy else "online"
    meta = [profile.category.label] if profile.category is not None else []
    if profile.experience_years:
        years = profile.experience_years
        meta.append(ngettext("%(n)d year", "%(n)d years", years) % {"n": years})
    details = []
    if profile.rating_count:
        n = profile.rating_count
        details.append("(" + ngettext("%(n)d review", "%(n)d reviews", n) % {"n": n} + ")")
    else:
        details.append(labels.new)
    n = profile.total_sessions
    details.append(ngettext("%(n)d session", "%(n)d sessions", n) % {"n": n})
    if profile.languages:
        details.append(", ".join(profile.languages))
    rates = profile.rates
    return Card(
        id=str(profile.id),
        url=reverse("web:consultant", args=[profile.id]),
        name=profile.user.name,
        initials=initials(profile.user.name),
        state=state,
        state_label=labels.states[state],
        meta=" · ".join(meta),
        tags=", ".join(profile.specializations or []),
        rating=f"{profile.rating:.1f}" if profile.rating_count else "",
        details=" · ".join(details),
        price=format_rupees(profile.min_rate) if profile.min_rate else "",
        price_prefix=labels.price_from if len(rates) > 1 else "",
        channels=[(channel, labels.channels[channel]) for channel in rates],
        action=labels.talk_now if state == "online" else labels.view_profile,
    )


def cards(profiles) -> tuple[list[Card], Labels]:
    labels = Labels.current()
    return [card(profile, labels) for profile in profiles], labels
