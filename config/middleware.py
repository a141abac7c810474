"""HTTP plumbing for the API that must run before URL resolution."""

from datetime import UTC

from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from config.bodylimit import limit_for
from config.errors import error_body, json_404


def _is_json(response) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


class ApiPathMiddleware:
    """Accepts every `/api/` path with or without its trailing slash, refuses a body that
    announces itself as too large before anything reads it (413 `payload_too_large`), and
    renders the API's timestamps in UTC as the contract says (TIME_ZONE stays the local time
    of the admin and of "today" in earnings), and makes any 404 under `/api/` the JSON error
    envelope (Django's debug page too).

    Routes are declared without the slash (as CONTRACT.md writes them); the slash, if any, is
    dropped here rather than declaring every route twice.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        path = request.path_info
        if path.startswith("/api/"):
            if len(path) > 1 and path.endswith("/"):
                request.path_info = path.rstrip("/")
                request.path = request.path.rstrip("/")
            too_large = self._too_large(request)
            if too_large is not None:
                return too_large
            with timezone.override(UTC):
                response = self.get_response(request)
            if response.status_code == 404 and not _is_json(response):
                # With DEBUG=1 Django answers an unresolved path with its HTML debug page instead
                # of handler404: the API's clients get the envelope whatever the mode.
                return json_404(request)
            return response
        return self.get_response(request)

    @staticmethod
    def _too_large(request: HttpRequest) -> JsonResponse | None:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse(
                error_body("invalid", "Content-Length is not a number."), status=400
            )
        limit = limit_for(request.content_type)
        if length > limit:
            return JsonResponse(
                error_body("payload_too_large", f"The request body exceeds {limit} bytes."),
                status=413,
            )
        return None
