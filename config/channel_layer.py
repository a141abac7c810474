"""channels-redis' pub/sub layer, with every publish waiting at the same moment sent together, and
a process's own groups served without Redis.

channels-redis publishes one frame per round trip under a lock (`RedisSingleShardConnection`):
a daphne process can then publish no faster than one Redis round trip per frame, whatever its
CPU could do, and on a busy machine a round trip (a context switch to Redis and back) can take
milliseconds: the chat was capped near 20 messages a second that way (bench/CHAT.md). Here the
frames published while a round trip is under way wait for it and then go together, in order,
in one command (`PUBLISH_ALL`): one round trip for all of them. `group_send` still returns once
Redis has its frame, as before, and a process's frames keep the order in which they were sent.

A `group_send` also puts the frame straight into the queues of this event loop's members of the
group (the sockets of this daphne process), in the order of the calls, and publishes it tagged
with the loop layer's origin (`ORIGIN_MARK` + 16 random bytes): every process subscribed to the
group gets it from Redis as before, except this one, which drops its own echo before decoding
it. A message published without the tag (`config.events`' pipelines, another layer) is
delivered as before. A process's own sockets then get the frame without waiting for Redis, and
its echo costs a parse instead of a decode and a queue per socket (bench/CHAT.md, "2 December
2026, evening").

A socket that closes leaves its channel to be unsubscribed in the background, with the others
closing meanwhile in one command (`BatchingLoopLayer.receive`).

Used when `CHANNEL_LAYER_BACKEND=pubsub` (the default; config/settings.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
    _wrap_close,
)
from channels_redis.utils import decode_hosts

logger = logging.getLogger("channels_redis.pubsub")  # (its messages, under its name)

# A serialized channels message never starts with a zero byte (msgpack: a map, 0x80-0x8f or
# 0xde/0xdf; with encryption keys: a Fernet token's base64), so the tag cannot be mistaken.
ORIGIN_MARK = b"\x00"
ORIGIN_LENGTH = len(ORIGIN_MARK) + 16


# Every frame of a batch published by one command: a pipeline of PUBLISH commands cost the
# process a command's packing, bookkeeping and reply a frame (6 % of a daphne process's CPU at
# 3,000 chat messages a second; bench/CHAT.md). redis-py's `Script` runs it by its SHA and loads
# it again if Redis lost it (a restart).
PUBLISH_ALL = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end"


class BatchingShard(RedisSingleShardConnection):
    """One Redis connection's publishes, batched: whatever waits goes in the next trip."""

    def __init__(self, host, channel_layer) -> None:
        super().__init__(host, channel_layer)
        self._pending: list[tuple[str, bytes, asyncio.Future]] = []
        self._publisher: asyncio.Task | None = None
        self._publish_all: Any = None  # PUBLISH_ALL's Script on the current Redis client
        self._leaving: set[str] = set()  # channels to unsubscribe (`unsubscribe_soon`)
        self._unsubscriber: asyncio.Task | None = None

    async def publish(self, channel, message) -> None:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((channel, message, done))
        if self._publisher is None or self._publisher.done():
            self._publisher = asyncio.ensure_future(self._publish_pending())
        await done

    async def _publish_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self._lock:  # the lock subscribe/unsubscribe take too
                    self._ensure_redis()
                    if self._publish_all is None or self._publish_all.registered_client is not (
                        self._redis
                    ):
                        self._publish_all = self._redis.register_script(PUBLISH_ALL)
                    await self._publish_all(
                        args=[part for channel, message, _ in batch for part in (channel, message)]
                    )
            except Exception as exc:  # noqa: BLE001 - each sender hears it, as before
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def unsubscribe_soon(self, channel: str) -> None:
        """Unsubscribes `channel` in a task of the shard's own, with every other channel left
        meanwhile in one command (a bulk close: one round trip, not one per socket)."""
        self._leaving.add(channel)
        if self._unsubscriber is None or self._unsubscriber.done():
            self._unsubscriber = asyncio.ensure_future(self._unsubscribe_leaving())

    async def _unsubscribe_leaving(self) -> None:
        while self._leaving:
            async with self._lock:  # the lock subscribe and publish take too
                subscribed, receiving = self._subscribed_to, self.channel_layer.channels
                # (one received again meanwhile keeps its subscription)
                batch = {c for c in self._leaving if c in subscribed and c not in receiving}
                self._leaving = set()
                if not batch:
                    continue
                try:
                    self._ensure_redis()
                    self._ensure_receiver()
                    await self._pubsub.unsubscribe(*batch)
                except Exception:  # noqa: BLE001 - logged; what still comes for them finds no queue
                    logger.exception("Could not unsubscribe %d channels", len(batch))
                else:
                    self._subscribed_to -= batch

    async def flush(self) -> None:
        """channels-redis' `flush` (its connection closed, every subscription with it), what
        was left to unsubscribe forgotten first."""
        self._leaving = set()
        if self._unsubscriber is not None:
            self._unsubscriber.cancel()
            await asyncio.gather(self._unsubscriber, return_exceptions=True)
            self._unsubscriber = None
        await super().flush()

    async def _do_receiving(self) -> None:
        """channels-redis' loop reading what Redis sends this shard's subscriptions, but waiting
        for the next message without a timeout while subscribed: its 0.1 s timeout armed and
        cancelled a timer for every message read (every chat frame: 1.5 % of daphne's samples).
        A read still ends when the connection does (an error: logged, retried a second later, as
        before) or when the task is cancelled (`flush`, the loop's end)."""
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    self._receive_message(
                        await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                    )
                else:
                    await asyncio.sleep(0.1)
            except Exception:  # noqa: BLE001 - logged and tried again (a cancellation ends it)
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)

    def _receive_message(self, message):
        if message is not None:
            data = message["data"]
            if data[:1] == ORIGIN_MARK:
                if data[:ORIGIN_LENGTH] == self.channel_layer.origin:
                    return  # this loop layer's own group_send: delivered already
                message["data"] = data[ORIGIN_LENGTH:]
        super()._receive_message(message)


class BatchingLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, hosts=None, *args, **kwargs) -> None:
        super().__init__(hosts, *args, **kwargs)
        self._shards = [BatchingShard(host, self) for host in decode_hosts(hosts)]
        self.origin = ORIGIN_MARK + uuid.uuid4().bytes

    async def receive(self, channel):
        """channels-redis' `receive`, but a cancelled one (its socket closed) leaves its channel
        to the shard to unsubscribe (`unsubscribe_soon`) and ends at once. channels-redis
        unsubscribed inside the cancellation, each closing socket waiting its turn for the
        shard's lock; a second cancellation meanwhile (daphne cancels every application as it
        shuts down) cut that short, logged as an ERROR, the subscription left behind."""
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        queue = self.channels[channel]
        try:
            message = await queue.get()
        except (asyncio.CancelledError, TimeoutError, GeneratorExit):
            if self.channels.pop(channel, None) is not None:
                self._get_shard(channel).unsubscribe_soon(channel)
            raise
        return self.channel_layer.deserialize(message)

    async def group_send(self, group, message, skip=None) -> None:
        """Delivered at once to this loop's members of `group` but `skip` (the sender's own
        channel, when it handles the message itself), then published (tagged) for the other
        processes; returns once Redis has it, as before."""
        group_channel = self._get_group_channel_name(group)
        payload = self.channel_layer.serialize(message)
        for channel in self.groups.get(group_channel, ()):
            queue = self.channels.get(channel)
            if queue is not None and channel != skip:
                queue.put_nowait(payload)
        shard = self._get_shard(group_channel)
        await shard.publish(group_channel, self.origin + payload)


class BatchingPubSubChannelLayer(RedisPubSubChannelLayer):
    # channels-redis reaches the loop layer's methods through `__getattr__`: a new partial, a
    # proxy coroutine and a lookup by name at every call. The two every chat message calls go
    # straight to this event loop's layer.

    async def group_send(self, group, message, skip=None):
        """channels' `group_send`; `skip`: a channel of this process left out (its consumer
        handles the message itself; other processes never had it)."""
        return await self._get_layer().group_send(group, message, skip)

    async def receive(self, channel):
        return await self._get_layer().receive(channel)

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = BatchingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
