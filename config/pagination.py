from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """The contract's lists: `{results, next, previous}`, `?page_size=` up to 100, newest first."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")
