"""The request's context for Django: its `X-Request-ID`, its user and its consultation.

First in `MIDDLEWARE`, so every answer Django makes (a 413 of the next middleware included)
carries `X-Request-ID`. Under daphne the ASGI edge (`config.observability.observe_http`) has
already made the request's log context and chosen its id; this middleware joins that context.
Elsewhere (the test client, WSGI) it makes the context itself.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse

from config import logs

HEADER = "X-Request-ID"
# `/api/v1/consultations/<id>...` and `/api/v1/chat/<id>`: the consultation a request is about.
_CONSULTATION_PATH = re.compile(
    r"^/api/v1/(?:consultations|chat)/([0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{4}-?[0-9a-fA-F]{12})(?:/|$)"
)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = logs.current()
        token = None
        if "request_id" not in context:  # no ASGI edge: this is the edge
            token = logs.start(request_id=logs.request_id_from(request.headers.get(HEADER)))
            context = logs.current()
        request_id = context["request_id"]
        request.request_id = request_id  # type: ignore[attr-defined]
        match = _CONSULTATION_PATH.match(request.path_info)
        logs.update(_request=request, consultation_id=match.group(1) if match else None)
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            return response
        finally:
            # Kept for the access line the ASGI edge writes after the response.
            logs.update(user_id=logs.user_id_now(), _request=None)
            if token is not None:
                logs.finish(token)
