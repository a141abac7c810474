from datetime import UTC, datetime

import pytest
import time_machine

from consultations.models import Consultation
from consultations.tasks import bill_due_consultations
from consultations.tests.test_billing import begin

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_task_is_safe_to_lose_and_redo():
    assert bill_due_consultations.acks_late is True
    assert bill_due_consultations.reject_on_worker_lost is True
    assert bill_due_consultations.time_limit and bill_due_consultations.soft_time_limit


def test_the_task_bills_through_the_service():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        traveller.shift(10)
        report = bill_due_consultations.apply().get()
    assert report["charges"] == 1
    assert Consultation.objects.get(id=consultation.id).total_amount == 100
