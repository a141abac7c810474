"""Request bodies over their limit are refused while they stream in, before they are buffered.

The limit (`limit_for`): `API_MAX_BODY_BYTES` for any body but a multipart upload, which may
reach `MAX_UPLOAD_BYTES` (plus room for the multipart framing). A body over it answers 413
`payload_too_large` and the connection is closed; what was received is dropped.

Two layers, because the server buffers before the application sees a byte:

* `BodyLimitMiddleware` (ASGI) counts the body as the application `receive`s it and stops at
  the limit: Django's ASGI handler would otherwise spool the whole body to a temporary file
  before any view or middleware runs, whatever `Content-Length` says (or with none: chunked).
  This is the whole guard under a server that streams bodies to the application (uvicorn).
* daphne hands the application a body only once twisted has received all of it, into memory or
  a temporary file. `install_daphne_body_limit` makes daphne's request class count the chunks
  as they arrive from the socket and answer 413 at the limit, so a multi-gigabyte upload costs
  the server no more than the limit.
  The same class stops twisted from parsing form and multipart bodies itself (it answered one
  it could not parse with a bare 400, before Django and its error envelope).

A reverse proxy in front should cap bodies too (nginx `client_max_body_size`); this does not
rely on one.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

MULTIPART_OVERHEAD = 64 * 1024


def limit_for(content_type: str | bytes | None) -> int:
    """The largest body accepted with this Content-Type."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        return settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    return settings.API_MAX_BODY_BYTES


def refusal(path: str, limit: int) -> tuple[bytes, bytes]:
    """(content type, body) of the 413: the API's error envelope on /api/, text elsewhere."""
    detail = f"The request body exceeds {limit} bytes."
    if path.startswith("/api/"):
        body = json.dumps({"code": "payload_too_large", "detail": detail}).encode()
        return b"application/json", body
    return b"text/plain; charset=utf-8", detail.encode()


def _header(scope: dict, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value
    return None


class BodyLimitMiddleware:
    """ASGI middleware for HTTP: refuses a body over `limit_for` its Content-Type, at once when
    `Content-Length` announces it, else as soon as the chunks received pass it. The application
    is then told the client went away (`http.disconnect`: Django drops the request unread) and
    the 413 is sent here."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(_header(scope, b"content-type"))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await self._refuse(scope, send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> dict:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the 413 below is the answer
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
        if exceeded and not started:
            await self._refuse(scope, send, limit)

    @staticmethod
    async def _refuse(scope: dict, send: Any, limit: int) -> None:
        content_type, body = refusal(scope.get("path", ""), limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_daphne_body_limit() -> None:
    """Makes daphne's HTTP request class refuse a body over its limit while it arrives (see the
    module's docstring). daphne builds every request from the module attribute
    `daphne.http_protocol.WebRequest`; this replaces it with a subclass, once. Nothing happens
    where daphne is not installed."""
    try:
        from daphne import http_protocol
    except ImportError:  # pragma: no cover - daphne is a requirement
        return
    base = http_protocol.WebRequest
    if getattr(base, "body_limited", False):
        return

    class BodyLimitedWebRequest(base):  # type: ignore[valid-type, misc]
        body_limited = True

        def __init__(self, *args, **kwargs):
            # twisted would parse a form or multipart body itself before the application sees
            # it, and answer one it cannot parse (an empty or malformed multipart) with a bare
            # 400 of its own: no error envelope, no Content-Type. Django parses bodies; twisted
            # only carries them (and a large upload is not parsed twice).
            kwargs["parsePOSTFormSubmission"] = False
            super().__init__(*args, **kwargs)

        _refused = False
        _body_limit = 0
        _body_seen = 0

        def gotLength(self, length):  # noqa: N802 - twisted's name
            content_type = (self.requestHeaders.getRawHeaders(b"content-type") or [b""])[0]
            self._body_limit = limit_for(content_type)
            if length is not None and length > self._body_limit:
                super().gotLength(0)  # a small in-memory buffer that will stay empty
                self._refuse()
                return
            super().gotLength(length)

        def handleContentChunk(self, data):  # noqa: N802 - twisted's name
            if self._refused:
                return
            self._body_seen += len(data)
            if self._body_seen > self._body_limit:
                self._refuse()
                return
            super().handleContentChunk(data)

        def process(self):
            if self._refused:
                return None  # answered already; the rest of the body is never read
            return super().process()

        def _refuse(self) -> None:
            self._refused = True
            # No "100 Continue" after the answer: the client must not send the body.
            self.requestHeaders.removeHeader(b"expect")
            path = (getattr(self.channel, "_path", None) or b"").decode("latin-1")
            content_type, body = refusal(path, self._body_limit)
            transport = self.channel.transport
            transport.write(
                b"HTTP/1.1 413 Payload Too Large\r\nContent-Type: "
                + content_type
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            transport.loseConnection()

    http_protocol.WebRequest = BodyLimitedWebRequest
