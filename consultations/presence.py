"""Who has an open WebSocket right now, across every server process, and since when not.

The chat consumer (a higher app) reports its sockets here; the billing engine (this app) reads
it to notice participants who are not there: sockets that vanished without a goodbye (a crashed
server, a lost network) and participants who never connected at all.

Store
-----
* services mode (Redis): one sorted set per user, `<prefix>:presence:<user id>`, member = socket
  id, score = the time its last heartbeat arrived plus `WS_PRESENCE_TTL_SECONDS`. Every write
  and read runs as a Lua script that takes the time from the Redis server (`TIME`), so every
  daphne process agrees on it whatever its own clock says. A user is online while a member's
  score is in the future. The set itself lives `WS_PRESENCE_TTL_SECONDS +
  DISCONNECT_TIMEOUT_SECONDS` past the last write so that the sweep can still tell "its sockets
  went quiet" (a crash) from "never had one".
* embedded mode (one process, local-memory cache): the same structure in a dict, on this
  process's clock.

The rules (CONTRACT.md "Billing")
---------------------------------
* A socket beats every `heartbeat_seconds()` (at most half the presence grace), so a live one
  is never quieter than that. A participant whose sockets have all been quiet for longer than
  `quiet_seconds()` (the grace) is gone from their last heartbeat, whenever somebody notices:
  the sweep records them absent at that heartbeat (converted to the database's clock by its
  age), so no second past the grace is billed because a server noticed late.
* A participant with no live socket when the consultation is accepted is absent from that
  moment (`services.accept_consultation` asks `connected_at_acceptance`): a consultant who
  accepted over REST and never connected is paused after the grace and force-ended after
  `DISCONNECT_TIMEOUT_SECONDS`.
* `sweep_presence` runs before every billing tick, before the sweep that ends consultations due
  to end (for their participants) and before a participant's `end`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from config import clock
from config.events import announce, user_group
from consultations.models import OPEN_STATUSES, Consultation

logger = logging.getLogger(__name__)


class State:
    ONLINE = "online"
    OFFLINE = "offline"  # had sockets, every one expired or closed
    UNKNOWN = "unknown"  # nothing recorded (never connected, or long gone)


@dataclass
class Change:
    """What a socket opening or closing did to its user's presence."""

    became_online: bool = False
    became_offline: bool = False


def _ttl() -> int:
    return settings.WS_PRESENCE_TTL_SECONDS


def _key_ttl() -> int:
    return _ttl() + settings.DISCONNECT_TIMEOUT_SECONDS + 60


def heartbeat_seconds() -> float:
    """How often a socket tells the store it lives: a third of the TTL, and at most half the
    presence grace (so a live socket is never mistaken for a gone one), at least a second."""
    return max(1.0, min(_ttl() / 3, settings.PRESENCE_GRACE_SECONDS / 2))


def quiet_seconds() -> float:
    """A participant whose sockets have all been quiet this long is gone from their last
    heartbeat: the grace, or two heartbeats if the grace is shorter than that."""
    return max(float(settings.PRESENCE_GRACE_SECONDS), 2 * heartbeat_seconds())


def _uses_redis() -> bool:
    return "django_redis" in settings.CACHES["default"]["BACKEND"]


def _key(user_id) -> str:
    return f"{settings.KEY_PREFIX}:presence:{user_id}"


# --- Redis (every script reads the server's clock unless the caller passes `now`) ----------------

_NOW = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
else
  now = tonumber(ARGV[1])
end
"""

# KEYS[1] = the user's set; ARGV = now, socket id, ttl, key ttl. Returns the live count before.
_OPEN = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], string.format('%.6f', now + tonumber(ARGV[3])), ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return before
"""
)

_BEAT = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], string.format('%.6f', now + tonumber(ARGV[3])), ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
)

# Returns {removed, live sockets left}.
_CLOSE = (
    _NOW
    + """
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
local live = redis.call('ZCOUNT', KEYS[1], '(' .. string.format('%.6f', now), '+inf')
return {removed, live}
"""
)

# KEYS = users' sets. Returns the store's now (as a string) then, per user, the live count and
# the latest score ('' when there is none).
_STATES = (
    _NOW
    + """
local out = {string.format('%.6f', now)}
for i, key in ipairs(KEYS) do
  out[#out + 1] = redis.call('ZCOUNT', key, '(' .. string.format('%.6f', now), '+inf')
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  out[#out + 1] = last[2] or ''
end
return out
"""
)


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _script(source: str):
    return _redis().register_script(source)


def _arg(now: float | None) -> str:
    return "" if now is None else repr(float(now))


def _redis_open(user_id, socket_id: str, now: float | None) -> Change:
    before = _script(_OPEN)(keys=[_key(user_id)], args=[_arg(now), socket_id, _ttl(), _key_ttl()])
    return Change(became_online=int(before) == 0)


def _redis_beat(user_id, socket_id: str, now: float | None) -> None:
    _script(_BEAT)(keys=[_key(user_id)], args=[_arg(now), socket_id, _ttl(), _key_ttl()])


def _redis_close(user_id, socket_id: str, now: float | None) -> Change:
    removed, live = _script(_CLOSE)(keys=[_key(user_id)], args=[_arg(now), socket_id])
    return Change(became_offline=bool(removed) and int(live) == 0)


def _redis_states(
    user_ids: list, now: float | None
) -> tuple[float, list[tuple[int, float | None]]]:
    answer = _script(_STATES)(keys=[_key(u) for u in user_ids], args=[_arg(now)])
    store_now = float(answer[0])
    pairs = []
    for index in range(len(user_ids)):
        live, last = answer[1 + 2 * index], answer[2 + 2 * index]
        pairs.append((int(live), float(last) if last not in (b"", "") else None))
    return store_now, pairs


# --- One process (embedded) --------------------------------------------------------------------

_local: dict[str, dict[str, float]] = {}
_local_guard = threading.Lock()


def _local_live(sockets: dict[str, float], now: float) -> int:
    return sum(1 for expiry in sockets.values() if expiry > now)


def _local_open(user_id, socket_id: str, now: float | None) -> Change:
    now = time.time() if now is None else now
    with _local_guard:
        sockets = _local.setdefault(str(user_id), {})
        before = _local_live(sockets, now)
        sockets[socket_id] = now + _ttl()
    return Change(became_online=before == 0)


def _local_beat(user_id, socket_id: str, now: float | None) -> None:
    now = time.time() if now is None else now
    with _local_guard:
        _local.setdefault(str(user_id), {})[socket_id] = now + _ttl()


def _local_close(user_id, socket_id: str, now: float | None) -> Change:
    now = time.time() if now is None else now
    with _local_guard:
        sockets = _local.get(str(user_id), {})
        removed = sockets.pop(socket_id, None) is not None
        live = _local_live(sockets, now)
        if not sockets:
            _local.pop(str(user_id), None)
    return Change(became_offline=removed and live == 0)


def _local_states(
    user_ids: list, now: float | None
) -> tuple[float, list[tuple[int, float | None]]]:
    now = time.time() if now is None else now
    pairs = []
    with _local_guard:
        for user_id in user_ids:
            sockets = dict(_local.get(str(user_id), {}))
            pairs.append((_local_live(sockets, now), max(sockets.values()) if sockets else None))
    return now, pairs


# --- The interface ----------------------------------------------------------------------------


def socket_opened(user_id, socket_id: str, *, now: float | None = None) -> Change:
    """Counts a new socket of `user_id`; `became_online` if no other socket of theirs lives.
    `now` (unix seconds) is for tests; otherwise the store's own clock."""
    return (_redis_open if _uses_redis() else _local_open)(user_id, socket_id, now)


def socket_heartbeat(user_id, socket_id: str, *, now: float | None = None) -> None:
    """Keeps a socket counted for another `WS_PRESENCE_TTL_SECONDS`."""
    (_redis_beat if _uses_redis() else _local_beat)(user_id, socket_id, now)


def sockets_heartbeat(sockets: Iterable[tuple[object, str]]) -> None:
    """`socket_heartbeat` for many `(user id, socket id)` at once: one round trip to Redis (a
    pipeline of the same script) for every live socket of a server process."""
    sockets = list(sockets)
    if not sockets:
        return
    if not _uses_redis():
        for user_id, socket_id in sockets:
            _local_beat(user_id, socket_id, None)
        return
    client = _redis()
    beat = client.register_script(_BEAT)
    pipe = client.pipeline(transaction=False)
    for user_id, socket_id in sockets:
        beat(keys=[_key(user_id)], args=["", socket_id, _ttl(), _key_ttl()], client=pipe)
    pipe.execute()


def socket_closed(user_id, socket_id: str, *, now: float | None = None) -> Change:
    """Forgets a socket; `became_offline` if it was the user's last live one."""
    return (_redis_close if _uses_redis() else _local_close)(user_id, socket_id, now)


@dataclass(frozen=True)
class Seen:
    """One user's presence as the store sees it."""

    state: str
    quiet_for: float | None  # seconds since their last heartbeat (None: no socket recorded)


def seen(user_ids: Iterable, *, now: float | None = None) -> dict:
    """`Seen` for each of `user_ids`, in one round trip to the store."""
    user_ids = list(user_ids)
    if not user_ids:
        return {}
    store_now, pairs = (_redis_states if _uses_redis() else _local_states)(user_ids, now)
    found = {}
    for user_id, (live, last_score) in zip(user_ids, pairs, strict=True):
        if last_score is None:
            found[user_id] = Seen(State.UNKNOWN, None)
        else:
            quiet = max(0.0, store_now - (last_score - _ttl()))
            found[user_id] = Seen(State.ONLINE if live else State.OFFLINE, quiet)
    return found


def presence_state(user_id, *, now: float | None = None) -> tuple[str, float | None]:
    """(`State`, for OFFLINE the store-clock time the last socket stopped counting, else
    None)."""
    store_now, [(live, last)] = (_redis_states if _uses_redis() else _local_states)([user_id], now)
    if live:
        return State.ONLINE, None
    if last is not None:
        return State.OFFLINE, last
    return State.UNKNOWN, None


def is_online(user_id) -> bool:
    return presence_state(user_id)[0] == State.ONLINE


def connected_at_acceptance(user_ids: Iterable) -> set:
    """The users among `user_ids` with a socket that has beaten within `quiet_seconds()`: those
    who are there when a consultation is accepted (the others are absent from that moment)."""
    quiet = quiet_seconds()
    return {
        user_id
        for user_id, s in seen(user_ids).items()
        if s.quiet_for is not None and s.quiet_for <= quiet
    }


def reset() -> None:
    """Forgets every local record (tests of the embedded store)."""
    with _local_guard:
        _local.clear()


def other_participant_id(consultation: Consultation, user_id) -> object:
    if str(consultation.client_id) == str(user_id):
        return consultation.consultant.user_id
    return consultation.client_id


def announce_presence(consultation: Consultation | None, *, user_id, is_online: bool) -> None:
    """`presence {user_id, is_online}` to the other participant of an open consultation."""
    if consultation is None or consultation.status not in OPEN_STATUSES:
        return
    other = other_participant_id(consultation, user_id)
    announce(
        user_group(other), {"type": "presence", "user_id": str(user_id), "is_online": is_online}
    )


def sweep_presence(
    *,
    now: datetime | None = None,
    user_ids: Iterable | None = None,
    store_now: float | None = None,
    batch_size: int = 500,
) -> int:
    """Brings the open consultations' presence fields in line with the socket store.

    A participant recorded as there whose sockets have all been quiet for longer than
    `quiet_seconds()` (their server died, their network went) is recorded as gone from their
    last heartbeat: `now` (the database's clock) less how long they have been quiet (the
    store's clock), so neither clock needs to agree with the other. One recorded as gone who
    has a socket beating again is recorded as back at `now`. Users with no socket recorded at
    all are left alone (acceptance decided about them). `user_ids` narrows the sweep to those
    users' open consultations. Announces `presence` to the other participant for each change
    and returns how many there were. Reads without locks; each `record_presence` is its own
    short transaction with the row locked, and is a no-op if a socket got there first.
    """
    from consultations.services import record_presence

    now = now or clock.now()
    quiet = quiet_seconds()
    changes = 0
    rows = Consultation.objects.filter(status__in=OPEN_STATUSES)
    if user_ids is not None:
        user_ids = list(user_ids)
        rows = rows.filter(Q(client_id__in=user_ids) | Q(consultant__user_id__in=user_ids))
    parties = list(
        rows.values_list(
            "client_id", "client_absent_since", "consultant__user_id", "consultant_absent_since"
        )
    )
    for start in range(0, len(parties), batch_size):
        batch = parties[start : start + batch_size]
        sides = [(c, ca) for c, ca, _, _ in batch] + [(u, ua) for _, _, u, ua in batch]
        found = seen([user_id for user_id, _ in sides], now=store_now)
        for user_id, absent_since in sides:
            quiet_for = found[user_id].quiet_for
            if quiet_for is None:
                continue
            if absent_since is None and quiet_for > quiet:
                last_seen = now - timedelta(seconds=quiet_for)
                consultation = record_presence(user_id=user_id, online=False, at=last_seen)
                announce_presence(consultation, user_id=user_id, is_online=False)
                changes += 1
            elif absent_since is not None and quiet_for <= quiet:
                consultation = record_presence(user_id=user_id, online=True, at=now)
                announce_presence(consultation, user_id=user_id, is_online=True)
                changes += 1
    return changes


def sweep_presence_safely(**kwargs) -> None:
    """`sweep_presence` before billing: a failing presence store is logged and billing goes on
    (with what the database already knows)."""
    try:
        sweep_presence(**kwargs)
    except Exception:  # noqa: BLE001 - billing must not stop for the presence store
        logger.exception("presence sweep failed; billing goes on")
