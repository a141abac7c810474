import pytest
from django.db import IntegrityError, transaction

from consultations.models import Status
from consultations.tests.factories import ActiveConsultationFactory, ConsultationFactory

pytestmark = pytest.mark.django_db


def test_a_client_cannot_have_two_open_consultations():
    first = ConsultationFactory()
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            ConsultationFactory(client=first.client)


def test_a_consultant_cannot_have_two_open_consultations():
    first = ConsultationFactory()
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            ConsultationFactory(consultant=first.consultant)


def test_finished_consultations_do_not_count_as_open():
    first = ConsultationFactory(status=Status.DECLINED)
    ConsultationFactory(client=first.client, consultant=first.consultant)


def test_the_database_refuses_a_total_that_is_not_exact_to_the_second():
    consultation = ActiveConsultationFactory(rate_per_minute=100)
    consultation.billed_seconds = 59
    consultation.total_amount = 98  # floor(100 * 59 / 60) = 98
    consultation.consultant_amount = 98
    consultation.save()
    consultation.total_amount = 99
    consultation.consultant_amount = 99
    with pytest.raises(IntegrityError, match="consultation_charged_exactly_to_the_second"):
        with transaction.atomic():
            consultation.save()


def test_the_database_refuses_legs_that_do_not_add_up():
    consultation = ActiveConsultationFactory(rate_per_minute=60)
    consultation.billed_seconds = 10
    consultation.total_amount = 10
    consultation.consultant_amount = 8
    consultation.commission_amount = 1
    with pytest.raises(IntegrityError, match="consultation_charge_legs_add_up"):
        with transaction.atomic():
            consultation.save()
