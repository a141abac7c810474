"""A pytest plugin (root conftest.py): every frame the server sends is checked against the
AsyncAPI document (`GET /api/asyncapi.json`, chat/asyncapi.py).

In the test process every WebSocket consumer's ASGI `send` is wrapped once
(`channels.consumer.AsyncConsumer.__call__`, and the chat consumer's own), so the frames of
every test that opens a socket on the application (the chat, billing, booking and browser tests
alike) pass through `check_frame`. Tests that talk to a daphne of their own call `check_frame`
on what they receive. A frame that does not match its type's schema, or whose type the document
does not describe, fails the test that made it send it. Nothing here runs outside the tests:
production's consumer has no hook and pays nothing.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from datetime import datetime
from typing import Any

import pytest

_lock = threading.Lock()
_failures: list[str] = []
_counted: dict[str, int] = {}


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


@functools.cache
def _validators() -> dict[str, Any]:
    """One validator per server frame type, resolving `$ref`s against the whole document."""
    import jsonschema

    from chat.asyncapi import build_document

    document = build_document()
    checker = jsonschema.FormatChecker()
    checker.checks("uuid")(_is_uuid)
    checker.checks("date-time")(_is_datetime)
    validators = {}
    for name in document["components"]["messages"]:
        direction, kind = name.split(".", 1)
        if direction != "server":
            continue
        root = {"$ref": f"#/components/messages/{name}/payload", **document}
        validators[kind] = jsonschema.Draft7Validator(root, format_checker=checker)
    return validators


def frame_problems(frame: Any) -> list[str]:
    """What is wrong with one server frame (a parsed JSON value), by the document."""
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return ["a frame is a JSON object with a string `type`"]
    validator = _validators().get(frame["type"])
    if validator is None:
        return [f"frame type {frame['type']!r} is not in GET /api/asyncapi.json"]
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(frame)'}: {error.message}"
        for error in validator.iter_errors(frame)
    ]


def check_frame(text: str) -> None:
    """Records a server frame (its JSON text) that the document does not describe."""
    try:
        frame = json.loads(text)
    except ValueError:
        problems, frame = ["not JSON"], {}
    else:
        problems = frame_problems(frame)
    with _lock:
        kind = frame.get("type") if isinstance(frame, dict) else None
        _counted[str(kind)] = _counted.get(str(kind), 0) + 1
        if problems:
            _failures.append(f"{text[:300]}\n    " + "\n    ".join(problems[:5]))


def frames_checked() -> dict[str, int]:
    """How many frames of each type were checked so far in this process."""
    with _lock:
        return dict(_counted)


def _install() -> None:
    from channels.consumer import AsyncConsumer

    from chat.consumers import SessionConsumer

    for consumer in (AsyncConsumer, SessionConsumer):  # (the chat's has its own __call__)
        _check_frames_of(consumer)


def _check_frames_of(consumer) -> None:
    if getattr(consumer.__call__, "_checks_frames", False):
        return
    original = consumer.__call__

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "websocket":
            return await original(self, scope, receive, send)

        async def checked_send(message):
            if message.get("type") == "websocket.send" and message.get("text") is not None:
                check_frame(message["text"])
            await send(message)

        return await original(self, scope, receive, checked_send)

    __call__._checks_frames = True  # type: ignore[attr-defined]
    consumer.__call__ = __call__


def pytest_configure(config) -> None:
    _install()


@pytest.fixture(autouse=True)
def _server_frames_match_asyncapi():
    """Fails a test during which the server sent a frame the AsyncAPI document does not
    describe (any socket of the process, and frames received from a daphne of the test's)."""
    with _lock:
        _failures.clear()
    yield
    with _lock:
        failures, _failures[:] = list(_failures), []
    assert not failures, "frames not described by GET /api/asyncapi.json:\n" + "\n".join(
        failures[:10]
    )
