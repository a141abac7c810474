"""The platform's one clock for billing: the database server's.

Every process that moves a consultation in time (accepting it, billing it, ending it,
recording a participant gone or back) takes `now` from here. On PostgreSQL that is the server's
`clock_timestamp()`, the same for every worker and every daphne, so a machine whose clock runs
five seconds fast cannot bill seconds that have not happened, and two processes never disagree
about when a consultation started. With SQLite (the embedded mode: one process) it is this
process's clock.

Tests travel in time with `time_machine`, which moves Python's clock, not the database's:
`use_python_clock()` makes this module follow Python's (the test suite does that unless a test
is marked `database_clock`). Production never calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.utils import timezone

_python = False


def now() -> datetime:
    """The current time by the one clock (aware, UTC)."""
    if _python or connection.vendor != "postgresql":
        return timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


@contextmanager
def use_python_clock() -> Iterator[None]:
    """Within the block, `now()` is Python's `timezone.now()` (for tests under time_machine)."""
    global _python
    before, _python = _python, True
    try:
        yield
    finally:
        _python = before
