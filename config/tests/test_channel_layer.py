"""config/channel_layer.py: publishes that wait together go in one pipeline, in their order."""

import asyncio
import contextlib
import logging
import uuid

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from config.channel_layer import BatchingPubSubChannelLayer


def test_it_is_the_layer_the_services_mode_runs_on():
    if settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels.layers"):
        pytest.skip("the embedded mode (no REDIS_URL): the in-memory layer")
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == (
        "config.channel_layer.BatchingPubSubChannelLayer"
    )


def test_concurrent_group_sends_arrive_once_each_and_in_order():
    hosts = [settings.REDIS_URL] if settings.REDIS_URL else None
    if hosts is None:
        pytest.skip("needs Redis (REDIS_URL)")
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


def _layer(prefix: str) -> BatchingPubSubChannelLayer | None:
    hosts = [settings.REDIS_URL] if settings.REDIS_URL else None
    return BatchingPubSubChannelLayer(hosts=hosts, prefix=prefix) if hosts else None


@pytest.fixture
def processes() -> tuple[BatchingPubSubChannelLayer, BatchingPubSubChannelLayer]:
    """Two layers on one prefix, as two daphne processes have them."""
    prefix = f"test{uuid.uuid4().hex[:8]}"
    here, there = _layer(prefix), _layer(prefix)
    if here is None or there is None:
        pytest.skip("needs Redis (REDIS_URL)")
    return here, there


def test_a_group_send_reaches_this_process_once_and_the_other_processes_through_redis(processes):
    here, there = processes

    async def drain(layer, channel) -> list[int]:
        got = []
        while True:
            try:
                got.append((await asyncio.wait_for(layer.receive(channel), 0.3))["n"])
            except TimeoutError:
                return got

    async def run():
        mine, theirs = await here.new_channel(), await there.new_channel()
        await here.group_add("room", mine)
        await there.group_add("room", theirs)
        for n in range(20):
            await here.group_send("room", {"type": "m", "n": n})
        got = await asyncio.gather(drain(here, mine), drain(there, theirs))
        await here.flush()
        await there.flush()
        return got

    mine, theirs = async_to_sync(run)()
    assert mine == list(range(20))  # delivered in the process, its echo from Redis dropped
    assert theirs == list(range(20))


def test_a_frame_published_without_an_origin_is_delivered():
    layer = _layer(f"test{uuid.uuid4().hex[:8]}")
    if layer is None:
        pytest.skip("needs Redis (REDIS_URL)")

    async def run():
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        loop_layer = layer._get_layer()
        group_channel = loop_layer._get_group_channel_name("room")
        # as config.events' pipelines publish: the bare serialized frame
        await loop_layer._get_shard(group_channel).publish(
            group_channel, layer.serialize({"type": "m", "n": 1})
        )
        received = await asyncio.wait_for(layer.receive(channel), 2)
        await layer.flush()
        return received

    assert async_to_sync(run)() == {"type": "m", "n": 1}


def test_frames_still_go_out_once_redis_has_forgotten_the_publishing_script(processes):
    here, there = processes

    async def run():
        theirs = await there.new_channel()
        await there.group_add("room", theirs)
        await asyncio.gather(*(here.group_send("room", {"type": "m", "n": n}) for n in range(10)))
        shard = here._get_layer()._shards[0]
        await shard._redis.script_flush()  # as a restarted Redis: no script by that SHA
        await asyncio.gather(
            *(here.group_send("room", {"type": "m", "n": n}) for n in range(10, 20))
        )
        got = [(await asyncio.wait_for(there.receive(theirs), 2))["n"] for _ in range(20)]
        await here.flush()
        await there.flush()
        return got

    assert async_to_sync(run)() == list(range(20))


def test_a_subscriber_whose_connection_is_killed_reconnects_and_receives_again(processes):
    """The receiving loop reads without a timeout: a connection Redis drops ends the read, and
    the next one reconnects and subscribes again."""
    here, there = processes

    async def run():
        theirs = await there.new_channel()
        await there.group_add("room", theirs)
        await here.group_send("room", {"type": "m", "n": 0})
        got = [(await asyncio.wait_for(there.receive(theirs), 2))["n"]]
        shard = there._get_layer()._shards[0]
        host, port = shard._pubsub.connection._writer.get_extra_info("sockname")[:2]
        killed = (
            await here._get_layer()
            ._shards[0]
            ._redis.client_kill_filter(_type="pubsub", addr=f"{host}:{port}")
        )
        assert killed == 1
        for n in range(1, 40):  # until it is back (a retry within about a second)
            await here.group_send("room", {"type": "m", "n": n})
            try:
                got.append((await asyncio.wait_for(there.receive(theirs), 0.1))["n"])
                break
            except TimeoutError:
                continue
        await here.flush()
        await there.flush()
        return got

    got = async_to_sync(run)()
    assert got[0] == 0 and len(got) == 2, got


def test_a_receive_cancelled_twice_while_the_shard_is_busy_still_unsubscribes(processes, caplog):
    """A socket's receive is cancelled as it closes, and again when daphne shuts down (it
    cancels every application): the channel is still unsubscribed, nothing is logged, and the
    channels closing together go in one command."""
    here, _ = processes

    async def run():
        loop_layer = here._get_layer()
        channels = [await here.new_channel() for _ in range(5)]
        shard = loop_layer._shards[0]
        commands = []
        unsubscribe = shard._pubsub.unsubscribe

        async def counted(*names):
            commands.append(names)
            return await unsubscribe(*names)

        shard._pubsub.unsubscribe = counted
        receives = [asyncio.ensure_future(here.receive(channel)) for channel in channels]
        await asyncio.sleep(0.05)
        async with shard._lock:  # the shard busy (a publish under way)
            for task in receives:
                task.cancel()
            await asyncio.sleep(0)
            for task in receives:
                task.cancel()  # daphne's shutdown
            results = await asyncio.gather(*receives, return_exceptions=True)
        await shard._unsubscriber
        subscribed = set(shard._subscribed_to)
        in_redis = {name.decode() for name in await shard._redis.pubsub_channels(f"{here.prefix}*")}
        await here.flush()
        return channels, results, commands, subscribed, in_redis

    channels, results, commands, subscribed, in_redis = async_to_sync(run)()
    assert all(isinstance(result, asyncio.CancelledError) for result in results)
    assert commands == [tuple(commands[0])] and set(commands[0]) == set(channels)
    assert not subscribed & set(channels)
    assert not in_redis & set(channels)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_channel_received_again_before_its_unsubscribe_stays_subscribed(processes):
    """A channel given up while the shard unsubscribes others, then received again before the
    shard's next command, keeps its new subscription."""
    here, there = processes

    async def run():
        other, channel = await here.new_channel(), await here.new_channel()
        shard = here._get_layer()._shards[0]
        unsubscribe, underway, go_on = shard._pubsub.unsubscribe, asyncio.Event(), asyncio.Event()

        async def slow(*names):
            underway.set()
            await go_on.wait()
            return await unsubscribe(*names)

        shard._pubsub.unsubscribe = slow

        async def give_up(receive):  # as a closing socket's consumer does
            task = asyncio.ensure_future(receive)
            await asyncio.sleep(0.01)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        await give_up(here.receive(other))
        await underway.wait()  # the shard unsubscribes `other`, holding its lock
        await give_up(here.receive(channel))  # given up...
        again = asyncio.ensure_future(here.receive(channel))  # ...and asked for again
        await asyncio.sleep(0.01)
        go_on.set()
        await shard._unsubscriber
        await there._get_layer().send(channel, {"type": "m", "n": 1})
        received = await asyncio.wait_for(again, 2)
        await here.flush()
        await there.flush()
        return received

    assert async_to_sync(run)() == {"type": "m", "n": 1}
