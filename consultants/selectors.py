"""Reads: discovery and public lookups. Discovery only ever shows verified consultants."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, QuerySet

from consultants.models import RATE_FIELD, ConsultantProfile
from consultants.pagination import SortKey, decimal_key, id_key, int_key

# `?ordering=` values -> the sort key before the tie-breaking `id` (which follows the last
# key's direction, so one index scan serves the whole order).
ORDERINGS: dict[str, SortKey] = {}
for _name, _key in [
    ("rate_per_minute", lambda d: int_key("sort_rate", d, nullable=True)),
    ("rating", lambda d: decimal_key("rating", d)),
    ("rating_count", lambda d: int_key("rating_count", d)),
    ("experience_years", lambda d: int_key("experience_years", d)),
    ("total_sessions", lambda d: int_key("total_sessions", d)),
]:
    ORDERINGS[_name] = _key(False)
    ORDERINGS[f"-{_name}"] = _key(True)
DEFAULT_ORDERING = "-rating"


def sort_keys(ordering: str) -> list[SortKey]:
    key = ORDERINGS[ordering]
    return [key, id_key(key.descending)]


@dataclass(frozen=True)
class DiscoveryFilters:
    category_id: int | None = None
    specialization: str | None = None
    language: str | None = None
    online: bool | None = None
    min_rating: Decimal | None = None
    max_rate: int | None = None
    channel: str | None = None
    search: str | None = None


def public_consultants() -> QuerySet[ConsultantProfile]:
    return ConsultantProfile.objects.filter(is_verified=True).select_related("user", "category")


def public_consultant(*, consultant_id: uuid.UUID) -> ConsultantProfile | None:
    return public_consultants().filter(pk=consultant_id).first()


def discover_consultants(*, filters: DiscoveryFilters) -> QuerySet[ConsultantProfile]:
    """Verified consultants matching `filters`, annotated with `sort_rate`: the rate of the
    `channel` filter when one is given, else the cheapest offered channel (what `max_rate` and
    `rate_per_minute` ordering use). One query with its user and category joined; unordered
    (the paginator orders it)."""
    rate_column = RATE_FIELD[filters.channel] if filters.channel else "min_rate"  # type: ignore[index]
    # A consultant offering no channel has no `sort_rate` (NULL): last by rising price.
    queryset = public_consultants().annotate(sort_rate=F(rate_column))
    if filters.channel:
        queryset = queryset.filter(**{f"{rate_column}__isnull": False})
    if filters.max_rate is not None:
        queryset = queryset.filter(**{f"{rate_column}__lte": filters.max_rate})
    if filters.category_id is not None:
        queryset = queryset.filter(category_id=filters.category_id)
    if filters.online is not None:
        queryset = queryset.filter(is_online=filters.online)
    if filters.min_rating is not None:
        queryset = queryset.filter(rating__gte=filters.min_rating)
    # The *_key columns are lower-cased and `|`-delimited: `|hindi|english|`.
    if filters.language:
        queryset = queryset.filter(languages_key__contains=f"|{filters.language.lower()}|")
    if filters.specialization:
        needle = f"|{filters.specialization.lower()}|"
        queryset = queryset.filter(specializations_key__contains=needle)
    if filters.search:
        # One lower-cased column (name, bio, specializations): no join, one trigram index.
        queryset = queryset.filter(search_text__contains=filters.search.lower())
    return queryset
