"""Real-time events go out through the channel layer only after the transaction commits."""

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)


def user_group(user_id: Any) -> str:
    return f"user.{user_id}"


def consultation_group(consultation_id: Any) -> str:
    return f"consultation.{consultation_id}"


def send_now(group: str, event: dict) -> None:
    """Sends `event` (a contract frame: it has a `type`) to every socket in `group`.

    The frame travels as `{"type": "relay", "frame": event}` so one consumer handler relays them
    all. A failing channel layer is logged, never raised: the money already moved.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "relay", "frame": event})
    except Exception:  # noqa: BLE001 - an event lost is logged; the state is in the database
        logger.exception("could not send %s to %s", event.get("type"), group)


def announce(group: str, event: dict) -> None:
    """Sends `event` to `group` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(group, event))


SEND_MANY_CONCURRENCY = 64


def send_many_now(messages: list[tuple[str, dict]]) -> None:
    """Sends many `(group, event)` frames in one event-loop run, up to 64 at a time.

    One `async_to_sync` call per frame costs a new event loop and Redis connection each time
    (milliseconds); a billing batch sends two frames per consultation, so it sends them here
    together. Failures are logged per frame, never raised.
    """
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        for start in range(0, len(messages), SEND_MANY_CONCURRENCY):
            chunk = messages[start : start + SEND_MANY_CONCURRENCY]
            results = await asyncio.gather(
                *(layer.group_send(group, {"type": "relay", "frame": e}) for group, e in chunk),
                return_exceptions=True,
            )
            for (group, event), result in zip(chunk, results, strict=True):
                if isinstance(result, BaseException):
                    logger.error("could not send %s to %s: %r", event.get("type"), group, result)

    try:
        async_to_sync(send_all)()
    except Exception:  # noqa: BLE001 - an event lost is logged; the state is in the database
        logger.exception("could not send %d frames", len(messages))


def announce_many(messages: list[tuple[str, dict]]) -> None:
    """`announce` for many `(group, event)` frames at once, after the transaction commits."""
    if messages:
        transaction.on_commit(lambda: send_many_now(list(messages)))
