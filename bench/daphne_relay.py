"""The bare relay of `bench/relay.py`, served by daphne: what daphne itself costs a message.

A raw ASGI application (no Django, no Channels, no channel layer, no storage, no checks):
sockets connect to `ws://HOST:PORT/?room=<name>`, and every text frame a socket sends is sent as
is to the other sockets of its room, from this process's memory. Whatever the chat server does
for a message, it does on top of this; so this relay's saturation point, set beside the floor's
(`bench/chat.py`: `saturation daphne relay/floor`), is the most any application served by
daphne can reach on the machine.

    python -m config.serve -b 127.0.0.1 -p 8766 bench.daphne_relay:application  # as the chat's
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import parse_qs

rooms: dict[str, set] = defaultdict(set)  # room -> the `send` callables of its sockets


async def application(scope, receive, send) -> None:
    if scope["type"] != "websocket":
        return
    room = (parse_qs(scope["query_string"].decode()).get("room") or ["lobby"])[0]
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    members = rooms[room]
    members.add(send)
    try:
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            if event["type"] == "websocket.receive" and event.get("text") is not None:
                frame = {"type": "websocket.send", "text": event["text"]}
                for peer in [peer for peer in members if peer is not send]:
                    await peer(frame)
    finally:
        members.discard(send)
        if not members:
            rooms.pop(room, None)
