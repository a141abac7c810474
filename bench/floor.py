"""The floor: the least a stored, delivered chat message costs on this stack's essentials.

One asyncio process, `websockets` and psycopg 3 (async), and nothing else: no Django, no
channel layer, no authentication. At start it reads every active consultation's two
participants into memory; then

* a socket connects to `ws://HOST:PORT/?user=<user id>` and speaks the contract's frames:
* `join_session {session_id}` is checked against memory (a participant, the consultation
  active) and answered `session_joined`;
* `send_message {session_id, client_msg_id, body}` is checked against memory, INSERTed into
  the real `chat_message` table (its unique key makes a resend harmless), every message waiting
  when one of a few connections is free in one statement and one commit (group commit); then
  `message_ack` goes to the sender and `message` to the other participant's sockets in that
  session: stored before it is sent, as the contract says.

bench/chat.py measures the real server against it; run by hand:

    python bench/floor.py --port 8766 --database postgres://postgres@127.0.0.1:5432/bench_chat
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import psycopg
from websockets.asyncio.server import serve

# One statement (and one commit) for every message waiting when a connection is free: group
# commit, so the floor is not one fsync per message.
INSERT = (
    "INSERT INTO chat_message (id, consultation_id, sender_id, client_msg_id, body, status, "
    "created_at) SELECT i, c, s, m, b, 'sent', t FROM UNNEST("
    "%s::uuid[], %s::uuid[], %s::uuid[], %s::uuid[], %s::text[], %s::timestamptz[]) "
    "AS x(i, c, s, m, b, t) "
    "ON CONFLICT (consultation_id, sender_id, client_msg_id) DO NOTHING"
)


class Floor:
    def __init__(self, database: str, connections: int) -> None:
        self.database = database
        self.size = connections
        self.connections: list[psycopg.AsyncConnection] = []
        self.waiting: asyncio.Queue[tuple[tuple, asyncio.Future]] = asyncio.Queue()
        self.members: dict[str, tuple[str, str]] = {}  # session id -> (client, consultant user)
        self.joined: dict[str, set] = defaultdict(set)  # session id -> sockets that joined

    async def start(self) -> None:
        for _ in range(self.size):
            conn = await psycopg.AsyncConnection.connect(self.database, autocommit=True)
            self.connections.append(conn)
        rows = await (
            await self.connections[0].execute(
                "SELECT c.id::text, c.client_id::text, p.user_id::text "
                "FROM consultations_consultation c "
                "JOIN consultants_consultantprofile p ON p.id = c.consultant_id "
                "WHERE c.status = 'active'"
            )
        ).fetchall()
        self.members = {sid: (client, expert) for sid, client, expert in rows}
        self.writers = [asyncio.create_task(self.writer(conn)) for conn in self.connections]

    async def writer(self, conn: psycopg.AsyncConnection) -> None:
        while True:
            batch = [await self.waiting.get()]
            while not self.waiting.empty():
                batch.append(self.waiting.get_nowait())
            columns = [list(column) for column in zip(*(row for row, _ in batch), strict=True)]
            try:
                await conn.execute(INSERT, columns)
            except Exception as exc:  # noqa: BLE001 - every waiting sender hears it
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)

    async def store(self, *row) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.put_nowait((row, done))
        await done

    async def handler(self, ws) -> None:
        user = (parse_qs(urlsplit(ws.request.path).query).get("user") or [""])[0]
        joined: set[str] = set()
        try:
            async for raw in ws:
                frame = json.loads(raw)
                session_id = str(frame.get("session_id"))
                if user not in self.members.get(session_id, ()):
                    await ws.send(json.dumps({"type": "error", "code": "not_found"}))
                    continue
                if frame["type"] == "join_session":
                    joined.add(session_id)
                    self.joined[session_id].add(ws)
                    await ws.send(json.dumps({"type": "session_joined", "session_id": session_id}))
                elif frame["type"] == "send_message":
                    message_id = str(uuid.uuid4())
                    now = datetime.now(UTC)
                    await self.store(
                        message_id, session_id, user, frame["client_msg_id"], frame["body"], now
                    )
                    message = {
                        "id": message_id,
                        "session_id": session_id,
                        "sender_id": user,
                        "body": frame["body"],
                        "reply_to": None,
                        "status": "sent",
                        "created_at": now.isoformat().replace("+00:00", "Z"),
                        "delivered_at": None,
                        "seen_at": None,
                    }
                    await ws.send(
                        json.dumps(
                            {
                                "type": "message_ack",
                                "client_msg_id": frame["client_msg_id"],
                                "message": message,
                            }
                        )
                    )
                    out = json.dumps({"type": "message", "message": message})
                    for peer in self.joined[session_id]:
                        if peer is not ws:
                            try:
                                await peer.send(out)
                            except Exception:  # noqa: BLE001, S112 - the peer is gone
                                continue
        finally:
            for session_id in joined:
                self.joined[session_id].discard(ws)


async def main(host: str, port: int, database: str, connections: int) -> None:
    floor = Floor(database, connections)
    await floor.start()
    async with serve(floor.handler, host, port, max_size=8192, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database", required=True, help="postgres:// URL of the chat database")
    parser.add_argument("--connections", type=int, default=4, help="database connections")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port, args.database, args.connections))
