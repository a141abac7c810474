import uuid

import factory
from django.utils import timezone

from chat.models import Message, MessageStatus
from consultations.tests.factories import ActiveConsultationFactory


class MessageFactory(factory.django.DjangoModelFactory):
    """A `sent` message from the consultation's client."""

    class Meta:
        model = Message

    consultation = factory.SubFactory(ActiveConsultationFactory)
    sender = factory.LazyAttribute(lambda o: o.consultation.client)
    client_msg_id = factory.LazyFunction(uuid.uuid4)
    body = factory.Sequence(lambda n: f"message {n}")
    status = MessageStatus.SENT
    created_at = factory.LazyFunction(timezone.now)
