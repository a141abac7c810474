"""A real daphne process serving config.asgi on a loopback port, for tests that must go through
the server itself (its HTTP parser, its request class), not only the ASGI application."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def server_env() -> dict[str, str]:
    """The environment of a server that shares this test worker's database (pytest-django's
    test database, by name) and Redis."""
    import pytest
    from django.db import connection

    if "DATABASE_URL" not in os.environ:
        pytest.skip("a second process shares the test database only on PostgreSQL")
    name = connection.settings_dict["NAME"]
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    return dict(
        os.environ, DATABASE_URL=database_url, DEBUG="1", EMBEDDED_TICKER="0", DB_CONN_MAX_AGE="0"
    )


@contextmanager
def daphne(env: dict[str, str], timeout: float = 60, log: Path | None = None) -> Iterator[int]:
    """Runs daphne with `env` until the block ends; yields its port.

    Its stderr (Django's warning for every 4xx, tracebacks) goes to the file `log`, or to a
    temporary file: never to a pipe nobody reads, which fills after 64 KiB of 400s and then
    blocks the server in its next write (a schemathesis run hung there, every request timing
    out)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stderr = open(log, "w+b") if log else tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(port)]
        + ["config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                stderr.seek(0)
                raise RuntimeError(stderr.read().decode(errors="replace")[-2000:])
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stderr.close()
