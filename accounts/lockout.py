"""Login lockout, counted per email in the shared cache (Redis in the services mode).

LOGIN_MAX_FAILURES failures for one email within LOGIN_LOCKOUT_SECONDS lock it for
LOGIN_LOCKOUT_SECONDS: the failure that reaches the limit still answers 401, every attempt
after it answers 423 until the lock ends. Unknown emails are counted like known ones, so the
answers never tell whether an account exists.

Counting is atomic across processes: `cache.add` creates a counter only if it is missing and
`cache.incr` is atomic in Redis. Expiry is checked against the clock in Python as well as by the
cache's TTL, so the rules follow `timezone.now()` (and `time_machine` in tests) exactly.

Keys: `login:window:<h>` holds when the current counting window began; the failures of that
window are counted under `login:failures:<h>:<window start>`, so a new window starts from zero
without resetting anyone's counter in place; `login:locked:<h>` holds the lock's end.
"""

import hashlib
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone


def _key(kind: str, email: str) -> str:
    # Hashed: emails may hold characters and lengths some cache backends refuse in keys.
    digest = hashlib.sha256(email.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()
    return f"login:{kind}:{digest}"


def locked_until(email: str, *, now: datetime | None = None) -> datetime | None:
    """When the lock on this email ends, or None if it is not locked."""
    now = now or timezone.now()
    until = cache.get(_key("locked", email))
    if until is None or until <= now.timestamp():
        return None
    return datetime.fromtimestamp(until, tz=UTC)


def record_failure(email: str, *, now: datetime | None = None) -> int:
    """Counts one failed attempt; returns the number of failures in the current window and
    locks the email when it reaches LOGIN_MAX_FAILURES."""
    now = now or timezone.now()
    window = settings.LOGIN_LOCKOUT_SECONDS
    timestamp = now.timestamp()
    window_key = _key("window", email)

    cache.add(window_key, timestamp, timeout=window)
    started = cache.get(window_key)
    if started is None or timestamp - started >= window:
        # The window is over: start a new one (its own counter key, so no reset race).
        started = timestamp
        cache.set(window_key, started, timeout=window)

    counter_key = f"{_key('failures', email)}:{int(started * 1000)}"
    cache.add(counter_key, 0, timeout=window)
    try:
        failures = cache.incr(counter_key)
    except ValueError:  # expired between add and incr
        cache.add(counter_key, 1, timeout=window)
        failures = 1

    if failures >= settings.LOGIN_MAX_FAILURES:
        cache.set(_key("locked", email), timestamp + window, timeout=window + 1)
        # The lock has begun; once it ends, counting starts afresh.
        cache.delete_many([window_key, counter_key])
    return failures


def reset(email: str) -> None:
    """A successful login forgets the failures so far."""
    cache.delete(_key("window", email))
