"""A bare WebSocket relay: the baseline bench/chat.py measures the real server against.

Sockets connect to `ws://HOST:PORT/?room=<name>`; every text frame a socket sends is forwarded
as is to the other sockets of its room. No authentication, no storage, no checks: the cost of
moving a frame through one Python process and nothing more.

    python bench/relay.py --port 8765
"""

import argparse
import asyncio
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import broadcast, serve

rooms: dict[str, set] = defaultdict(set)


async def handler(ws) -> None:
    room = (parse_qs(urlsplit(ws.request.path).query).get("room") or ["lobby"])[0]
    members = rooms[room]
    members.add(ws)
    try:
        async for frame in ws:
            broadcast([peer for peer in members if peer is not ws], frame)
    finally:
        members.discard(ws)
        if not members:
            rooms.pop(room, None)


async def main(host: str, port: int) -> None:
    async with serve(handler, host, port, max_size=8192, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
