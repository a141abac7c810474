"""Twisted's asyncio reactor, with its socket writes flushed once a loop pass instead of
registered with the event loop one by one (`python -m config.serve` installs it for daphne).

Twisted writes a socket's bytes when the event loop says the socket can take them: every
`transport.write` registers the socket as a writer (`loop.add_writer`), the next poll reports
it writable, the reactor calls `doWrite` (the `send`), and the socket is unregistered again. A
chat message writes two frames (the sender's `message_ack`, the peer's `message`), each paying a
registration, a poll event and an unregistration (`add_writer` and `remove_writer` alone were
5 % of daphne's CPU at 1,500 msg/s; bench/CHAT.md). A socket on loopback or a LAN is nearly
always writable, so here the sockets written to are noted, and one callback after the current
loop pass calls their `doWrite` at once; only a socket that could not take everything (its
send buffer full: a slow client) is registered with the loop and waits to be writable, as
before. The bytes leave in the same order, a socket's frames of one pass in one `send`, and no
later than before.

Readers (and writers that wait) are registered without `callWithLogger`: Twisted wraps every
socket event in its legacy logging context (a log prefix and a context stack per event, 14-20 %
of daphne's samples on the stack) for `twisted.python.log` messages, which daphne does not use;
an exception that escapes a socket event is logged by the event loop's handler instead.
"""

from __future__ import annotations

import errno

from twisted.internet.asyncioreactor import AsyncioSelectorReactor


class Reactor(AsyncioSelectorReactor):
    def __init__(self, eventloop=None) -> None:
        super().__init__(eventloop)
        self._unflushed: dict = {}  # writers to flush after this loop pass, in order
        self._flushing: dict = {}  # the writers the running flush has not finished yet

    def addReader(self, reader) -> None:
        if reader in self._readers or reader in self._continuousPolling._readers:
            return
        fd = reader.fileno()
        try:
            self._asyncioEventloop.add_reader(fd, self._readOrWrite, reader, True)
            self._readers[reader] = fd
        except OSError as exc:
            self._unregisterFDInAsyncio(fd)
            if exc.errno != errno.EPERM:
                raise
            self._continuousPolling.addReader(reader)  # (a file: epoll refuses it)

    def addWriter(self, writer) -> None:
        if writer in self._unflushed or writer in self._writers:
            return
        if not self._unflushed:
            self._asyncioEventloop.call_soon(self._flush)
        self._unflushed[writer] = None

    def removeWriter(self, writer) -> None:
        self._unflushed.pop(writer, None)
        self._flushing.pop(writer, None)
        super().removeWriter(writer)  # (returns at once when the loop does not watch it)

    def _flush(self) -> None:
        """Each noted writer writes what it can; one that is not done (its `doWrite` did not
        stop writing: the socket took part of the bytes) waits for the loop to report it
        writable."""
        flushing = self._flushing = self._unflushed
        self._unflushed = {}
        for writer in list(flushing):
            if writer not in flushing:
                continue  # it stopped writing meanwhile (its connection lost)
            try:
                self._readOrWrite(writer, False)
            except Exception:  # noqa: BLE001 - a connection's teardown failed: the others still go
                self._log.failure("flushing {writer}", writer=writer)
            if writer in flushing:
                del flushing[writer]
                self._wait_writable(writer)
        self._flushing = {}

    def _wait_writable(self, writer) -> None:
        """Twisted's `addWriter`, without the logging context."""
        if writer in self._writers or writer in self._continuousPolling._writers:
            return
        fd = writer.fileno()
        try:
            self._asyncioEventloop.add_writer(fd, self._readOrWrite, writer, False)
            self._writers[writer] = fd
        except PermissionError:
            self._unregisterFDInAsyncio(fd)
            self._continuousPolling.addWriter(writer)  # (a file: epoll refuses it)
        except BrokenPipeError:
            self._unregisterFDInAsyncio(fd)
        except BaseException:
            self._unregisterFDInAsyncio(fd)
            raise

    def getWriters(self) -> list:
        return [*self._unflushed, *self._flushing, *super().getWriters()]

    def removeAll(self) -> list:
        return [
            *self._removeAll([], [*self._unflushed, *self._flushing]),
            *super().removeAll(),
        ]


def install(eventloop=None) -> Reactor:
    """This reactor on `eventloop`, installed as Twisted's (before daphne is imported)."""
    from twisted.internet.main import installReactor

    reactor = Reactor(eventloop)
    installReactor(reactor)
    return reactor
