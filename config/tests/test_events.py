"""config/events.py's fast paths read channels-redis internals, each through one function with
a fallback: these tests fail loudly when the library changes under them."""

import asyncio
import importlib.metadata
import os
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)

from config import events

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL (a real Redis)")


def test_channels_redis_is_the_version_whose_internals_were_read():
    installed = importlib.metadata.version("channels-redis")
    assert installed == events.CHECKED_CHANNELS_REDIS, (
        f"channels-redis {installed} is installed; config/events.py's internals were read "
        f"against {events.CHECKED_CHANNELS_REDIS}. Re-read them (redis_group_key, "
        "pubsub_shard_publisher, shard_pipeline), run these tests, then bump the constant."
    )


def test_every_internal_used_is_still_there():
    assert callable(RedisChannelLayer._group_key)
    assert callable(RedisPubSubChannelLayer._get_layer)
    assert callable(RedisPubSubLoopLayer._get_group_channel_name)
    assert callable(RedisPubSubLoopLayer._get_shard)
    assert callable(RedisSingleShardConnection._ensure_redis)
    shard = RedisSingleShardConnection({"address": "redis://127.0.0.1:1"}, None)
    assert isinstance(shard._lock, asyncio.Lock)
    assert hasattr(shard, "_redis")


@needs_redis
def test_group_lookup_asks_redis_and_falls_back_when_the_internal_is_gone(monkeypatch):
    layer = RedisChannelLayer(hosts=[REDIS_URL], prefix=f"test-events-{uuid.uuid4().hex[:8]}")

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("live", channel)
        try:
            found = await events._members_known(layer, ["live", "empty"])
            monkeypatch.delattr(RedisChannelLayer, "_group_key")
            without = await events._members_known(layer, ["live", "empty"])
            monkeypatch.undo()
        finally:
            await layer.flush()
        return found, without

    found, without = async_to_sync(scenario)()
    assert found == {"live"}
    assert without is None  # the caller then sends to every group


@needs_redis
def test_pipelined_publish_delivers_and_falls_back_when_an_internal_is_gone(monkeypatch):
    layer = RedisPubSubChannelLayer(hosts=[REDIS_URL], prefix=f"test-events-{uuid.uuid4().hex[:8]}")

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        try:
            sent = await events._publish_pipelined(layer, [("room", {"type": "ping"})])
            received = await asyncio.wait_for(layer.receive(channel), 5)
            monkeypatch.delattr(RedisPubSubLoopLayer, "_get_shard")
            fallback = await events._publish_pipelined(layer, [("room", {"type": "ping"})])
            monkeypatch.undo()
        finally:
            await layer.flush()
        return sent, received, fallback

    sent, received, fallback = async_to_sync(scenario)()
    assert sent is True
    assert received == {"type": "relay", "frame": {"type": "ping"}}
    assert fallback is False  # the caller then uses group_send, one frame at a time
