"""`GET /api/asyncapi.json`: the WebSocket at `/ws/` described as an AsyncAPI 3 document.

Where each part comes from, so that the description cannot drift from the code:

* Client frames (client -> server): built from `chat.frames.SCHEMAS` (the fields `parse` checks)
  and `chat.frames.FIELD_SCHEMAS` (each checker's JSON Schema). chat/tests/test_asyncapi.py
  feeds `parse` frames that the schemas accept and refuse, and expects the same verdict.
* Server frames (server -> client): written below, one JSON Schema per frame type. The objects
  they carry (`consultation`, `message`, `booking`) are the REST API's own component schemas,
  taken from the OpenAPI document drf-spectacular generates, so a field added to a serializer
  appears in both. Every frame the server sends in the test suite is validated against this
  document (`chat.testing`, a pytest plugin): a frame type or field sent but not described
  fails the tests.

Schemas are JSON Schema (draft 7, the AsyncAPI Schema format's base): OpenAPI 3.0's
`nullable: true` is rewritten as a `null` alternative on the way in.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from chat import frames

ASYNCAPI_VERSION = "3.0.0"
SCHEMA_PREFIX = "#/components/schemas/"

# The REST objects server frames carry, by OpenAPI component name. `Booking` exists once the
# bookings app is installed; until then a frame carrying one is described as an object.
CARRIED_COMPONENTS = ["Consultation", "Message", "Booking"]

_UUID = {"type": "string", "format": "uuid"}
_PAISE = {"type": "integer", "description": "Paise."}
_SECONDS = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict:
    return {"$ref": SCHEMA_PREFIX + name}


def _frame(kind: str, fields: dict[str, dict], required: list[str] | None = None) -> dict:
    """A frame's payload schema: a JSON object with `type` = `kind` and these fields (all
    required unless `required` names fewer)."""
    return {
        "type": "object",
        "properties": {"type": {"const": kind}, **fields},
        "required": ["type", *(list(fields) if required is None else required)],
    }


_CALL_FIELDS = {"session_id": _UUID, "from_user_id": _UUID}

# type -> (payload schema, summary). The contract's "Server -> client" table and the answers.
SERVER_FRAMES: dict[str, tuple[dict, str]] = {
    "authenticated": (
        _frame("authenticated", {"user_id": _UUID}),
        "The answer to `authenticate`.",
    ),
    "pong": (_frame("pong", {}), "The answer to `ping`."),
    "error": (
        _frame(
            "error",
            {
                "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                "detail": {"type": "string"},
                "ref": {"type": ["string", "number", "null"]},
            },
        ),
        "A frame the server could not accept (the socket stays open). `ref` echoes the "
        "frame's `ref` (a string of up to 128 characters or a number), else null.",
    ),
    "session_joined": (
        _frame("session_joined", {"session_id": _UUID, "consultation": _ref("Consultation")}),
        "The answer to `join_session`.",
    ),
    "message_ack": (
        _frame("message_ack", {"client_msg_id": _UUID, "message": _ref("Message")}),
        "To the sender of `send_message` (also for a resend of a stored message).",
    ),
    "message": (
        _frame("message", {"message": _ref("Message")}),
        "To the sockets that joined the consultation, when a message is stored.",
    ),
    "message_status": (
        _frame(
            "message_status",
            {
                "session_id": _UUID,
                "message_ids": {"type": "array", "items": _UUID, "minItems": 1},
                "status": {"enum": ["delivered", "seen"]},
            },
        ),
        "To the room, when messages become `delivered` or `seen`.",
    ),
    "typing": (
        _frame("typing", {"session_id": _UUID, "user_id": _UUID, "is_typing": {"type": "boolean"}}),
        "To the other participant's sockets in the room.",
    ),
    "call_offer": (
        _frame("call_offer", {**_CALL_FIELDS, "sdp": frames.FIELD_SCHEMAS[frames._sdp]}),
        "Relayed to the other participant, for voice and video consultations while active.",
    ),
    "call_answer": (
        _frame("call_answer", {**_CALL_FIELDS, "sdp": frames.FIELD_SCHEMAS[frames._sdp]}),
        "Relayed likewise.",
    ),
    "ice_candidate": (
        _frame(
            "ice_candidate", {**_CALL_FIELDS, "candidate": frames.FIELD_SCHEMAS[frames._candidate]}
        ),
        "Relayed likewise.",
    ),
    "call_end": (_frame("call_end", _CALL_FIELDS), "Relayed likewise."),
    "consultation_requested": (
        _frame("consultation_requested", {"consultation": _ref("Consultation")}),
        "To every socket of the consultant, when a client asks.",
    ),
    "consultation_updated": (
        _frame("consultation_updated", {"consultation": _ref("Consultation")}),
        "To every socket of both participants, on every status change.",
    ),
    "billing_tick": (
        _frame(
            "billing_tick",
            {
                "session_id": _UUID,
                "billed_seconds": _SECONDS,
                "total_amount": _PAISE,
                "balance": {**_PAISE, "description": "The client's wallet balance, paise."},
                "remaining_seconds": {
                    **_SECONDS,
                    "description": "How long the client's available balance still lasts.",
                },
            },
        ),
        "To every socket of both participants, after each tick's charge.",
    ),
    "balance_low": (
        _frame("balance_low", {"session_id": _UUID, "remaining_seconds": _SECONDS}),
        "To the client, once, when less than 2 minutes of balance remain.",
    ),
    "presence": (
        _frame("presence", {"user_id": _UUID, "is_online": {"type": "boolean"}}),
        "To the other participant of an open consultation, when the peer connects or leaves.",
    ),
    "booking_updated": (
        _frame("booking_updated", {"booking": _ref("Booking")}),
        "To every socket of both participants of a booking, on each status change.",
    ),
}

CLIENT_SUMMARIES = {
    "authenticate": "Signs the socket in (or renews its token); answered `authenticated`.",
    "ping": "Answered `pong`.",
    "join_session": "Joins the consultation's room; answered `session_joined`.",
    "leave_session": "Leaves the room.",
    "send_message": "Only while active; answered `message_ack`, the room gets `message`.",
    "message_delivered": "The recipient marks messages delivered; the room gets `message_status`.",
    "mark_seen": "Every message to this user becomes seen; the room gets one `message_status`.",
    "typing": "The other participant gets `typing`.",
    "call_offer": "Relayed to the other participant with `from_user_id`.",
    "call_answer": "Relayed to the other participant with `from_user_id`.",
    "ice_candidate": "Relayed to the other participant with `from_user_id`.",
    "call_end": "Relayed to the other participant with `from_user_id`.",
}

_REF_FIELD = {
    "type": ["string", "number"],
    "maxLength": frames.MAX_REF_CHARS,
    "description": "Optional: echoed in the answer's or the error's `ref`.",
}


def client_frame_schema(kind: str) -> dict:
    """The payload schema of one client frame type, from what `chat.frames.parse` checks."""
    required, optional = frames.SCHEMAS[kind]
    properties: dict[str, Any] = {"type": {"const": kind}}
    for name, check in {**required, **optional}.items():
        properties[name] = copy.deepcopy(frames.FIELD_SCHEMAS[check])
    properties["ref"] = dict(_REF_FIELD)
    return {"type": "object", "properties": properties, "required": ["type", *required]}


# --- The REST objects, from the OpenAPI document ------------------------------------------------


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes a `null` alternative, and a
    `oneOf`'s discriminator object (`{propertyName, mapping}`) AsyncAPI 3's discriminator: the
    property's name alone."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    found = node.get("discriminator")
    if "oneOf" in node and isinstance(found, dict) and "propertyName" in found:
        node["discriminator"] = found["propertyName"]
    if node.pop("nullable", False):
        kind = node.get("type")
        if isinstance(kind, str) and "allOf" not in node and "oneOf" not in node:
            node["type"] = [kind, "null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        else:
            annotations = {k: node.pop(k) for k in ("description", "readOnly") if k in node}
            node = {"anyOf": [node, {"type": "null"}], **annotations}
    return node


def _references(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_references(item) for item in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found = set()
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
        found.add(ref[len(SCHEMA_PREFIX) :])
    for value in node.values():
        found |= _references(value)
    return found


def carried_components(openapi: dict) -> dict[str, dict]:
    """`CARRIED_COMPONENTS` and every component they refer to, as JSON Schema."""
    available = openapi.get("components", {}).get("schemas", {})
    wanted = [name for name in CARRIED_COMPONENTS if name in available]
    picked: dict[str, dict] = {}
    while wanted:
        name = wanted.pop()
        if name in picked:
            continue
        picked[name] = _json_schema(available[name])
        wanted.extend(ref for ref in _references(picked[name]) if ref in available)
    for name in CARRIED_COMPONENTS:
        picked.setdefault(
            name, {"type": "object", "description": f"The REST API's `{name.lower()}` object."}
        )
    return dict(sorted(picked.items()))


@functools.cache
def _openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


# --- The document -------------------------------------------------------------------------------

DESCRIPTION = """\
One WebSocket per signed-in device at `/ws/` (CONTRACT.md "WebSocket"). Authenticate with
`?token=<access token>`, or with a first frame `authenticate` within 10 s; an invalid or expired
token, or none in time, closes the socket with code 4401 after the handshake. The pages' sockets
are signed in by the session cookie instead. Every frame is a JSON text object with a `type`,
at most 8 KiB. A frame the server cannot accept is answered with an `error` frame (codes:
`frame_too_large`, `invalid_json`, `invalid`, `unknown_type`, `not_authenticated`,
`already_authenticated`, `not_found`, `invalid_state`, `channel_not_offered`, `throttled`,
`server_error`) and the socket stays open.

Where frames go: `message`, `message_status`, `typing` and the call frames go to the sockets
that joined the consultation (`join_session`); `consultation_requested`, `consultation_updated`,
`billing_tick`, `balance_low`, `presence` and `booking_updated` go to every socket of the user.
Money is integer paise; timestamps are ISO 8601 in UTC."""


def _operation_id(prefix: str, kind: str) -> str:
    return prefix + "".join(part.title() for part in kind.split("_"))


def build_document(*, host: str = "localhost:8000", secure: bool = False) -> dict:
    """The AsyncAPI 3 document. `host` and `secure` describe the server it is served from."""
    openapi = _openapi()
    channel_messages: dict[str, dict] = {}
    messages: dict[str, dict] = {}
    operations: dict[str, dict] = {}

    def add(kind: str, payload: dict, summary: str, direction: str) -> None:
        name = f"{direction}.{kind}"
        messages[name] = {
            "name": kind,
            "title": kind,
            "summary": summary,
            "contentType": "application/json",
            "payload": payload,
        }
        channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        # The document describes the server: it receives client frames and sends server frames.
        action, prefix = ("receive", "receive") if direction == "client" else ("send", "send")
        operations[_operation_id(prefix, kind)] = {
            "action": action,
            "channel": {"$ref": "#/channels/socket"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/socket/messages/{name}"}],
        }

    for kind in frames.SCHEMAS:
        add(kind, client_frame_schema(kind), CLIENT_SUMMARIES.get(kind, ""), "client")
    for kind, (payload, summary) in SERVER_FRAMES.items():
        add(kind, copy.deepcopy(payload), summary, "server")

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Consultation platform WebSocket",
            "version": openapi.get("info", {}).get("version", "1.0.0"),
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "site": {
                "host": host,
                "protocol": "wss" if secure else "ws",
                "pathname": "/ws/",
                "description": "This server.",
            }
        },
        "channels": {
            "socket": {
                "address": "/ws/",
                "title": "The socket of one signed-in device",
                "servers": [{"$ref": "#/servers/site"}],
                "messages": channel_messages,
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "token": {
                                    "type": "string",
                                    "description": "An access token (JWT); or send an "
                                    "`authenticate` frame within 10 s.",
                                }
                            },
                        },
                        "bindingVersion": "0.1.0",
                    }
                },
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": carried_components(openapi)},
    }


def server_frame_types() -> set[str]:
    return set(SERVER_FRAMES)
