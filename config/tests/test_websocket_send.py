"""config.websocket_send: a text frame written by the fast path is byte for byte autobahn's, counted
as autobahn counts it, and everything the fast path does not cover goes through daphne's own."""

import asyncio
from types import SimpleNamespace

import pytest
from autobahn.websocket.compress import PerMessageDeflate
from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory
from twisted.internet.testing import StringTransport

from config import websocket_send

# Around each length boundary of RFC 6455's three length encodings; non-ASCII counted in bytes.
TEXTS = ["x", "y" * 125, "y" * 126, "z" * 0xFFFF, "z" * 0x10000, "नमस्ते" * 9]


def _open_protocol(**options):
    """A WebSocket connection as daphne's factory builds it, open, writing to memory."""
    factory = WebSocketFactory(object(), server="daphne")
    factory.setProtocolOptions(maxMessagePayloadSize=2**20, **options)
    protocol = factory.buildProtocol(("127.0.0.1", 50000))
    protocol.makeConnection(StringTransport())
    protocol.client_addr = ["127.0.0.1", 50000]  # (daphne sets it as the handshake starts)
    protocol.state = Autobahn.STATE_OPEN
    return protocol


def _stats(protocol) -> tuple:
    stats = protocol.trafficStats
    return (
        stats.outgoingWebSocketMessages,
        stats.outgoingWebSocketFrames,
        stats.outgoingOctetsAppLevel,
        stats.outgoingOctetsWebSocketLevel,
        stats.outgoingOctetsWireLevel,
    )


@pytest.fixture
def fast(monkeypatch):
    """daphne's Server.handle_reply with the fast path (restored after the test), called as daphne
    calls it, on a server that knows the connection."""
    monkeypatch.setattr(Server, "handle_reply", Server.handle_reply)
    websocket_send.install()
    websocket_send.install()  # (twice: installed once)

    def reply(protocol, message, connection=None):
        server = SimpleNamespace(
            connections={protocol: {} if connection is None else connection},
            check_headers_type=Server.check_headers_type,
        )
        asyncio.run(Server.handle_reply(server, protocol, message))
        return protocol.transport.value()

    return reply


@pytest.mark.parametrize("text", TEXTS, ids=lambda text: str(len(text)))
def test_a_text_frame_is_autobahn_s_bytes_and_counted_as_autobahn_counts(fast, text):
    theirs = _open_protocol()
    theirs.sendMessage(text.encode())
    mine = _open_protocol()
    assert websocket_send.plain(mine)
    assert fast(mine, {"type": "websocket.send", "text": text}) == theirs.transport.value()
    assert websocket_send.text_frame(text.encode()) == theirs.transport.value()
    assert _stats(mine) == _stats(theirs)


def test_the_fast_path_is_what_writes(fast, monkeypatch):
    protocol = _open_protocol()

    def refused(*args, **kwargs):
        raise AssertionError("autobahn's sendMessage was called")

    monkeypatch.setattr(protocol, "sendMessage", refused)
    assert fast(protocol, {"type": "websocket.send", "text": "hi"}) == b"\x81\x02hi"


@pytest.mark.parametrize(
    ("message", "written"),
    [
        ({"type": "websocket.send", "bytes": b"\x01\x02"}, b"\x82\x02\x01\x02"),  # binary
        ({"type": "websocket.send", "text": ""}, b""),  # daphne sends nothing for an empty text
        ({"type": "websocket.send", "text": "a", "bytes": b""}, b"\x81\x01a"),
    ],
)
def test_anything_else_goes_through_daphne(fast, message, written):
    assert fast(_open_protocol(), message) == written


def test_both_text_and_bytes_is_daphne_s_error(fast):
    with pytest.raises(ValueError, match="both bytes and text"):
        fast(_open_protocol(), {"type": "websocket.send", "text": "a", "bytes": b"b"})


def test_a_disconnected_or_closing_connection_is_daphne_s_to_handle(fast):
    gone = {"disconnected": 1}
    assert fast(_open_protocol(), {"type": "websocket.send", "text": "a"}, gone) == b""
    closing = _open_protocol()
    closing.state = Autobahn.STATE_CLOSING
    with pytest.raises(Exception, match="closed protocol"):  # autobahn's Disconnected, as before
        fast(closing, {"type": "websocket.send", "text": "a"})


def test_a_compressed_or_fragmenting_connection_is_autobahn_s_to_frame(fast):
    compressed = _open_protocol()
    compressed._perMessageCompress = PerMessageDeflate(
        is_server=True,
        server_no_context_takeover=False,
        client_no_context_takeover=False,
        server_max_window_bits=15,
        client_max_window_bits=15,
        mem_level=8,
    )
    assert not websocket_send.plain(compressed)
    written = fast(compressed, {"type": "websocket.send", "text": "a" * 200})
    assert written[0] == 0xC1  # FIN, RSV1 (compressed), text
    fragmenting = _open_protocol(autoFragmentSize=100)
    assert not websocket_send.plain(fragmenting)
    written = fast(fragmenting, {"type": "websocket.send", "text": "b" * 150})
    assert written[:2] == b"\x01\x64"  # a first fragment of 100 bytes, not final


def test_a_frame_over_the_payload_limit_is_refused_as_autobahn_refuses_it(fast):
    from autobahn.exception import PayloadExceededError

    protocol = _open_protocol()
    with pytest.raises(PayloadExceededError):
        fast(protocol, {"type": "websocket.send", "text": "x" * (2**20 + 1)})
    assert protocol.transport.value() == b""
