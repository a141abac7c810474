"""The ASGI edges daphne calls first: every HTTP answer and every WebSocket counted and logged.

`observe_http` wraps the whole HTTP application (whatever answers, Django or an ASGI
middleware in front of it): it picks the request id (the caller's `X-Request-ID` when safe,
else a new one), makes the request's log context, puts `X-Request-ID` on the answer, counts
it (`consult_http_requests_total`) and writes one access line when the answer is done.

`observe_websocket` counts open sockets (`consult_ws_connections`) and frames in and out
(`consult_ws_messages_total`), without parsing a frame.

`/metrics` is here too: the Prometheus text of every process (`config.metrics.render`),
behind `Authorization: Bearer <METRICS_TOKEN>` (404 when the token is unset, 401 when wrong).
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from config import logs, metrics

access_logger = logging.getLogger("consult.access")


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


def observe_http(app: Any) -> Any:
    async def edge(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        request_id = logs.request_id_from(_header(scope, b"x-request-id"))
        # Django (config.request_context) reads the id from the header: give it the chosen one.
        headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != b"x-request-id"]
        scope = dict(scope, headers=[*headers, (b"x-request-id", request_id.encode())])
        token = logs.start(request_id=request_id)
        context = logs.current()
        started = time.perf_counter()
        status = 500  # if the application dies before it answers, daphne answers 500

        async def send_observed(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = dict(message, headers=[*kept, (b"x-request-id", request_id.encode())])
            await send(message)

        try:
            await app(scope, receive, send_observed)
        finally:
            seconds = time.perf_counter() - started
            metrics.http_request(scope.get("method", ""), status, seconds)
            access_logger.info(
                "%s %s %s",
                scope.get("method"),
                scope.get("path"),
                status,
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "client": (scope.get("client") or [None])[0],
                    "user_id": context.get("user_id"),
                    "consultation_id": context.get("consultation_id"),
                },
            )
            logs.finish(token)

    return edge


def observe_websocket(app: Any) -> Any:
    async def edge(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            await app(scope, receive, send)
            return
        opened = False

        async def receive_observed() -> dict:
            message = await receive()
            if message["type"] == "websocket.receive":
                metrics.ws_message("in")
            return message

        async def send_observed(message: dict) -> None:
            nonlocal opened
            kind = message["type"]
            if kind == "websocket.accept" and not opened:
                opened = True
                metrics.ws_opened()
            elif kind == "websocket.send":
                metrics.ws_message("out")
            await send(message)

        try:
            await app(scope, receive_observed, send_observed)
        finally:
            if opened:
                metrics.ws_closed()

    return edge


def websocket_log_context(app: Any) -> Any:
    """Inside the authentication middleware: every line a socket's work writes carries its
    user (the consumer adds the consultation of each frame, `logs.update`)."""

    async def edge(scope: dict, receive: Any, send: Any) -> None:
        user = scope.get("user")
        user_id = user.pk if user is not None and user.is_authenticated else None
        token = logs.start(user_id=user_id)
        try:
            await app(scope, receive, send)
        finally:
            logs.finish(token)

    return edge


# --- GET /metrics -----------------------------------------------------------------------------


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


@csrf_exempt
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off: METRICS_TOKEN is unset")
    if not _authorized(request, token):
        response = HttpResponse("a valid bearer token is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)
