"""Login lockout, counted per account in the shared cache (Redis in the services mode).

LOGIN_MAX_FAILURES failures for one account within LOGIN_LOCKOUT_SECONDS lock it for
LOGIN_LOCKOUT_SECONDS: the failure that reaches the limit still answers 401, every attempt
after it answers 423 until the lock ends. Failures are wrong passwords and wrong one-time codes,
wherever they are given (API login, the admin's login, `mfa/disable`, a second `mfa/setup`).

The counter's key (`key_for`) is the user when the email belongs to one, so every spelling
that reaches an account shares its counter; an unknown email is counted under its normalised
form, like a known one, so the answers never tell whether an account exists.

An attempt is counted as a failure *before* the password is checked and forgiven afterwards
if it was not one (`Attempt.succeeded`, `Attempt.not_a_failure`). So a burst of concurrent
guesses cannot slip past the limit while the first ones are still hashing: of N concurrent
wrong attempts, exactly LOGIN_MAX_FAILURES are checked and the rest answer 423.

Counting is atomic across processes: `cache.add` creates a counter only if it is missing and
`cache.incr` is atomic in Redis. Expiry is checked against the clock in Python as well as by the
cache's TTL, so the rules follow `timezone.now()` (and `time_machine` in tests) exactly.

Cache keys: `login:window:<h>` holds when the current counting window began; its failures are
counted under `login:failures:<h>:<window start>`, so a new window starts from zero without
resetting a counter in place; `login:locked:<h>` holds the end of the lock.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)


class AccountLocked(Exception):
    def __init__(self, until: datetime):
        super().__init__(f"locked until {until.isoformat()}")
        self.until = until


def key_for(*, user=None, email: str = "") -> str:
    """The counter of an account: its user's id when there is one, else the email (already
    normalised by the caller, `accounts.models.normalize_email`)."""
    if user is not None:
        return f"user:{user.pk}"
    return f"email:{email}"


def _key(kind: str, key: str) -> str:
    # Hashed: emails may hold characters and lengths some cache backends refuse in keys.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"login:{kind}:{digest}"


def locked_until(key: str, *, now: datetime | None = None) -> datetime | None:
    """When the lock on this account ends, or None if it is not locked."""
    now = now or timezone.now()
    until = cache.get(_key("locked", key))
    if until is None or until <= now.timestamp():
        return None
    return datetime.fromtimestamp(until, tz=UTC)


def _lock(key: str, *, now: datetime) -> datetime:
    window = settings.LOGIN_LOCKOUT_SECONDS
    until = now.timestamp() + window
    cache.set(_key("locked", key), until, timeout=window + 1)
    # The counting window is left alone: it began at the first failure, so it is over by the
    # time the lock ends and counting starts afresh. (Deleting it here would let an attempt
    # that passed the lock check a moment earlier start a new window, and one more guess.)
    return datetime.fromtimestamp(until, tz=UTC)


def _counter_key(key: str, *, now: datetime) -> str:
    window = settings.LOGIN_LOCKOUT_SECONDS
    timestamp = now.timestamp()
    window_key = _key("window", key)
    cache.add(window_key, timestamp, timeout=window)
    started = cache.get(window_key)
    if started is None or timestamp - started >= window:
        # The window is over: start a new one (with its own counter, so no reset race).
        started = timestamp
        cache.set(window_key, started, timeout=window)
    return f"{_key('failures', key)}:{int(started * 1000)}"


def _increment(key: str) -> int:
    timeout = settings.LOGIN_LOCKOUT_SECONDS
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def _decrement(key: str) -> None:
    try:
        cache.decr(key)
    except ValueError:
        pass  # the window ended meanwhile


@dataclass
class Attempt:
    key: str
    now: datetime
    counter_key: str
    failures: int  # in this window, this attempt included
    client_ip: str | None = None

    def failed(self) -> None:
        """It was a failure: the one that reaches the limit locks the account."""
        if self.failures >= settings.LOGIN_MAX_FAILURES:
            until = _lock(self.key, now=self.now)
            # For operators: which account, from where (the key names a user id, or an unknown
            # email address, which is what the guesser typed).
            logger.warning(
                "login locked: %s until %s after %s failures, the last from %s",
                self.key,
                until.isoformat(),
                self.failures,
                self.client_ip or "an unknown address",
            )

    def succeeded(self) -> None:
        """A successful login forgets the failures so far."""
        cache.delete(_key("window", self.key))

    def not_a_failure(self) -> None:
        """Neither (the password was right but a one-time code is still needed): un-count it."""
        _decrement(self.counter_key)


def start_attempt(
    key: str, *, now: datetime | None = None, client_ip: str | None = None
) -> Attempt:
    """Counts an attempt (a password or a one-time code to check) as a failure until told
    otherwise. Raises `AccountLocked` if the account is locked, or if more attempts than the
    limit are already counted (a concurrent burst): such an attempt is refused before any
    password or code is checked."""
    now = now or timezone.now()
    until = locked_until(key, now=now)
    if until is not None:
        raise AccountLocked(until)
    counter_key = _counter_key(key, now=now)
    failures = _increment(counter_key)
    if failures > settings.LOGIN_MAX_FAILURES:
        # The limit is reached by attempts still in flight: refuse this one uncounted. The lock
        # itself is set by the failure that reaches the limit, if it is one.
        _decrement(counter_key)
        until = locked_until(key, now=now)
        if until is None:
            until = datetime.fromtimestamp(now.timestamp() + settings.LOGIN_LOCKOUT_SECONDS, UTC)
        raise AccountLocked(until)
    return Attempt(
        key=key, now=now, counter_key=counter_key, failures=failures, client_ip=client_ip
    )


def record_failure(key: str, *, now: datetime | None = None) -> int:
    """Counts one failure outright; returns the failures in the window. (For callers that have
    no password to check, and for tests.)"""
    attempt = start_attempt(key, now=now)
    attempt.failed()
    return attempt.failures
