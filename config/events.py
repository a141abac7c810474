"""Real-time events go out through the channel layer only after the transaction commits."""

import asyncio
import logging
import time
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


def close_user_sockets(user_id: Any) -> None:
    """Once the current transaction commits, every socket of the user closes with 4401: their
    sign-in is over (a new password, a deactivation). The consumer's `sockets_close` handler."""

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "sockets.close"})
        except Exception:  # noqa: BLE001 - logged; the sockets' next token check ends them
            logger.exception("could not close the sockets of user %s", user_id)

    transaction.on_commit(send)


def announce(group: str, event: dict) -> None:
    """Sends `event` to `group` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send_now(group, event))


SEND_MANY_CONCURRENCY = 64
# Groups looked up per Redis pipeline (two commands each).
GROUP_LOOKUP_CHUNK = 1000


async def _members_known(layer, groups: list[str]) -> set[str] | None:
    """The groups among `groups` that have at least one channel, asked of Redis in pipelines
    (one round trip per GROUP_LOOKUP_CHUNK groups, the same two commands `group_send` runs
    first: drop expired members, list the rest). None when `layer` is not channels-redis' core
    layer (then every group is sent to)."""
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        return None
    if type(layer) is not RedisChannelLayer:
        return None
    by_connection: dict[int, list[str]] = {}
    for group in groups:
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    live: set[str] = set()
    for index, names in by_connection.items():
        connection = layer.connection(index)
        for start in range(0, len(names), GROUP_LOOKUP_CHUNK):
            chunk = names[start : start + GROUP_LOOKUP_CHUNK]
            pipe = connection.pipeline(transaction=False)
            oldest = int(time.time()) - layer.group_expiry
            for group in chunk:
                key = layer._group_key(group)
                pipe.zremrangebyscore(key, min=0, max=oldest)
                pipe.zcard(key)
            results = await pipe.execute()
            live.update(g for g, size in zip(chunk, results[1::2], strict=True) if size)
    return live


async def _publish_pipelined(layer, messages: list[tuple[str, dict]]) -> bool:
    """channels-redis' pub/sub layer: publishes every frame through one pipeline per shard (a
    round trip per GROUP_LOOKUP_CHUNK frames, in order) instead of one locked round trip per
    `group_send` (that layer serializes its publishes on a lock). False when `layer` is not
    that layer (the caller sends one by one)."""
    try:
        from channels_redis.pubsub import RedisPubSubChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        return False
    if not isinstance(layer, RedisPubSubChannelLayer):  # (config.channel_layer's too)
        return False
    loop_layer = layer._get_layer()
    by_shard: dict = {}
    for group, event in messages:
        channel = loop_layer._get_group_channel_name(group)
        payload = layer.serialize({"type": "relay", "frame": event})
        by_shard.setdefault(id(shard := loop_layer._get_shard(channel)), (shard, []))[1].append(
            (channel, payload)
        )
    for shard, items in by_shard.values():
        async with shard._lock:  # the shard's own lock, as its `publish` takes it
            shard._ensure_redis()
            for start in range(0, len(items), GROUP_LOOKUP_CHUNK):
                pipe = shard._redis.pipeline(transaction=False)
                for channel, payload in items[start : start + GROUP_LOOKUP_CHUNK]:
                    pipe.publish(channel, payload)
                await pipe.execute()
    return True


def send_many_now(messages: list[tuple[str, dict]]) -> None:
    """Sends many `(group, event)` frames in one event-loop run.

    One `async_to_sync` call per frame costs a new event loop and Redis connection each time
    (milliseconds); a billing batch sends two frames per consultation, so it sends them here
    together. With channels-redis' pub/sub layer every frame is published through pipelines
    (`_publish_pipelined`). With its core layer the groups are first looked up in pipelines and
    only groups with a member are sent to (most users of a billing batch have no socket open:
    an empty group costs two round trips through `group_send` otherwise), up to 64 groups at a
    time. A group's frames go in their order. Failures are logged, never raised.
    """
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    by_group: dict[str, list[dict]] = {}
    for group, event in messages:
        by_group.setdefault(group, []).append(event)

    async def send_group(group: str, events: list[dict]) -> None:
        for event in events:
            try:
                await layer.group_send(group, {"type": "relay", "frame": event})
            except Exception as exc:  # noqa: BLE001 - logged; the state is in the database
                logger.error("could not send %s to %s: %r", event.get("type"), group, exc)

    async def send_all() -> None:
        try:
            if await _publish_pipelined(layer, messages):
                return
        except Exception as exc:  # noqa: BLE001 - logged; the state is in the database
            logger.error("could not publish %d frames: %r", len(messages), exc)
            return
        groups = list(by_group)
        try:
            live = await _members_known(layer, groups)
        except Exception as exc:  # noqa: BLE001 - fall back to sending to every group
            logger.warning("group lookup failed, sending to every group: %r", exc)
            live = None
        if live is not None:
            groups = [g for g in groups if g in live]
        for start in range(0, len(groups), SEND_MANY_CONCURRENCY):
            chunk = groups[start : start + SEND_MANY_CONCURRENCY]
            await asyncio.gather(*(send_group(g, by_group[g]) for g in chunk))

    try:
        async_to_sync(send_all)()
    except Exception:  # noqa: BLE001 - an event lost is logged; the state is in the database
        logger.exception("could not send %d frames", len(messages))


def announce_many(messages: list[tuple[str, dict]]) -> None:
    """`announce` for many `(group, event)` frames at once, after the transaction commits."""
    if messages:
        transaction.on_commit(lambda: send_many_now(list(messages)))
