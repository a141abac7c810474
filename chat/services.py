"""Every write of the chat app: storing messages, moving their status, counting sockets.

Each function is one short transaction (or none), checks membership and state itself, and
announces its frames after commit through `config.events.announce`:

* `message` and `message_status` go to the consultation's room (`consultation.<id>`): the
  sockets that joined it;
* `presence` goes to the other participant's sockets (`user.<id>`), joined or not.

Statuses only move forward: each change is an UPDATE of rows locked in a lower state, so two
devices marking the same messages at once announce each id once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat.models import Message, MessageStatus
from chat.selectors import Session, session_for
from chat.serializers import message_data
from config.errors import Invalid, InvalidState, NotFound
from config.events import announce, consultation_group
from consultations import presence
from consultations.errors import ChannelNotOffered
from consultations.models import Consultation, Status


@dataclass
class Sent:
    message: Message
    created: bool  # False: a resend of a stored message (same client_msg_id)
    data: dict  # the `message` object, serialized once for the answer and the broadcast


def send_message(
    *,
    session_id: uuid.UUID,
    sender_id: uuid.UUID,
    client_msg_id: uuid.UUID,
    body: str,
    reply_to_id: uuid.UUID | None = None,
    broadcast: bool = True,
) -> Sent:
    """Stores a message of a participant in an active consultation and announces it.

    A resend (same sender, session and `client_msg_id`) returns the first message whatever its
    body and whatever the consultation's state now, and announces nothing again. Otherwise:
    `not_found` unless the sender is a participant, `invalid_state` unless the consultation is
    active, `invalid` if `reply_to` is not a message of the same consultation. Announces
    `message {message}` to the room once the row is committed; with `broadcast=False` the
    caller does it (the consumer, from its event loop: no thread hop for the send).

    The hot path of the chat: one query checks membership, state and a resend at once, then
    one INSERT in its own (autocommit) transaction; the unique constraint settles a race of
    two resends.
    """
    first = Message.objects.filter(
        consultation_id=OuterRef("id"), sender_id=sender_id, client_msg_id=client_msg_id
    ).values("id")[:1]
    found = (
        Consultation.objects.filter(id=session_id)
        .filter(Q(client_id=sender_id) | Q(consultant__user_id=sender_id))
        .annotate(first_id=Subquery(first))
        .values_list("status", "first_id")
        .first()
    )
    if found is None:
        raise NotFound("No such session, or you are not part of it.")
    status, first_id = found
    if first_id is not None:
        return _resent(first_id)
    if status != Status.ACTIVE:
        raise InvalidState(f"Messages need an active consultation; it is {status}.")
    if reply_to_id is not None and not (
        Message.objects.filter(id=reply_to_id, consultation_id=session_id).exists()
    ):
        raise Invalid("reply_to: no such message in this consultation.")
    try:
        message = Message.objects.create(
            consultation_id=session_id,
            sender_id=sender_id,
            client_msg_id=client_msg_id,
            body=body,
            reply_to_id=reply_to_id,
            created_at=timezone.now(),
        )
    except IntegrityError:
        # A concurrent resend won the unique constraint: the first message is the answer.
        stored = _stored(session_id, sender_id, client_msg_id)
        if stored is None:
            raise
        return _resent(stored.id)
    data = message_data(message)
    if broadcast:
        announce(consultation_group(session_id), message_frame(data))
    return Sent(message, created=True, data=data)


def message_frame(data: dict) -> dict:
    return {"type": "message", "message": data}


def _resent(message_id) -> Sent:
    message = Message.objects.get(id=message_id)
    return Sent(message, created=False, data=message_data(message))


def _stored(session_id, sender_id, client_msg_id) -> Message | None:
    return Message.objects.filter(
        consultation_id=session_id, sender_id=sender_id, client_msg_id=client_msg_id
    ).first()


def mark_delivered(*, session_id: uuid.UUID, user_id: uuid.UUID, message_ids: list) -> list[str]:
    """The recipient `user_id` has received these messages: those still `sent` become
    `delivered`. Ids of other sessions, of the user's own messages or already further along are
    ignored. Announces one `message_status` with the ids that moved; returns them."""
    session_for(user_id=user_id, session_id=session_id)
    return _advance(
        Q(id__in=message_ids, status=MessageStatus.SENT),
        session_id=session_id,
        user_id=user_id,
        status=MessageStatus.DELIVERED,
    )


def mark_seen(*, session_id: uuid.UUID, user_id: uuid.UUID) -> list[str]:
    """Every message to `user_id` in the session that is not `seen` yet becomes `seen` (and
    `delivered` if it was not). Announces one `message_status` with all their ids."""
    session_for(user_id=user_id, session_id=session_id)
    return _advance(
        Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED]),
        session_id=session_id,
        user_id=user_id,
        status=MessageStatus.SEEN,
    )


def _advance(which: Q, *, session_id, user_id, status: str) -> list[str]:
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Locked, then updated by id: a concurrent mark waits, re-reads the status and finds
        # nothing left to move, so no id is announced twice.
        ids = list(
            Message.objects.select_for_update()
            .filter(which, consultation_id=session_id)
            .exclude(sender_id=user_id)
            .order_by("created_at", "id")
            .values_list("id", flat=True)
        )
        if not ids:
            return []
        changes: dict = {"status": status, "delivered_at": Coalesce("delivered_at", now)}
        if status == MessageStatus.SEEN:
            changes["seen_at"] = now
        Message.objects.filter(id__in=ids).update(**changes)
        message_ids = [str(i) for i in ids]
        announce(
            consultation_group(session_id),
            {
                "type": "message_status",
                "session_id": str(session_id),
                "message_ids": message_ids,
                "status": status,
            },
        )
    return message_ids


def check_call(*, session_id: uuid.UUID, user_id: uuid.UUID) -> Session:
    """A call frame may be relayed: `not_found` unless a participant, `channel_not_offered` for
    a chat consultation, `invalid_state` unless active. Writes nothing."""
    session = session_for(user_id=user_id, session_id=session_id)
    if session.channel not in ("voice", "video"):
        raise ChannelNotOffered("This is a chat consultation: no calls.", status=409)
    if not session.is_active:
        raise InvalidState(f"Calls need an active consultation; it is {session.status}.")
    return session


# --- Presence ---------------------------------------------------------------------------------


def socket_connected(*, user_id: uuid.UUID, socket_id: str) -> None:
    """Counts the socket; on the user's first live one, records them back in their open
    consultation (the billing engine stops pausing) and tells the other participant."""
    if presence.socket_opened(user_id, socket_id).became_online:
        _record(user_id, online=True)


def socket_alive(*, user_id: uuid.UUID, socket_id: str) -> None:
    """The socket's heartbeat: it keeps counting for another `WS_PRESENCE_TTL_SECONDS`."""
    presence.socket_heartbeat(user_id, socket_id)


def sockets_alive(*, sockets: list[tuple[uuid.UUID, str]]) -> None:
    """`socket_alive` for every live socket of a server process, in one round trip."""
    presence.sockets_heartbeat(sockets)


def socket_disconnected(*, user_id: uuid.UUID, socket_id: str) -> None:
    """Forgets the socket; when it was the user's last, records them gone (the billing engine
    starts the grace period) and tells the other participant."""
    if presence.socket_closed(user_id, socket_id).became_offline:
        _record(user_id, online=False)
        # A socket of theirs may have opened on another process in between and recorded them
        # back before us: if so, put it right now (the billing tick's sweep would too).
        if presence.is_online(user_id):
            _record(user_id, online=True)


def _record(user_id, *, online: bool) -> None:
    from consultations.services import record_presence

    consultation = record_presence(user_id=user_id, online=online)
    presence.announce_presence(consultation, user_id=user_id, is_online=online)
