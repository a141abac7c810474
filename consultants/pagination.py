"""Keyset ("seek") cursor pagination over any of discovery's orderings.

DRF's CursorPagination positions its cursor on the first ordering field only and counts ties
with an offset, which it cuts off at 1,000: with thousands of consultants sharing a rating (or
no rating yet) it would repeat or lose rows. Here the cursor holds the whole sort key, the
tie-breaking `id` included, and the next page is `WHERE (key) after (cursor's key)`: every page
costs the same, however deep, and no row is seen twice or skipped.

The cursor is opaque to clients (base64 of JSON) and names the ordering it was made for; a
cursor of another ordering, or a forged one, answers 400 `invalid` (`fields.cursor`).
"""

import base64
import binascii
import json
import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any

from django.db.models import F, Q, QuerySet
from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from config.pagination import page_size_from

_NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class SortKey:
    field: str  # a model field or an annotation of the queryset
    descending: bool
    parse: Callable[[Any], Any]  # cursor JSON value -> query value; raises on a forged value
    dump: Callable[[Any], Any] = lambda value: value  # row value -> JSON value
    # A nullable key sorts NULL as larger than every value (PostgreSQL's own default, so a
    # plain btree index serves both directions): last going up, first going down.
    nullable: bool = False


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**63:
        raise ValueError(value)
    return value


def _decimal(value: Any) -> Decimal:
    if not isinstance(value, str) or len(value) > 20:
        raise ValueError(value)
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(value)
    return number


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise ValueError(value)
    return uuid.UUID(value)


def int_key(field: str, descending: bool, *, nullable: bool = False) -> SortKey:
    parse = _nullable(_int) if nullable else _int
    return SortKey(field, descending, parse, nullable=nullable)


def _nullable(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else parse(value)


def decimal_key(field: str, descending: bool) -> SortKey:
    return SortKey(field, descending, _decimal, str)


def bool_key(field: str, descending: bool) -> SortKey:
    return SortKey(field, descending, _bool)


def id_key(descending: bool) -> SortKey:
    return SortKey("id", descending, _uuid, str)


class KeysetPagination:
    """Paginates a queryset by `keys` (the last one unique, e.g. `id`): `{results, next,
    previous}` with `?cursor=` and `?page_size=` (default 20, at most 100)."""

    page_size = 20
    max_page_size = 100
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def __init__(self, *, keys: Sequence[SortKey], name: str):
        self.keys = list(keys)
        self.name = name
        self.next_url: str | None = None
        self.previous_url: str | None = None

    # --- the cursor ---------------------------------------------------------------------------

    def _encode(self, values: list[Any], reverse: bool) -> str:
        raw = json.dumps({"o": self.name, "p": values, "r": reverse}, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode(self, token: str) -> tuple[list[Any], bool]:
        try:
            if len(token) > 1000:
                raise ValueError(token)
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not isinstance(data, dict) or data.get("o") != self.name:
                raise ValueError(token)
            values, reverse = data.get("p"), data.get("r")
            if not isinstance(values, list) or len(values) != len(self.keys):
                raise ValueError(token)
            if not isinstance(reverse, bool):
                raise ValueError(token)
            parsed = [key.parse(value) for key, value in zip(self.keys, values, strict=True)]
        except (ValueError, TypeError, UnicodeError, binascii.Error, InvalidOperation):
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from None
        return parsed, reverse

    def _position(self, row: Any) -> list[Any]:
        return [key.dump(getattr(row, key.field)) for key in self.keys]

    # --- the query ----------------------------------------------------------------------------

    def _order_by(self, reverse: bool) -> list[Any]:
        order: list[Any] = []
        for key in self.keys:
            descending = key.descending != reverse
            if key.nullable:
                column = F(key.field)
                order.append(
                    column.desc(nulls_first=True) if descending else column.asc(nulls_last=True)
                )
            else:
                order.append(("-" if descending else "") + key.field)
        return order

    @staticmethod
    def _past(key: SortKey, value: Any, descending: bool) -> Q:
        """Rows whose `key` comes strictly after `value` (NULL counting as the largest)."""
        if value is None:
            return Q(**{f"{key.field}__isnull": False}) if descending else _NOTHING
        past = Q(**{f"{key.field}__{'lt' if descending else 'gt'}": value})
        if key.nullable and not descending:
            past |= Q(**{f"{key.field}__isnull": True})
        return past

    def _after(self, values: list[Any], reverse: bool) -> Q:
        """Rows strictly after `values` in the (possibly reversed) order: the OR, over each
        key, of "all keys before it equal, this one past it"."""
        alternatives = []
        equal = Q()
        for key, value in zip(self.keys, values, strict=True):
            alternatives.append(equal & self._past(key, value, key.descending != reverse))
            same = {f"{key.field}__isnull": True} if value is None else {key.field: value}
            equal &= Q(**same)
        return reduce(operator.or_, alternatives)

    def _page_size(self, request: Request) -> int:
        return page_size_from(request, default=self.page_size, maximum=self.max_page_size)

    def paginate_queryset(self, queryset: QuerySet, request: Request) -> list[Any]:
        self.request = request
        size = self._page_size(request)
        token = request.query_params.get(self.cursor_query_param)
        values, reverse = self._decode(token) if token else (None, False)

        order = self._order_by(reverse)
        page = queryset.filter(self._after(values, reverse)) if values is not None else queryset
        # Pick the page's ids first, on the profile table's own columns (and indexes), then
        # fetch just those rows with their joins: joining every match before sorting and
        # cutting to one page is what makes a naive query slow. Still one SQL statement.
        page_ids = page.order_by(*order).values("pk")[: size + 1]
        rows = list(queryset.filter(pk__in=page_ids).order_by(*order))
        has_more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()

        self.next_url = self.previous_url = None
        if rows:
            more_after = (not reverse and has_more) or (reverse and values is not None)
            more_before = (reverse and has_more) or (not reverse and values is not None)
            if more_after:
                self.next_url = self._url(self._encode(self._position(rows[-1]), False))
            if more_before:
                self.previous_url = self._url(self._encode(self._position(rows[0]), True))
        elif values is not None:
            # An empty page through a cursor (rows went away meanwhile): back to the start.
            if reverse:
                self.next_url = self.first_page_url()
            else:
                self.previous_url = self.first_page_url()
        return rows

    def _url(self, token: str) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, token)

    def first_page_url(self) -> str:
        return remove_query_param(self.request.build_absolute_uri(), self.cursor_query_param)

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response({"next": self.next_url, "previous": self.previous_url, "results": data})


class OrderedCursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination for short lists of one fixed ordering, answering a forged cursor
    with 400 `invalid` (`fields.cursor`) as discovery does, instead of DRF's 404."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        return page_size_from(request, default=self.page_size, maximum=self.max_page_size)

    def decode_cursor(self, request: Request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from None
