import re

from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

MAX_PAGE_SIZE = 100
_DIGITS = re.compile(r"[0-9]{1,9}")


def page_size_from(request: Request, *, default: int, maximum: int = MAX_PAGE_SIZE) -> int:
    """`?page_size=` as the schema documents it: a whole number from 1 to `maximum`, else 400
    `invalid` (`fields.page_size`). DRF falls back to the default for `null`, `abc` or -5 and
    caps 5000 silently, which hides a client's bug (and contradicts the schema)."""
    raw = request.query_params.get("page_size")
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise serializers.ValidationError(
            {"page_size": [f"A whole number from 1 to {maximum} is required."]}
        )
    return int(raw)


class PageSizeField(serializers.CharField):
    """`page_size` in a query serializer, checked as `page_size_from` does."""

    def __init__(self, *, default: int, maximum: int = MAX_PAGE_SIZE, **kwargs):
        self.maximum = maximum
        # The default is the internal value (an int), which DRF returns as it is.
        super().__init__(required=False, default=default, **kwargs)  # type: ignore[arg-type]

    # A string on the wire that parses into an int (the stubs type it by CharField: str).
    def to_internal_value(self, data) -> int:  # type: ignore[override]
        if not isinstance(data, str) or not _DIGITS.fullmatch(data):
            raise serializers.ValidationError(
                f"A whole number from 1 to {self.maximum} is required."
            )
        if not 1 <= int(data) <= self.maximum:
            raise serializers.ValidationError(
                f"A whole number from 1 to {self.maximum} is required."
            )
        return int(data)


class CursorPagination(pagination.CursorPagination):
    """The contract's lists: `{results, next, previous}`, `?page_size=` up to 100, newest first.

    A cursor the server did not make answers 400 `invalid` (`fields.cursor`): DRF's own 404
    would tell a client that the list is gone rather than that its request is wrong. So does a
    `page_size` that is not a whole number from 1 to 100.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    ordering = ("-created_at", "-id")

    def get_page_size(self, request: Request) -> int:
        return page_size_from(request, default=self.page_size, maximum=self.max_page_size)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from None
