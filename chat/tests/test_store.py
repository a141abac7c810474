"""chat/store.py: the group-committed hot path stores exactly what the service would, and
leaves everything else (resends, strangers, consultations not active) to the service."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from accounts.tests.factories import ClientFactory
from chat import store
from chat.models import Message
from chat.serializers import message_data
from chat.tests.helpers import run_async
from consultants.models import ConsultantProfile
from consultations.models import Consultation, Status
from consultations.tests.factories import ActiveConsultationFactory, ConsultationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _sync(func, *args, **kwargs):
    from channels.db import database_sync_to_async

    return database_sync_to_async(func)(*args, **kwargs)


def test_its_statement_names_the_models_tables():
    for model in (Message, Consultation, ConsultantProfile):
        assert f" {model._meta.db_table} " in f" {store.INSERT_SQL} "


@run_async
async def test_a_batch_stores_each_message_once_and_answers_as_the_serializer_would():
    session = await _sync(ActiveConsultationFactory)
    other = await _sync(ActiveConsultationFactory)
    resent = uuid.uuid4()
    sends = [
        store.send_message(
            session_id=session.id, sender_id=session.client_id, client_msg_id=resent, body="a"
        ),
        store.send_message(
            session_id=session.id, sender_id=session.client_id, client_msg_id=resent, body="b"
        ),
        store.send_message(
            session_id=other.id,
            sender_id=other.consultant.user_id,
            client_msg_id=uuid.uuid4(),
            body="c",
        ),
    ]
    first, again, third = await asyncio.gather(*sends)  # one batch: queued together
    # the same client_msg_id: stored once; the other send is the service's to answer (a resend)
    assert [first, again].count(None) == 1
    first = first or again
    assert await _sync(Message.objects.count) == 2
    for text in (first, third):
        data = json.loads(text)
        stored = await _sync(Message.objects.get, id=data["id"])
        assert data == message_data(stored)


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 12, 3, 11, 44, 8, 217209, tzinfo=UTC),
        datetime(2026, 12, 3, 11, 44, 8, tzinfo=UTC),  # no microseconds: none written
        datetime(2026, 12, 3, 11, 44, 8, 1000, tzinfo=UTC),
    ],
)
def test_the_message_text_writes_ids_and_time_as_the_serializer_does(created_at):
    ids = [uuid.uuid4() for _ in range(3)]
    text = store.message_text(
        message_id=ids[0], session_id=ids[1], sender_id=ids[2], body="नमस्ते", created_at=created_at
    )
    stored = Message(
        id=ids[0],
        consultation_id=ids[1],
        sender_id=ids[2],
        body="नमस्ते",
        created_at=created_at,
    )
    assert json.loads(text) == message_data(stored)


@run_async
async def test_strangers_and_consultations_not_active_are_left_to_the_service():
    active = await _sync(ActiveConsultationFactory)
    pending = await _sync(ConsultationFactory, status=Status.PENDING)
    outsider = await _sync(ClientFactory)
    answers = await asyncio.gather(
        store.send_message(
            session_id=active.id, sender_id=outsider.id, client_msg_id=uuid.uuid4(), body="x"
        ),
        store.send_message(
            session_id=pending.id, sender_id=pending.client_id, client_msg_id=uuid.uuid4(), body="x"
        ),
        store.send_message(
            session_id=uuid.uuid4(),
            sender_id=active.client_id,
            client_msg_id=uuid.uuid4(),
            body="x",
        ),
    )
    assert answers == [None, None, None]
    assert await _sync(Message.objects.count) == 0
