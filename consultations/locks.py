"""Fast-path locks that turn the common start race away before it reaches the database.

`lock:client:<id>` and `lock:consultant:<id>` are Redis locks (django-redis `cache.lock`) with a
timeout, so a crashed process leaves one behind only until it expires. In the embedded mode the
local-memory cache has no locks; a process-local `threading.Lock` per name does the same job for
the one server process. Neither is the guarantee: the partial unique constraints are.
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache

logger = logging.getLogger(__name__)

LOCK_TIMEOUT_SECONDS = 10

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def client_lock_name(user_id) -> str:
    return f"lock:client:{user_id}"


def consultant_lock_name(consultant_id) -> str:
    return f"lock:consultant:{consultant_id}"


class _LocalLock:
    def __init__(self, name: str):
        with _local_guard:
            self._lock = _local_locks.setdefault(name, threading.Lock())

    def acquire(self, blocking: bool = False) -> bool:
        return self._lock.acquire(blocking=blocking)

    def release(self) -> None:
        self._lock.release()


def _make_lock(name: str):
    if hasattr(cache, "lock"):
        return cache.lock(name, timeout=LOCK_TIMEOUT_SECONDS, blocking_timeout=0)
    return _LocalLock(name)


@contextmanager
def try_lock(name: str) -> Iterator[bool]:
    """Yields True if `name` was free and is now ours (released on exit), False otherwise.

    Never waits: a lock held by someone else means a concurrent start is under way.
    """
    lock = _make_lock(name)
    acquired = bool(lock.acquire(blocking=False))
    try:
        yield acquired
    finally:
        if acquired:
            try:
                lock.release()
            except Exception:  # noqa: BLE001 - expired meanwhile: the timeout already freed it
                logger.info("lock %s expired before it was released", name)
