"""The one WebSocket consumer at `/ws/` (CONTRACT.md "WebSocket"): thin, like a view.

Each text frame is rate-limited, parsed and checked by `chat.frames` (size, JSON, type,
fields), then handed to one handler, which checks membership and state through a service and
answers. Whatever goes wrong with a frame is answered with an `error` frame carrying the frame's
`ref`; the socket stays open. Only authentication closes it (4401): a bad token, none in time,
the access token's expiry (a socket lives no longer than its token, unless the client sends a
fresh one in an `authenticate` frame before), or the end of the user's sessions (a new
password, a deactivation: `sockets.close` on the user's group).

Groups: every authenticated socket is in `user.<id>` (lifecycle, billing and presence frames);
`join_session` adds it to `consultation.<id>` (messages, statuses, typing, calls). Frames meant
for "the other participant only" travel to the room with `except_user` and each socket drops
those of its own user.

Database and Redis work runs in a pool of worker threads (`thread_sensitive=False`): one slow
query of one socket does not hold up every other socket of the process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import close_old_connections

from chat import frames, selectors, services, store
from chat.frames import Frame, FrameError, TokenBucket, error_frame
from chat.middleware import authenticate_token
from config import logs
from config.channel_layer import BatchingPubSubChannelLayer
from config.errors import ApiError
from config.events import consultation_group, user_group
from consultations import presence

logger = logging.getLogger(__name__)

UNAUTHENTICATED = 4401


# Database and Redis calls of every socket of the process share these threads (and so at most
# this many database connections): asgiref's default would run them all in one thread, one
# query at a time for the whole process.
DB_THREADS = 16
_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="ws-db")


# channels' database_sync_to_async closes stale connections around every call, and with
# CONN_HEALTH_CHECKS each such check costs the next query a `SELECT 1` round trip: a third of
# a chat message's database time. Here the check runs at most once a second per thread, and
# at once after a call that failed (a broken connection is dropped before the next frame).
CONNECTION_CHECK_SECONDS = 1.0
_upkeep = threading.local()


def _with_connection_upkeep(func):
    @functools.wraps(func)
    def call(*args, **kwargs):
        now = time.monotonic()
        if now - getattr(_upkeep, "checked_at", -CONNECTION_CHECK_SECONDS) >= (
            CONNECTION_CHECK_SECONDS
        ):
            close_old_connections()
            _upkeep.checked_at = now
        try:
            return func(*args, **kwargs)
        except Exception:
            close_old_connections()
            _upkeep.checked_at = time.monotonic()
            raise

    return call


def _dumps(value: Any) -> str:
    """The JSON text of a frame, or of a part of one: compact, non-ASCII characters as they are
    (orjson: a chat message's two texts cost a tenth of what `json`'s encoder took)."""
    return orjson.dumps(value).decode()


def in_thread(func):
    return sync_to_async(_with_connection_upkeep(func), thread_sensitive=False, executor=_executor)


class Heartbeat:
    """One presence heartbeat for every signed-in socket of an event loop (a daphne process),
    every `presence.heartbeat_seconds()`, in one thread hop and one Redis round trip: a task
    and a Redis call per socket cost the chat a tenth of its time at a few hundred sockets. A
    socket's first beat is its `socket_connected`; this one follows within a period."""

    def __init__(self) -> None:
        self.sockets: dict[str, Any] = {}  # socket id -> user id
        self.task: asyncio.Task | None = None

    def add(self, socket_id: str, user_id) -> None:
        self.sockets[socket_id] = user_id
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())

    def discard(self, socket_id: str) -> None:
        self.sockets.pop(socket_id, None)
        if not self.sockets and self.task is not None:
            self.task.cancel()  # (an event loop that ends, in the tests, leaves no task behind)
            self.task = None

    async def run(self) -> None:
        period = presence.heartbeat_seconds()  # a live socket is never quieter than this
        while True:
            await asyncio.sleep(period)
            sockets = [(user_id, socket_id) for socket_id, user_id in self.sockets.items()]
            try:
                await in_thread(services.sockets_alive)(sockets=sockets)
            except Exception:  # noqa: BLE001 - the next beat tries again
                logger.exception("presence: the heartbeat of %d sockets failed", len(sockets))


async def dispatch_each(sources, dispatch) -> None:
    """Hands every message of each source (an ASGI `receive`, the channel layer's) to
    `dispatch`, one at a time, in each source's order, until a dispatch raises (the consumer
    stops: `StopConsumer`, or a bug) or the caller is cancelled (daphne closing the socket).

    channels' `await_many_dispatch` does the same with a new task for every message and an
    `asyncio.wait` over all sources after each, three times a chat message (one frame in, two
    events out). Here one task a source reads and dispatches, in turn with the others (a
    lock): a message costs its source's task one step. (channels' and asyncio's self time in
    the chat's flame: 7 % and 21 % before, 2 % and 6 % after, with uvloop; bench/CHAT.md.)"""
    turn = asyncio.Lock()

    async def pump(receive) -> None:
        while True:
            message = await receive()
            async with turn:
                await dispatch(message)

    tasks = [asyncio.ensure_future(pump(receive)) for receive in sources]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a pump ends only by raising: raised here
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


_heartbeats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Heartbeat] = (
    weakref.WeakKeyDictionary()
)


def heartbeat() -> Heartbeat:
    """This event loop's `Heartbeat`."""
    loop = asyncio.get_running_loop()
    if loop not in _heartbeats:
        _heartbeats[loop] = Heartbeat()
    return _heartbeats[loop]


class SessionConsumer(AsyncWebsocketConsumer):
    user: Any = None

    async def __call__(self, scope, receive, send):
        """channels' `AsyncConsumer.__call__`, its loop over the socket's frames and the channel
        layer's events replaced by `dispatch_each`."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        # (a layer that can leave the sender's channel out of a group_send: config/channel_layer)
        self.skips_own_channel = isinstance(self.channel_layer, BatchingPubSubChannelLayer)
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        self.base_send = send
        try:
            await dispatch_each(sources, self.dispatch)
        except StopConsumer:
            pass

    async def dispatch(self, message):
        """channels' dispatch without its `aclose_old_connections()` per event: that hops to the
        process's one thread-sensitive thread for every frame in and every event out, making
        it the bottleneck of the whole process. This consumer never uses that thread's
        connection; its worker threads close their own (`database_sync_to_async`).

        A frame in and a relayed frame (the two events of every chat message) go straight to
        their handlers."""
        kind = message["type"]
        if kind == "websocket.receive":
            await self.receive(message.get("text"), message.get("bytes"))
            return
        if kind == "relay":
            await self.relay(message)
            return
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {kind}")
        await handler(message)

    async def connect(self):
        self.user = None
        self.socket_id = uuid.uuid4().hex
        self.rooms: set[str] = set()
        self.sessions: dict[str, selectors.Session] = {}  # membership known (participants fixed)
        self.bucket = TokenBucket(settings.WS_RATE_LIMIT_PER_SECOND, time.monotonic)
        self.tasks: list[asyncio.Task] = []
        self.token_expires_at: float | None = None
        user = self.scope.get("user")
        if self.scope.get("token_rejected"):
            await self.accept()  # then closed: a refused handshake reaches clients as a bare 403
            await self.close(code=UNAUTHENTICATED)
        elif user is not None and user.is_authenticated:
            # In its groups and counted present before the client sees the socket open, so no
            # event sent right after the handshake is missed.
            await self.signed_in(user, self.scope.get("token_expires_at"))
            await self.accept()
        else:
            await self.accept()
            self.tasks.append(asyncio.create_task(self.authentication_deadline()))

    async def disconnect(self, code):
        for task in self.tasks:
            task.cancel()
        if self.user is None:
            return
        heartbeat().discard(self.socket_id)
        user_id = self.user.id
        for group in [user_group(user_id), *self.rooms]:
            await self.channel_layer.group_discard(group, self.channel_name)
        try:
            await in_thread(services.socket_disconnected)(user_id=user_id, socket_id=self.socket_id)
        except Exception:  # noqa: BLE001 - the socket expires from the store by itself
            logger.exception("presence: could not record socket %s closing", self.socket_id)

    async def signed_in(self, user, token_expires_at: float | None) -> None:
        self.user = user
        self.user_key = str(user.id)  # as `except_user` carries it
        await self.channel_layer.group_add(user_group(user.id), self.channel_name)
        await in_thread(services.socket_connected)(user_id=user.id, socket_id=self.socket_id)
        heartbeat().add(self.socket_id, user.id)
        if token_expires_at is not None:  # (a socket signed in otherwise has no token to expire)
            self.token_expires_at = token_expires_at
            self.tasks.append(asyncio.create_task(self.token_deadline()))

    async def authentication_deadline(self) -> None:
        await asyncio.sleep(settings.WS_AUTH_TIMEOUT_SECONDS)
        if self.user is None:
            await self.close(code=UNAUTHENTICATED)

    async def token_deadline(self) -> None:
        """Closes the socket (4401) when its access token expires; a fresh token from an
        `authenticate` frame moves the deadline."""
        while self.token_expires_at is not None:
            remaining = self.token_expires_at - time.time()
            if remaining <= 0:
                await self.close(code=UNAUTHENTICATED)
                return
            await asyncio.sleep(remaining)

    # --- Frames in ----------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if not self.bucket.take():
            await self.send_frame(error_frame("throttled", "Too many frames; slow down."))
            return
        try:
            frame = frames.parse(text_data, bytes_data)
        except FrameError as exc:
            await self.send_frame(error_frame(exc.code, exc.detail, exc.ref))
            return
        logs.update(
            user_id=getattr(self.user, "id", None), consultation_id=frame.fields.get("session_id")
        )
        if self.user is None and frame.type not in ("authenticate", "ping"):
            await self.send_frame(
                error_frame("not_authenticated", "Authenticate first.", frame.ref)
            )
            return
        handler = getattr(self, "on_" + frame.type)
        try:
            await handler(frame)
        except ApiError as exc:
            await self.send_frame(error_frame(exc.code, str(exc.detail), frame.ref))
        except Exception:  # noqa: BLE001 - a bug answers one frame, never the whole socket
            logger.exception("frame %s failed", frame.type)
            await self.send_frame(error_frame("server_error", "The frame failed.", frame.ref))

    async def on_ping(self, frame: Frame) -> None:
        await self.send_frame({"type": "pong"})

    async def on_authenticate(self, frame: Frame) -> None:
        """Signs the socket in, or (signed in already) takes a fresh token of the same user, so
        the socket outlives the first one. A token that is not valid closes it (4401)."""
        found = await in_thread(authenticate_token)(frame.fields["token"])
        if found is None:
            await self.close(code=UNAUTHENTICATED)
            return
        user, expires_at = found
        if self.user is None:
            await self.signed_in(user, expires_at)
        elif user.id != self.user.id:
            await self.send_frame(
                error_frame(
                    "already_authenticated", "This socket is signed in as someone else.", frame.ref
                )
            )
            return
        elif self.token_expires_at is not None:
            self.token_expires_at = max(self.token_expires_at, expires_at)
        await self.send_frame({"type": "authenticated", "user_id": str(user.id)})

    async def on_join_session(self, frame: Frame) -> None:
        session_id = frame.fields["session_id"]
        session, consultation = await in_thread(selectors.session_joined)(
            user_id=self.user.id, session_id=session_id
        )
        self.sessions[str(session_id)] = session
        room = consultation_group(session_id)
        await self.channel_layer.group_add(room, self.channel_name)
        self.rooms.add(room)
        await self.send_frame(
            {"type": "session_joined", "session_id": str(session_id), "consultation": consultation}
        )

    async def on_leave_session(self, frame: Frame) -> None:
        session_id = frame.fields["session_id"]
        await self.session(session_id)  # a stranger's session is not_found
        room = consultation_group(session_id)
        if room in self.rooms:
            self.rooms.discard(room)
            await self.channel_layer.group_discard(room, self.channel_name)

    async def on_send_message(self, frame: Frame) -> None:
        fields = frame.fields
        session_id = fields["session_id"]
        # The `message` object as JSON text, written once into both frames: the room's `message`
        # (one text for every socket of the room) and the sender's `message_ack`.
        message = None
        if fields.get("reply_to") is None and store.enabled():
            # The hot path: group-committed from this event loop (chat/store.py); None when it
            # did not store the message (a resend, a stranger, not active): the service answers.
            message = await store.send_message(
                session_id=session_id,
                sender_id=self.user.id,
                client_msg_id=fields["client_msg_id"],
                body=fields["body"],
            )
        created = message is not None
        if message is None:
            sent = await in_thread(services.send_message)(
                session_id=session_id,
                sender_id=self.user.id,
                client_msg_id=fields["client_msg_id"],
                body=fields["body"],
                reply_to_id=fields.get("reply_to"),
                broadcast=False,
            )
            message, created = _dumps(sent.data), sent.created
        room = consultation_group(session_id)
        text = '{"type":"message","message":' + message + "}"
        # This socket, if it joined the room, writes its own `message` itself, after the ack: the
        # layer leaves its channel out (a queue, a task's turn and a decoding less a message).
        itself = room in self.rooms and self.skips_own_channel
        if created:  # stored and committed: the room hears it (a resend is not repeated)
            event = {"type": "relay", "text": text}
            if itself:
                await self.channel_layer.group_send(room, event, skip=self.channel_name)
            else:
                await self.channel_layer.group_send(room, event)
        await self.send_text(
            '{"type":"message_ack","client_msg_id":'
            + _dumps(fields["client_msg_id"])  # (a UUID: its canonical string)
            + ',"message":'
            + message
            + "}",
            "message_ack",
        )
        if created and itself:
            await self.send_text(text, "message")

    async def on_message_delivered(self, frame: Frame) -> None:
        await in_thread(services.mark_delivered)(
            session_id=frame.fields["session_id"],
            user_id=self.user.id,
            message_ids=frame.fields["message_ids"],
        )

    async def on_mark_seen(self, frame: Frame) -> None:
        await in_thread(services.mark_seen)(
            session_id=frame.fields["session_id"], user_id=self.user.id
        )

    async def on_typing(self, frame: Frame) -> None:
        session_id = frame.fields["session_id"]
        await self.session(session_id)
        await self.to_other_side(
            session_id,
            {
                "type": "typing",
                "session_id": str(session_id),
                "user_id": str(self.user.id),
                "is_typing": frame.fields["is_typing"],
            },
        )

    async def on_call(self, frame: Frame) -> None:
        session_id = frame.fields["session_id"]
        await in_thread(services.check_call)(session_id=session_id, user_id=self.user.id)
        relayed = {
            **{name: value for name, value in frame.fields.items() if name != "session_id"},
            "type": frame.type,
            "session_id": str(session_id),
            "from_user_id": str(self.user.id),
        }
        await self.to_other_side(session_id, relayed)

    on_call_offer = on_call_answer = on_ice_candidate = on_call_end = on_call

    # --- Helpers ------------------------------------------------------------------------------

    async def session(self, session_id) -> selectors.Session:
        """The session if this user is a participant (remembered: participants never change)."""
        key = str(session_id)
        if key not in self.sessions:
            self.sessions[key] = await in_thread(selectors.session_for)(
                user_id=self.user.id, session_id=session_id
            )
        return self.sessions[key]

    async def to_other_side(self, session_id, frame: dict) -> None:
        """`frame` to the sockets in the room that are not this user's."""
        await self.channel_layer.group_send(
            consultation_group(session_id),
            {"type": "relay", "frame": frame, "except_user": self.user_key},
        )

    async def send_frame(self, frame: dict) -> None:
        await self.send_text(_dumps(frame), frame.get("type"))

    async def send_text(self, text: str, kind) -> None:
        """A frame already written as JSON text (`kind`, its type, for the log only), handed to
        the server as channels' `send(text_data=...)` does."""
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except Exception:  # noqa: BLE001 - the client is gone; its disconnect cleans up
            logger.debug("socket %s closed before a %s frame", self.socket_id, kind)

    # --- Frames out (channel-layer events) ----------------------------------------------------

    async def sockets_close(self, event):
        """The user's sessions were ended (config.events.close_user_sockets)."""
        await self.close(code=UNAUTHENTICATED)

    async def relay(self, event):
        """Every server frame arrives as `{"type": "relay", "frame": ...}` (config.events), or
        already written as JSON, `{"type": "relay", "text": ...}` (a chat message: written once
        for the whole room, not once a socket)."""
        if self.user is None or event.get("except_user") == self.user_key:
            return
        text = event.get("text")
        if text is not None:
            await self.send_text(text, "relayed")
        else:
            await self.send_frame(event["frame"])
