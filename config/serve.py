"""daphne, on uvloop's event loop: `python -m config.serve` takes daphne's own arguments.

daphne runs Twisted's asyncio reactor on the standard library's event loop, whose machinery
(the selector, its registrations, the handles and the ready queue) is Python: Twisted registers
a writer for every frame a socket writes and removes it once written, and every socket event
passes through that machinery. uvloop does the same work in C (libuv), under the same reactor,
the same daphne and the same application. At 1,500 chat messages a second offered to one
daphne, p99 was 108-225 ms on uvloop against 844-874 ms on the standard loop (bench/CHAT.md).

The garbage collector is set up as a Celery worker's is (`config.garbage`), once daphne has
imported the application: a chat message makes hundreds of short-lived objects, a young
collection ran every 700 of them and the older generations' collections walked the sockets'
long-lived objects again: the collector was about 6 % of the process's CPU (`perf`, 100 msg/s).

The reactor (`config.reactor`'s: Twisted's asyncio reactor with a socket's writes of one loop
pass flushed together after it) is installed here, on a uvloop loop, before daphne is imported:
daphne then finds an asyncio reactor in place and keeps it (daphne/server.py).
`ASGI_EVENT_LOOP=asyncio` puts it on the standard loop (a comparison, or a platform without
uvloop).
"""

from __future__ import annotations

import asyncio
import os
import sys

LOOPS = ("uvloop", "asyncio")


def install_reactor(loop_name: str) -> None:
    """Twisted's asyncio reactor (`config.reactor`'s) on a new `loop_name` event loop, before
    daphne is imported."""
    if loop_name not in LOOPS:
        raise SystemExit(f"ASGI_EVENT_LOOP={loop_name!r}: one of {', '.join(LOOPS)}")
    from config import reactor

    if loop_name == "asyncio":
        reactor.install(asyncio.new_event_loop())
    else:
        import uvloop

        reactor.install(uvloop.new_event_loop())


def _plain(value, *args, **kwargs):
    return value


def plain_autobahn_log_arguments() -> None:
    """autobahn's frame paths (`dataReceived` for every frame in, `sendData` for every frame
    out) write the arguments of a debug line, colouring them with click (`hltype`, `hlval`), at
    each call, before the logger finds debug lines are off: 4 % of daphne's CPU at 1,500 chat
    messages a second (bench/CHAT.md). Here those two names of autobahn's WebSocket modules give
    the value itself: a debug line, if one is ever written, is formatted from it then."""
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    for module in (twisted_websocket, protocol):
        module.hltype = module.hlval = _plain  # type: ignore[attr-defined]


def prepare(loop_name: str) -> None:
    """This process made ready for daphne: the reactor on `loop_name`'s loop, autobahn's debug
    lines free when off, text frames out framed and written in one call
    (`config.websocket_send`), frames in unmasked in one XOR (`config.websocket_mask`), and the
    collector tuned once the reactor runs (daphne has imported the application by then; no
    connection has been accepted)."""
    install_reactor(loop_name)
    plain_autobahn_log_arguments()
    # After the reactor: websocket_send imports daphne's server, which keeps the reactor it finds.
    from config import websocket_mask, websocket_send

    websocket_send.install()
    websocket_mask.install()
    from twisted.internet import reactor

    from config.garbage import tune_collector

    reactor.callWhenRunning(tune_collector)


def main() -> None:
    prepare(os.environ.get("ASGI_EVENT_LOOP", "uvloop"))
    from daphne.cli import CommandLineInterface

    sys.argv[0] = "daphne"
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
