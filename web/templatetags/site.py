"""Filters every page uses, loaded as builtins (settings.TEMPLATES): no `{% load %}` needed.

Money is paise (int) everywhere; these turn it into what a person reads. Rupees use the
Indian grouping of digits (lakh, crore), as `Intl.NumberFormat("en-IN")` does in the pages'
scripts, so a figure a script updates reads exactly like the one the server rendered.
"""

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

register = template.Library()


def format_rupees(paise: int) -> str:
    """`123450` -> `₹1,234.50`; `12345678` -> `₹1,23,456.78`; negative -> `-₹12.00`."""
    sign = "-" if paise < 0 else ""
    rupees, rest = divmod(abs(int(paise)), 100)
    digits = str(rupees)
    if len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        groups: list[str] = []
        while len(head) > 2:
            groups.insert(0, head[-2:])
            head = head[:-2]
        if head:
            groups.insert(0, head)
        digits = ",".join([*groups, tail])
    return f"{sign}₹{digits}.{rest:02d}"


@register.filter
def rupees(paise) -> str:
    """Paise as rupees: `{{ wallet.balance|rupees }}` -> `₹1,234.50`. Blank for None."""
    if paise is None or paise == "":
        return ""
    return format_rupees(int(paise))


@register.filter
def minutes_of(balance, rate) -> int:
    """Whole minutes a balance (paise) buys at a rate (paise a minute)."""
    try:
        balance, rate = int(balance), int(rate)
    except (TypeError, ValueError):
        return 0
    return max(balance, 0) // rate if rate > 0 else 0


@register.filter
def duration(seconds) -> str:
    """Seconds as a short duration a person reads: `42 s`, `3 min 05 s`, `1 h 02 min`."""
    try:
        seconds = max(int(seconds), 0)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


@register.filter
def minutes_label(minutes) -> str:
    """`16` -> `16 minutes`, `1` -> `1 minute` (translated)."""
    minutes = int(minutes or 0)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters changed (None or "" drops one):
    `?{% query_with cursor=page.next %}` keeps the filters while paging."""
    params = context["request"].GET.copy()
    for name, value in changes.items():
        if value in (None, ""):
            params.pop(name, None)
        else:
            params[name] = value
    return params.urlencode()


@register.filter
def initials(name) -> str:
    """`Adv. Rohan Kapoor` -> `RK`: the avatar's letters (titles like Adv., Dr. skipped)."""
    words = [w for w in str(name or "").replace(".", ". ").split() if not w.endswith(".")]
    letters = [w[0] for w in words if w[:1].isalpha()]
    if not letters:
        return "?"
    return (letters[0] + (letters[-1] if len(letters) > 1 else "")).upper()


@register.filter
def stars(rating) -> str:
    """A rating (0-5) as five stars, rounded to the nearest whole star: `★★★★☆`."""
    try:
        full = min(5, max(0, round(float(rating))))
    except (TypeError, ValueError):
        full = 0
    return "★" * full + "☆" * (5 - full)


@register.filter
def clock(seconds) -> str:
    """Seconds as a clock, `mm:ss` (`h:mm:ss` past an hour), as static/js/money.js's `clock`
    writes it: the room's meter and ring. Blank for None."""
    if seconds is None or seconds == "":
        return ""
    try:
        total = max(int(seconds), 0)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
