"""The client frames of `/ws/` (CONTRACT.md "WebSocket"): parsing and checking, nothing else.

`parse(text)` turns one text frame into a `Frame` (its type, its checked fields and its `ref`)
or raises `FrameError` with the contract code the consumer answers in an `error` frame. Nothing
here touches the database: membership and state are checked by the services afterwards.

Error codes (stable, listed in the README):

| code | when |
| --- | --- |
| `frame_too_large` | the frame is over `WS_MAX_FRAME_BYTES` (8 KiB), or binary and that large |
| `invalid_json` | not strict JSON (`NaN`, lone surrogates, over 1,024 levels deep), or binary |
| `invalid` | not a JSON object, no `type` string, a missing or wrongly typed field |
| `unknown_type` | a `type` the server does not know |
| `not_authenticated` | any frame but `authenticate`/`ping` before authentication |
| `already_authenticated` | `authenticate` on an authenticated socket |
| `not_found` | a session that does not exist or that the user is not part of |
| `invalid_state` | the consultation's status does not allow it (e.g. a message when not active) |
| `channel_not_offered` | a call frame in a chat consultation |
| `throttled` | over `WS_RATE_LIMIT_PER_SECOND` frames a second on this socket |
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings

from chat.models import MAX_BODY_CHARS
from config import metrics

MAX_MESSAGE_IDS = 200  # more than an 8 KiB frame can hold
MAX_TOKEN_CHARS = 4096
MAX_REF_CHARS = 128
NO_NUL = "^[^\\u0000]*$"  # as config.schema says of the REST API's free text


class FrameError(Exception):
    def __init__(self, code: str, detail: str, ref: Any = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.ref = ref


@dataclass
class Frame:
    type: str
    fields: dict = field(default_factory=dict)
    ref: Any = None


# --- Field checkers: each returns the clean value or raises ValueError with a message ----------


def _uuid(value: Any) -> uuid.UUID:
    if not isinstance(value, str) or len(value) > 36:
        raise ValueError("must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValueError("must be a UUID string") from None


def _optional_uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else _uuid(value)


def _body(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if not 1 <= len(value) <= MAX_BODY_CHARS:
        raise ValueError(f"must be 1 to {MAX_BODY_CHARS} characters")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL: one in a batch of chat/store.py would fail the
        # whole batch's INSERT, then the service's, instead of refusing this one frame
        raise ValueError("must not contain NUL characters")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _uuid_list(value: Any) -> list[uuid.UUID]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_MESSAGE_IDS:
        raise ValueError(f"must be a list of 1 to {MAX_MESSAGE_IDS} message ids")
    return list(dict.fromkeys(_uuid(item) for item in value))


def _sdp(value: Any) -> Any:
    """A session description: the SDP text, or the browser's `{type, sdp}` object."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("sdp", ""), str):
        return value
    raise ValueError("must be an SDP string or an object {type, sdp}")


def _candidate(value: Any) -> Any:
    """An ICE candidate: the browser's `RTCIceCandidateInit` object, its candidate string, or
    null (the end of candidates)."""
    if value is None or isinstance(value, (str, dict)):
        return value
    raise ValueError("must be an ICE candidate object, a string or null")


def _token(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TOKEN_CHARS:
        raise ValueError("must be an access token")
    return value


Checker = Callable[[Any], Any]
_SESSION: dict[str, Checker] = {"session_id": _uuid}

# Each checker's JSON Schema: what `GET /api/asyncapi.json` says about a field checked by it
# (chat/asyncapi.py builds the client frames from SCHEMAS and these; chat/tests/test_asyncapi.py
# checks that parse() and the schemas agree, so neither drifts from the other).
FIELD_SCHEMAS: dict[Checker, dict] = {
    _uuid: {"type": "string", "format": "uuid"},
    _optional_uuid: {"type": ["string", "null"], "format": "uuid"},
    _body: {"type": "string", "minLength": 1, "maxLength": MAX_BODY_CHARS, "pattern": NO_NUL},
    _bool: {"type": "boolean"},
    _uuid_list: {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "minItems": 1,
        "maxItems": MAX_MESSAGE_IDS,
    },
    _sdp: {
        "description": "The SDP text, or the browser's RTCSessionDescriptionInit {type, sdp}.",
        "anyOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "object",
                "properties": {"type": {"type": "string"}, "sdp": {"type": "string"}},
            },
        ],
    },
    _candidate: {
        "description": "The browser's RTCIceCandidateInit, its candidate string, or null (the "
        "end of candidates).",
        "type": ["object", "string", "null"],
    },
    _token: {"type": "string", "minLength": 1, "maxLength": MAX_TOKEN_CHARS},
}

# type -> (required fields, optional fields)
SCHEMAS: dict[str, tuple[dict[str, Checker], dict[str, Checker]]] = {
    "authenticate": ({"token": _token}, {}),
    "ping": ({}, {}),
    "join_session": (_SESSION, {}),
    "leave_session": (_SESSION, {}),
    "send_message": (
        {**_SESSION, "client_msg_id": _uuid, "body": _body},
        {"reply_to": _optional_uuid},
    ),
    "message_delivered": ({**_SESSION, "message_ids": _uuid_list}, {}),
    "mark_seen": (_SESSION, {}),
    "typing": ({**_SESSION, "is_typing": _bool}, {}),
    "call_offer": ({**_SESSION, "sdp": _sdp}, {}),
    "call_answer": ({**_SESSION, "sdp": _sdp}, {}),
    "ice_candidate": ({**_SESSION, "candidate": _candidate}, {}),
    "call_end": (_SESSION, {}),
}


def _clean_ref(content: dict) -> Any:
    """The frame's `ref`, echoed in answers and errors: a string or a number, else null."""
    ref = content.get("ref")
    if isinstance(ref, bool):
        return None
    if isinstance(ref, (int, float)) or (isinstance(ref, str) and len(ref) <= MAX_REF_CHARS):
        return ref
    return None


def parse(text: str | None, data: bytes | None = None) -> Frame:
    """One frame as received. Size first (in bytes, before any parsing), then JSON, then the
    type and each field of that type."""
    limit = settings.WS_MAX_FRAME_BYTES
    if text is None:
        if data is not None and len(data) > limit:
            raise FrameError("frame_too_large", f"Frames are at most {limit} bytes.")
        raise FrameError("invalid_json", "Frames are JSON text, not binary.")
    # len(text) <= bytes <= 4 * len(text): count exactly only when it can matter
    if len(text) > limit or (4 * len(text) > limit and len(text.encode()) > limit):
        raise FrameError("frame_too_large", f"Frames are at most {limit} bytes.")
    try:
        content = orjson.loads(text)  # (strict JSON: no NaN, no lone surrogate, depth <= 1024)
    except orjson.JSONDecodeError:
        raise FrameError("invalid_json", "The frame is not valid JSON.") from None
    if not isinstance(content, dict):
        raise FrameError("invalid", "A frame is a JSON object with a type.")
    ref = _clean_ref(content)
    kind = content.get("type")
    if not isinstance(kind, str):
        raise FrameError("invalid", "The frame has no type.", ref)
    if kind not in SCHEMAS:
        raise FrameError("unknown_type", f"Unknown frame type {kind[:64]!r}.", ref)
    required, optional = SCHEMAS[kind]
    fields = {}
    for name, check in required.items():
        if name not in content:
            raise FrameError("invalid", f"{name}: this field is required.", ref)
        fields[name] = _checked(name, check, content[name], ref)
    for name, check in optional.items():
        if name in content:
            fields[name] = _checked(name, check, content[name], ref)
    return Frame(type=kind, fields=fields, ref=ref)


def _checked(name: str, check: Checker, value: Any, ref: Any) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise FrameError("invalid", f"{name}: {exc}", ref) from None


def error_frame(code: str, detail: str, ref: Any = None) -> dict:
    metrics.error(code, transport="ws")
    return {"type": "error", "code": code, "detail": detail, "ref": ref}


class TokenBucket:
    """`rate` frames a second, bursts of up to `rate`: the per-socket limit."""

    def __init__(self, rate: int, clock: Callable[[], float]):
        self.rate = float(rate)
        self.tokens = float(rate)
        self.clock = clock
        self.at = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
