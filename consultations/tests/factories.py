import factory
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations.models import Consultation, Status


class ConsultationFactory(factory.django.DjangoModelFactory):
    """A pending chat request at the consultant's chat rate."""

    class Meta:
        model = Consultation

    client = factory.SubFactory(ClientFactory)
    consultant = factory.SubFactory(OnlineConsultantFactory, is_busy=True)
    channel = "chat"
    status = Status.PENDING
    rate_per_minute = factory.LazyAttribute(lambda o: o.consultant.rate_for(o.channel) or 1000)
    requested_at = factory.LazyFunction(timezone.now)


class ActiveConsultationFactory(ConsultationFactory):
    status = Status.ACTIVE
    started_at = factory.LazyFunction(timezone.now)
    last_billed_at = factory.LazyAttribute(lambda o: o.started_at)
