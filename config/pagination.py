from rest_framework import pagination, serializers
from rest_framework.exceptions import NotFound


class CursorPagination(pagination.CursorPagination):
    """The contract's lists: `{results, next, previous}`, `?page_size=` up to 100, newest first.

    A cursor the server did not make answers 400 `invalid` (`fields.cursor`): DRF's own 404
    would tell a client that the list is gone rather than that its request is wrong.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise serializers.ValidationError({"cursor": ["Invalid cursor."]}) from None
