"""chat/store.py: the group-committed hot path stores exactly what the service would, and
leaves everything else (resends, strangers, consultations not active) to the service."""

import asyncio
import uuid

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
    for data in (first, third):
        stored = await _sync(Message.objects.get, id=data["id"])
        assert data == message_data(stored)


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
