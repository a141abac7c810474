"""Real-time events go out through the channel layer only after the transaction commits."""

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
