"""config.reactor: a socket's writes of one loop pass leave together after it; a socket that
cannot take them all waits for the loop and finishes; nothing is lost, reordered or repeated."""

import asyncio
import socket

import pytest
from twisted.internet.abstract import FileDescriptor

from config.reactor import Reactor


class Pipe(FileDescriptor):
    """One end of a socket pair written through Twisted's own buffering (`FileDescriptor`, as
    a TCP connection is), on the reactor under test."""

    def __init__(self, sock: socket.socket, reactor: Reactor) -> None:
        super().__init__(reactor)  # type: ignore[arg-type] # (it provides IReactorFDSet)
        sock.setblocking(False)
        self.socket = sock
        self.connected = 1
        self.sends = 0

    def fileno(self) -> int:
        return self.socket.fileno()

    def writeSomeData(self, data) -> int:
        self.sends += 1
        try:
            return self.socket.send(data)
        except BlockingIOError:
            return 0


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture
def reactor(loop):
    reactor = Reactor(loop)
    yield reactor
    reactor.removeAll()


@pytest.fixture
def pair(reactor):
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    yield Pipe(ours, reactor), theirs
    ours.close()
    theirs.close()


def one_pass(loop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def received(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        chunks.append(chunk)


def test_the_writes_of_one_pass_leave_together_after_it(loop, reactor, pair):
    pipe, peer = pair
    pipe.write(b"message_ack,")
    pipe.write(b"message")
    assert received(peer) == b""  # not yet: after the pass
    assert reactor.getWriters() == [pipe]
    assert not reactor._writers  # noted, not registered with the loop
    one_pass(loop)
    assert received(peer) == b"message_ack,message"
    assert pipe.sends == 1
    assert reactor.getWriters() == []
    assert not reactor._writers


def test_a_socket_that_cannot_take_it_all_waits_for_the_loop_and_finishes(loop, reactor, pair):
    pipe, peer = pair
    pipe.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    data = bytes(range(256)) * 4096  # 1 MiB
    pipe.write(data)
    one_pass(loop)
    assert reactor._writers == {pipe: pipe.fileno()}  # the rest waits for the loop

    got = bytearray()

    async def drain() -> None:
        while len(got) < len(data):
            got.extend(received(peer))
            await asyncio.sleep(0.001)

    loop.run_until_complete(asyncio.wait_for(drain(), 10))
    assert bytes(got) == data
    assert reactor.getWriters() == []
    assert not reactor._writers


def test_writing_again_while_waiting_appends_in_order(loop, reactor, pair):
    pipe, peer = pair
    pipe.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    first = b"a" * 300_000
    pipe.write(first)
    one_pass(loop)
    assert pipe in reactor._writers
    pipe.write(b"then this")
    got = bytearray()

    async def drain() -> None:
        while not got.endswith(b"then this"):
            got.extend(received(peer))
            await asyncio.sleep(0.001)

    loop.run_until_complete(asyncio.wait_for(drain(), 10))
    assert bytes(got) == first + b"then this"


def test_a_writer_that_stops_before_the_flush_writes_nothing(loop, reactor, pair):
    pipe, peer = pair
    pipe.write(b"never")
    pipe.stopWriting()
    one_pass(loop)
    assert received(peer) == b""
    assert pipe.sends == 0
    assert reactor.getWriters() == []


def test_a_connection_lost_in_its_flush_is_disconnected_once(loop, reactor, pair):
    pipe, peer = pair
    lost = []
    pipe.connectionLost = lambda reason: lost.append(reason)  # type: ignore[method-assign]
    pipe.writeSomeData = lambda data: ConnectionResetError()  # type: ignore[method-assign]
    pipe.write(b"to nobody")
    one_pass(loop)
    assert len(lost) == 1
    assert reactor.getWriters() == []
    assert not reactor._writers


def test_a_failing_teardown_does_not_hold_up_the_other_writers(loop, reactor, pair):
    broken, _ = pair
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    fine = Pipe(ours, reactor)

    def lost(reason):
        raise RuntimeError("a bug in connectionLost")

    broken.connectionLost = lost  # type: ignore[method-assign]
    broken.writeSomeData = lambda data: ConnectionResetError()  # type: ignore[method-assign]
    broken.write(b"to nobody")
    fine.write(b"still delivered")
    one_pass(loop)
    assert received(theirs) == b"still delivered"
    ours.close()
    theirs.close()


def test_readers_are_called_when_their_socket_has_data(loop, reactor, pair):
    pipe, peer = pair
    reads = []
    pipe.doRead = lambda: reads.append(pipe.socket.recv(100))  # type: ignore[method-assign]
    reactor.addReader(pipe)
    peer.send(b"frame")
    loop.run_until_complete(asyncio.sleep(0.05))
    assert reads == [b"frame"]
    reactor.removeReader(pipe)
