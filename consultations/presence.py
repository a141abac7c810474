"""Who has an open WebSocket right now, across every server process.

The chat consumer (a higher app) reports its sockets here; the billing tick (this app) reads it
to notice sockets that vanished without a goodbye: a crashed or killed server process.

Store
-----
* services mode (Redis): one sorted set per user, `<prefix>:presence:<user id>`, member = socket
  id, score = the unix time the socket stops counting (`now + WS_PRESENCE_TTL_SECONDS`, pushed on
  by every heartbeat). A user is online while a member's score is in the future. The set itself
  lives `WS_PRESENCE_TTL_SECONDS + DISCONNECT_TIMEOUT_SECONDS` past the last write so that the
  sweep can still tell "its sockets expired" (a crash) from "never had one" (a REST-only user).
* embedded mode (one process, local-memory cache): the same structure in a dict.

`sweep_presence` is what the billing task calls each tick: it records the crashed sockets'
departure (`record_presence(online=False)`) and repairs the rare lost "back online", then
announces `presence` to the other participant. Users who never had a socket are left alone: the
store cannot tell them from REST-only clients and tools, and the contract's rule is about
sockets that went away.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone

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


def _uses_redis() -> bool:
    return "django_redis" in settings.CACHES["default"]["BACKEND"]


def _key(user_id) -> str:
    return f"{settings.KEY_PREFIX}:presence:{user_id}"


# --- Redis ------------------------------------------------------------------------------------


def _redis():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _redis_open(user_id, socket_id: str, now: float) -> Change:
    key = _key(user_id)
    pipe = _redis().pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zcard(key)
    pipe.zadd(key, {socket_id: now + _ttl()})
    pipe.expire(key, _key_ttl())
    _, before, _, _ = pipe.execute()
    return Change(became_online=before == 0)


def _redis_beat(user_id, socket_id: str, now: float) -> None:
    key = _key(user_id)
    pipe = _redis().pipeline(transaction=True)
    pipe.zadd(key, {socket_id: now + _ttl()})
    pipe.expire(key, _key_ttl())
    pipe.execute()


def _redis_close(user_id, socket_id: str, now: float) -> Change:
    key = _key(user_id)
    pipe = _redis().pipeline(transaction=True)
    pipe.zrem(key, socket_id)
    pipe.zcount(key, f"({now}", "+inf")
    removed, live = pipe.execute()
    return Change(became_offline=bool(removed) and live == 0)


# --- One process (embedded) --------------------------------------------------------------------

_local: dict[str, dict[str, float]] = {}
_local_guard = threading.Lock()


def _local_live(sockets: dict[str, float], now: float) -> int:
    return sum(1 for expiry in sockets.values() if expiry > now)


def _local_open(user_id, socket_id: str, now: float) -> Change:
    with _local_guard:
        sockets = _local.setdefault(str(user_id), {})
        before = _local_live(sockets, now)
        sockets[socket_id] = now + _ttl()
    return Change(became_online=before == 0)


def _local_beat(user_id, socket_id: str, now: float) -> None:
    with _local_guard:
        _local.setdefault(str(user_id), {})[socket_id] = now + _ttl()


def _local_close(user_id, socket_id: str, now: float) -> Change:
    with _local_guard:
        sockets = _local.get(str(user_id), {})
        removed = sockets.pop(socket_id, None) is not None
        live = _local_live(sockets, now)
        if not sockets:
            _local.pop(str(user_id), None)
    return Change(became_offline=removed and live == 0)


def _local_state(user_id, now: float) -> tuple[str, float | None]:
    with _local_guard:
        sockets = dict(_local.get(str(user_id), {}))
    if _local_live(sockets, now):
        return State.ONLINE, None
    if sockets:
        return State.OFFLINE, max(sockets.values())
    return State.UNKNOWN, None


# --- The interface ----------------------------------------------------------------------------


def socket_opened(user_id, socket_id: str, *, now: float | None = None) -> Change:
    """Counts a new socket of `user_id`; `became_online` if no other socket of theirs lives."""
    now = time.time() if now is None else now
    return (_redis_open if _uses_redis() else _local_open)(user_id, socket_id, now)


def socket_heartbeat(user_id, socket_id: str, *, now: float | None = None) -> None:
    """Keeps a socket counted for another `WS_PRESENCE_TTL_SECONDS`."""
    now = time.time() if now is None else now
    (_redis_beat if _uses_redis() else _local_beat)(user_id, socket_id, now)


def socket_closed(user_id, socket_id: str, *, now: float | None = None) -> Change:
    """Forgets a socket; `became_offline` if it was the user's last live one."""
    now = time.time() if now is None else now
    return (_redis_close if _uses_redis() else _local_close)(user_id, socket_id, now)


def presence_state(user_id, *, now: float | None = None) -> tuple[str, float | None]:
    """(`State`, for OFFLINE the unix time the last socket stopped counting, else None)."""
    return presence_states([user_id], now=now)[user_id]


def is_online(user_id) -> bool:
    return presence_state(user_id)[0] == State.ONLINE


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


def presence_states(user_ids: list, *, now: float | None = None) -> dict:
    """`presence_state` of many users at once (one Redis round trip)."""
    now = time.time() if now is None else now
    if not _uses_redis():
        return {user_id: _local_state(user_id, now) for user_id in user_ids}
    pipe = _redis().pipeline(transaction=False)
    for user_id in user_ids:
        pipe.zcount(_key(user_id), f"({now}", "+inf")
        pipe.zrange(_key(user_id), -1, -1, withscores=True)
    answers = pipe.execute()
    states = {}
    for index, user_id in enumerate(user_ids):
        live, last = answers[2 * index], answers[2 * index + 1]
        if live:
            states[user_id] = (State.ONLINE, None)
        elif last:
            states[user_id] = (State.OFFLINE, float(last[0][1]))
        else:
            states[user_id] = (State.UNKNOWN, None)
    return states


def sweep_presence(*, now: datetime | None = None, batch_size: int = 500) -> int:
    """Brings the open consultations' presence fields in line with the socket store.

    A participant recorded as there whose sockets all expired (their server process died without
    closing them) is recorded as gone from their last heartbeat (the expiry less the TTL); one
    recorded as gone who has a live socket again is recorded as back. Announces `presence` to
    the other participant for each change and returns how many there were. Reads without locks;
    each `record_presence` is its own short transaction with the row locked, and is a no-op if a
    socket got there first.
    """
    from consultations.services import record_presence

    now = now or timezone.now()
    wall = now.timestamp()
    changes = 0
    rows = list(
        Consultation.objects.filter(status__in=OPEN_STATUSES).values_list(
            "client_id", "client_absent_since", "consultant__user_id", "consultant_absent_since"
        )
    )
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        sides = [(c, ca) for c, ca, _, _ in batch] + [(u, ua) for _, _, u, ua in batch]
        states = presence_states([user_id for user_id, _ in sides], now=wall)
        for user_id, absent_since in sides:
            state, expired_at = states[user_id]
            if absent_since is None and state == State.OFFLINE and expired_at is not None:
                last_seen = datetime.fromtimestamp(expired_at - _ttl(), tz=UTC)
                consultation = record_presence(
                    user_id=user_id, online=False, at=min(last_seen, now)
                )
                announce_presence(consultation, user_id=user_id, is_online=False)
                changes += 1
            elif absent_since is not None and state == State.ONLINE:
                consultation = record_presence(user_id=user_id, online=True, at=now)
                announce_presence(consultation, user_id=user_id, is_online=True)
                changes += 1
    return changes


def sweep_presence_safely() -> None:
    """`sweep_presence` for the billing tick (the Celery task and the embedded ticker), before
    it bills: a failing presence store is logged and the tick bills anyway."""
    try:
        sweep_presence()
    except Exception:  # noqa: BLE001 - billing must not stop for the presence store
        logger.exception("presence sweep failed; billing goes on")
