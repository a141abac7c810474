"""daphne, on uvloop's event loop: `python -m config.serve` takes daphne's own arguments.

daphne runs Twisted's asyncio reactor on an event loop of the standard library. Every frame a
socket writes costs that loop a selector registration and its removal (Twisted waits for the
socket to be writable before it writes), and every event a task step and a handle in Python:
on the chat's path, a third of the process's time (bench/CHAT.md). uvloop does the same work
in C (libuv), under the same reactor, the same daphne and the same application.

The garbage collector is set up as a Celery worker's is (`config.garbage`), once daphne has
imported the application: a chat message makes hundreds of short-lived objects, and at Python's
default a young collection ran every 700 of them, walking the sockets' own objects each time.

The reactor is installed here, on a uvloop loop, before daphne is imported: daphne then finds an
asyncio reactor in place and keeps it (daphne/server.py). `ASGI_EVENT_LOOP=asyncio` keeps the
standard loop (a comparison, or a platform without uvloop).
"""

from __future__ import annotations

import os
import sys

LOOPS = ("uvloop", "asyncio")


def install_reactor(loop_name: str) -> None:
    """Twisted's asyncio reactor on a new `loop_name` event loop (before daphne is imported)."""
    if loop_name not in LOOPS:
        raise SystemExit(f"ASGI_EVENT_LOOP={loop_name!r}: one of {', '.join(LOOPS)}")
    if loop_name == "asyncio":
        return  # daphne installs its own
    import uvloop
    from twisted.internet import asyncioreactor

    asyncioreactor.install(uvloop.new_event_loop())


def prepare(loop_name: str) -> None:
    """This process made ready for daphne: the reactor on `loop_name`'s loop, and the collector
    tuned once the reactor runs (daphne has imported the application by then; no connection
    has been accepted)."""
    install_reactor(loop_name)
    import daphne.server  # noqa: F401 - installs the asyncio reactor if none is yet
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
