"""The chat's hot path on PostgreSQL: messages stored by group commit, from the event loop.

`chat.services.send_message` costs a thread hop, Django's query building for the membership
check and for the INSERT, DRF's serializer and a commit per message; with hundreds of sockets
a daphne process spends its time there (bench/CHAT.md). Here the consumer hands the message to
`send_message` below, which queues it; a writer task per database connection takes every
message waiting and stores them with ONE statement (one round trip, one commit):

    INSERT INTO chat_message ... SELECT ... FROM UNNEST(<the batch>)
      JOIN the consultation  -- the sender is one of its two participants, it is `active`
    ON CONFLICT (consultation, sender, client_msg_id) DO NOTHING  -- a resend is not stored
    RETURNING id

Every guarantee of the service holds, checked by the database in that statement: a message is
stored only for a participant of an active consultation, and once per `client_msg_id`. A
message the statement did not store (a resend, a stranger, a consultation that is not active,
any error) returns None, and the consumer asks the service, which answers it exactly as before
(the first message of a resend, `not_found`, `invalid_state`...). Messages with `reply_to`, and
every database other than PostgreSQL (the embedded SQLite mode), go to the service directly.
The answer and the broadcast are sent only after the statement committed: stored before
broadcast.

The connections are psycopg 3 async connections of this event loop, opened on first use with
the `default` database's settings; `close()` ends them (the tests' event loops).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
import weakref
from datetime import UTC, datetime

import orjson
from django.db import connections

from chat.models import MessageStatus
from consultations.models import Status

logger = logging.getLogger(__name__)

# Connections (writers) per event loop: one batch in flight on each; two overlap a commit's wait
# with the next batch's building.
WRITERS = 2


# The tables are Message's, Consultation's and ConsultantProfile's (a test holds them to it).
# Parameters go in binary (`%b`): psycopg then writes the arrays' UUIDs and timestamps as their
# bytes instead of formatting each one as text: 40 % less client CPU on a batch of 16.
INSERT_SQL = (
    "INSERT INTO chat_message (id, consultation_id, sender_id, client_msg_id, body, "
    "reply_to_id, status, created_at) "
    "SELECT x.id, x.consultation_id, x.sender_id, x.client_msg_id, x.body, NULL, %b, x.created_at "
    "FROM UNNEST(%b::uuid[], %b::uuid[], %b::uuid[], %b::uuid[], %b::text[], "
    "%b::timestamptz[]) AS x(id, consultation_id, sender_id, client_msg_id, body, created_at) "
    "JOIN consultations_consultation c ON c.id = x.consultation_id "
    "JOIN consultants_consultantprofile p ON p.id = c.consultant_id "
    "WHERE c.status = %b AND x.sender_id IN (c.client_id, p.user_id) "
    "ON CONFLICT (consultation_id, sender_id, client_msg_id) DO NOTHING "
    "RETURNING id"
)


@functools.cache
def enabled() -> bool:
    """Whether the default database is PostgreSQL: asked once a process (the lookup goes through
    Django's per-thread connection handler, 2 % of the chat's samples when asked per message)."""
    return connections["default"].vendor == "postgresql"


def message_text(
    *, message_id: uuid.UUID, session_id, sender_id, body: str, created_at: datetime
) -> str:
    """The contract's `message` of a message just stored (`created_at` in UTC), as JSON text, as
    `chat.serializers.message_data` writes it (DRF's UUID and UTC date-time forms), without a
    serializer: orjson writes the UUIDs and the time in C (`OPT_UTC_Z`: `...Z`, microseconds
    when there are any, as `isoformat`)."""
    return orjson.dumps(
        {
            "id": message_id,
            "session_id": session_id,
            "sender_id": sender_id,
            "body": body,
            "reply_to": None,
            "status": MessageStatus.SENT.value,
            "created_at": created_at,
            "delivered_at": None,
            "seen_at": None,
        },
        option=orjson.OPT_UTC_Z,
    ).decode()


class Store:
    """The writers of one event loop and the messages waiting for them."""

    def __init__(self) -> None:
        self.waiting: asyncio.Queue[tuple[tuple, asyncio.Future]] = asyncio.Queue()
        self.writers: list[asyncio.Task] = []
        self.connections: list = []

    async def store(self, row: tuple) -> bool:
        if len(self.writers) < WRITERS:
            self.writers.append(asyncio.create_task(self.write()))
        done = asyncio.get_running_loop().create_future()
        self.waiting.put_nowait((row, done))
        return await done

    async def connect(self):
        import psycopg

        params = connections["default"].get_connection_params()
        for name in ("cursor_factory", "context", "server_side_binding", "prepare_threshold"):
            params.pop(name, None)
        conn = await psycopg.AsyncConnection.connect(**params, autocommit=True)
        self.connections.append(conn)
        return conn

    async def write(self) -> None:
        conn = None
        while True:
            batch = [await self.waiting.get()]
            while not self.waiting.empty():
                batch.append(self.waiting.get_nowait())
            try:
                if conn is None or conn.closed:
                    conn = await self.connect()
                columns = [list(c) for c in zip(*(row for row, _ in batch), strict=True)]
                params = [MessageStatus.SENT.value, *columns, Status.ACTIVE.value]
                cursor = await conn.execute(INSERT_SQL, params)
                stored = {row[0] for row in await cursor.fetchall()}
            except Exception:  # noqa: BLE001 - every message of the batch takes the slow path
                logger.exception("chat store: a batch of %d messages failed", len(batch))
                stored = set()
                if conn is not None:
                    await conn.close()
                    conn = None
            for row, done in batch:
                if not done.done():
                    done.set_result(row[0] in stored)

    async def close(self) -> None:
        for task in self.writers:
            task.cancel()
        for conn in self.connections:
            await conn.close()
        self.writers, self.connections = [], []


_stores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Store] = weakref.WeakKeyDictionary()


def _store() -> Store:
    loop = asyncio.get_running_loop()
    store = _stores.get(loop)
    if store is None:
        store = _stores[loop] = Store()
    return store


async def send_message(*, session_id, sender_id, client_msg_id, body: str) -> str | None:
    """The `message` object of a new message (JSON text), stored and committed; None when this
    path did not store it (the caller asks `chat.services.send_message`, which has the answer).
    The ids are UUIDs."""
    message_id = uuid.uuid4()
    created_at = datetime.now(UTC)
    row = (message_id, session_id, sender_id, client_msg_id, body, created_at)
    if not await _store().store(row):
        return None
    return message_text(
        message_id=message_id,
        session_id=session_id,
        sender_id=sender_id,
        body=body,
        created_at=created_at,
    )


async def close() -> None:
    """Closes this event loop's connections (an event loop that ends: the tests')."""
    store = _stores.pop(asyncio.get_running_loop(), None)
    if store is not None:
        await store.close()
