"""Reads of the chat app: who may use a session, and a session's history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from chat.models import Message
from config.errors import NotFound
from consultations.models import Consultation, Status


@dataclass(frozen=True)
class Session:
    """What the consumer needs to know about a consultation: who is in it and how it runs."""

    id: uuid.UUID
    client_id: uuid.UUID
    consultant_user_id: uuid.UUID
    channel: str
    status: str

    @property
    def is_active(self) -> bool:
        return self.status == Status.ACTIVE


def session_for(*, user_id, session_id) -> Session:
    """The session `session_id` if `user_id` is one of its two participants; `not_found`
    (`NotFound`) otherwise, whether it does not exist or is someone else's."""
    row = (
        Consultation.objects.filter(id=session_id)
        .filter(Q(client_id=user_id) | Q(consultant__user_id=user_id))
        .values_list("id", "client_id", "consultant__user_id", "channel", "status")
        .first()
    )
    if row is None:
        raise NotFound("No such session, or you are not part of it.")
    return Session(*row)


def session_joined(*, user_id, session_id) -> tuple[Session, dict]:
    """`session_for`, with the `consultation` object the `session_joined` answer carries."""
    from consultations.serializers import consultation_frame_data

    session = session_for(user_id=user_id, session_id=session_id)
    consultation = Consultation.objects.select_related("consultant__category", "client").get(
        id=session.id
    )
    return session, consultation_frame_data(consultation, reader_id=user_id)


def visible_consultation(*, user, consultation_id) -> Consultation:
    """The consultation if `user` is a participant or an admin; `not_found` otherwise."""
    found = Consultation.objects.select_related("consultant").filter(id=consultation_id).first()
    if found is None:
        raise NotFound("Not found.")
    if user.is_admin or user.id in (found.client_id, found.consultant.user_id):
        return found
    raise NotFound("Not found.")


def history(*, consultation_id, before: Message | None = None) -> QuerySet[Message]:
    """The consultation's messages, newest first, older than `before` if given (the cursor is
    `(created_at, id)`, so messages of the same instant are neither skipped nor repeated)."""
    messages = Message.objects.filter(consultation_id=consultation_id)
    if before is not None:
        messages = messages.filter(
            Q(created_at__lt=before.created_at) | Q(created_at=before.created_at, id__lt=before.id)
        )
    return messages.order_by("-created_at", "-id")
