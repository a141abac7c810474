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


# --- channels-redis internals -------------------------------------------------------------------
#
# Two fast paths below read channels-redis internals (it has no public API for "which of these
# groups have members" or "publish many frames in one round trip"). Each internal is reached
# through ONE function here, which answers None when this version of the library lacks it; the
# caller then falls back to plain `group_send` (slower, same frames) and it is logged once.
# `config/tests/test_events.py` fails loudly when channels-redis is not the version these were
# read against (CHECKED_CHANNELS_REDIS) or any internal is gone: re-read them, then bump it.

CHECKED_CHANNELS_REDIS = "4.3.0"
_lost: set[str] = set()


def _internal_lost(name: str, exc: BaseException) -> None:
    if name not in _lost:
        _lost.add(name)
        logger.warning("channels-redis internal %s unavailable (%r): plain group_send", name, exc)


def redis_group_key(layer, group: str) -> str | None:
    """The Redis key of a group's member set in channels-redis' core layer
    (`RedisChannelLayer._group_key`), or None."""
    try:
        return layer._group_key(group)
    except (AttributeError, TypeError) as exc:
        _internal_lost("RedisChannelLayer._group_key", exc)
        return None


def pubsub_shard_publisher(layer):
    """For channels-redis' pub/sub layer: a function `(group) -> (shard, channel)` naming the
    shard connection and the Redis channel a group's frames are published on (the loop layer's
    `_get_group_channel_name` and `_get_shard`), or None."""
    try:
        loop_layer = layer._get_layer()
        channel_of, shard_of = loop_layer._get_group_channel_name, loop_layer._get_shard
    except (AttributeError, TypeError) as exc:
        _internal_lost("RedisPubSubLoopLayer._get_group_channel_name/_get_shard", exc)
        return None

    def locate(group: str):
        channel = channel_of(group)
        return shard_of(channel), channel

    return locate


def shard_pipeline(shard):
    """`(lock, make_pipeline)` of a pub/sub shard connection: its own lock (its `publish` takes
    it) and its Redis client's pipeline after `_ensure_redis()`, or None."""
    try:
        lock, ensure = shard._lock, shard._ensure_redis
    except AttributeError as exc:
        _internal_lost("RedisSingleShardConnection._lock/_ensure_redis/_redis", exc)
        return None

    def make_pipeline():
        ensure()
        return shard._redis.pipeline(transaction=False)

    return lock, make_pipeline


async def _members_known(layer, groups: list[str]) -> set[str] | None:
    """The groups among `groups` that have at least one channel, asked of Redis in pipelines
    (one round trip per GROUP_LOOKUP_CHUNK groups, the same two commands `group_send` runs
    first: drop expired members, list the rest). None when `layer` is not channels-redis' core
    layer, or its internals are not there (then every group is sent to)."""
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        return None
    if type(layer) is not RedisChannelLayer:
        return None
    by_connection: dict[int, list[str]] = {}
    for group in groups:
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    keys = {group: redis_group_key(layer, group) for group in groups}
    if None in keys.values():
        return None
    live: set[str] = set()
    for index, names in by_connection.items():
        connection = layer.connection(index)
        for start in range(0, len(names), GROUP_LOOKUP_CHUNK):
            chunk = names[start : start + GROUP_LOOKUP_CHUNK]
            pipe = connection.pipeline(transaction=False)
            oldest = int(time.time()) - layer.group_expiry
            for group in chunk:
                pipe.zremrangebyscore(keys[group], min=0, max=oldest)
                pipe.zcard(keys[group])
            results = await pipe.execute()
            live.update(g for g, size in zip(chunk, results[1::2], strict=True) if size)
    return live


async def _publish_pipelined(layer, messages: list[tuple[str, dict]]) -> bool:
    """channels-redis' pub/sub layer: publishes every frame through one pipeline per shard (a
    round trip per GROUP_LOOKUP_CHUNK frames, in order) instead of one locked round trip per
    `group_send` (that layer serializes its publishes on a lock). False when `layer` is not
    that layer or its internals are not there (the caller sends one by one)."""
    try:
        from channels_redis.pubsub import RedisPubSubChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        return False
    if not isinstance(layer, RedisPubSubChannelLayer):  # (config.channel_layer's too)
        return False
    locate = pubsub_shard_publisher(layer)
    if locate is None:
        return False
    by_shard: dict = {}
    for group, event in messages:
        shard, channel = locate(group)
        payload = layer.serialize({"type": "relay", "frame": event})
        by_shard.setdefault(id(shard), (shard, []))[1].append((channel, payload))
    pipelines = {key: shard_pipeline(shard) for key, (shard, _) in by_shard.items()}
    if None in pipelines.values():
        return False
    for key, (_, items) in by_shard.items():
        lock, make_pipeline = pipelines[key]
        async with lock:
            for start in range(0, len(items), GROUP_LOOKUP_CHUNK):
                pipe = make_pipeline()
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
