"""config/channel_layer.py: publishes that wait together go in one pipeline, in their order."""

import asyncio
import uuid

from asgiref.sync import async_to_sync
from django.conf import settings

from config.channel_layer import BatchingPubSubChannelLayer


def test_it_is_the_layer_the_services_mode_runs_on():
    if settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels.layers"):
        return  # the embedded mode (no REDIS_URL): the in-memory layer
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == (
        "config.channel_layer.BatchingPubSubChannelLayer"
    )


def test_concurrent_group_sends_arrive_once_each_and_in_order():
    hosts = [settings.REDIS_URL] if settings.REDIS_URL else None
    if hosts is None:
        return
    layer = BatchingPubSubChannelLayer(hosts=hosts, prefix=f"test{uuid.uuid4().hex[:8]}")
    group = "batched"

    async def run():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        trips = 0
        shard = layer._get_layer()._shards[0]
        publish_pending = shard._publish_pending

        async def counted():
            nonlocal trips
            trips += 1
            await publish_pending()

        shard._publish_pending = counted
        await asyncio.gather(*(layer.group_send(group, {"type": "m", "n": n}) for n in range(50)))
        received = [(await layer.receive(channel))["n"] for _ in range(50)]
        await layer.flush()
        return received, trips

    received, trips = async_to_sync(run)()
    assert received == list(range(50))
    assert trips < 50  # batched: far fewer round trips than frames
