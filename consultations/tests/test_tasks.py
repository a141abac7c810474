from datetime import UTC, datetime

import pytest
import time_machine

from consultations import ticker
from consultations.models import Consultation
from consultations.tasks import bill_due_consultations
from consultations.tests.test_billing import begin

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_the_task_is_safe_to_lose_and_redo():
    assert bill_due_consultations.acks_late is True
    assert bill_due_consultations.reject_on_worker_lost is True
    assert bill_due_consultations.time_limit and bill_due_consultations.soft_time_limit


def test_beat_sends_the_tick_every_billing_period(settings):
    from config.celery import app

    entry = app.conf.beat_schedule["bill-due-consultations"]
    assert entry["task"] == bill_due_consultations.name
    assert entry["schedule"] == settings.BILLING_TICK_SECONDS


def test_the_task_bills_through_the_service():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        traveller.shift(10)
        report = bill_due_consultations.apply().get()
    assert report["charges"] == 1
    assert Consultation.objects.get(id=consultation.id).total_amount == 100


def test_the_embedded_ticker_calls_the_same_service(monkeypatch):
    # The ticker drops stale connections between ticks; here the test's transaction is the
    # connection's, so it must stay.
    monkeypatch.setattr(ticker, "close_old_connections", lambda: None)
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        traveller.shift(20)
        ticker.tick_once()
    assert Consultation.objects.get(id=consultation.id).billed_seconds == 20


def test_a_failing_tick_does_not_stop_the_ticker(monkeypatch, caplog):
    from consultations import services

    monkeypatch.setattr(ticker, "close_old_connections", lambda: None)

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "bill_due_consultations", broken)
    ticker.tick_once()
    assert "billing tick failed" in caplog.text
