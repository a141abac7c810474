"""daphne's `websocket.send` of a text frame, written as one WebSocket frame straight to the socket
(`python -m config.serve` installs it).

Every frame the application sends passes through six layers before Twisted has its bytes:
daphne's `Server.handle_reply` (a coroutine) and its protocol's `handle_reply` and `serverSend`,
then autobahn's `sendMessage` (its argument asserts, compression, fragmentation), `sendFrame` (any
opcode, masking, repeated payloads for fuzzing) and `sendData` (chopping, a send queue). A chat
message writes three frames (the ack, the message to each socket of the room): 6 % of daphne's
samples were under daphne's `handle_reply`, Twisted's write included (bench/CHAT.md). Here a
text frame on an open connection that uses none of those features (the connections daphne makes:
no compression, no fragmentation, no logging of frames, nothing queued) is framed here and
written in one call, counted in autobahn's traffic statistics as before. Anything else (bytes,
an empty text, a closed or closing connection, a compressed one, a frame over the payload limit)
goes through daphne's own path unchanged, with its errors.
"""

from __future__ import annotations

import struct

from autobahn.websocket.protocol import WebSocketProtocol

OPEN = WebSocketProtocol.STATE_OPEN
TEXT = 0x81  # FIN + opcode 1 (a whole text message in one frame)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame (RFC 6455 5.2) carrying `payload`: autobahn's bytes."""
    length = len(payload)
    if length <= 125:
        return bytes((TEXT, length)) + payload
    if length <= 0xFFFF:
        return struct.pack("!BBH", TEXT, 126, length) + payload
    return struct.pack("!BBQ", TEXT, 127, length) + payload


def plain(protocol) -> bool:
    """Whether `protocol` sends a message as one plain frame written at once: open, its
    messages neither compressed, nor fragmented, nor masked, nor logged, nothing queued."""
    return (
        protocol.state == OPEN
        and protocol._perMessageCompress is None
        and not protocol.autoFragmentSize
        and not protocol.send_queue
        and not protocol.logFrames
        and not protocol.logOctets
        and not protocol.trackedTimings
        and not protocol.maskServerFrames
    )


def install() -> None:
    """daphne's `Server.handle_reply` with the fast path in front of it."""
    from daphne.server import Server

    daphne_handle_reply = Server.handle_reply
    if getattr(daphne_handle_reply, "fast_text", False):
        return

    async def handle_reply(self, protocol, message):
        text = message.get("text") if message.get("type") == "websocket.send" else None
        connection = self.connections.get(protocol)
        if (
            text
            and message.get("bytes") is None
            and connection is not None
            and not connection.get("disconnected")
            and plain(protocol)
        ):
            payload = text.encode()
            size = len(payload)
            limit = protocol.maxMessagePayloadSize
            if not 0 < limit < size:  # (over the limit: autobahn refuses it, below)
                data = text_frame(payload)
                stats = protocol.trafficStats
                stats.outgoingWebSocketMessages += 1
                stats.outgoingWebSocketFrames += 1
                stats.outgoingOctetsAppLevel += size
                stats.outgoingOctetsWebSocketLevel += size
                stats.outgoingOctetsWireLevel += len(data)
                protocol.transport.write(data)
                return
        await daphne_handle_reply(self, protocol, message)

    handle_reply.fast_text = True  # type: ignore[attr-defined]
    Server.handle_reply = handle_reply
