"""The periodic jobs: one list, run by Celery beat (services mode) and by the embedded ticker
(`make run`) through the same tasks."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.utils.module_loading import import_string

from config import jobs
from config.celery import app
from consultations.models import Consultation

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_beat_runs_exactly_the_list(settings):
    schedule = app.conf.beat_schedule
    listed = jobs.jobs()
    assert set(schedule) == {job.name for job in listed}
    for job in listed:
        assert schedule[job.name]["task"] == job.task
        assert schedule[job.name]["schedule"] == job.every
    tick = schedule["bill-due-consultations"]
    assert tick["schedule"] == settings.BILLING_TICK_SECONDS
    assert tick["options"] == {"expires": settings.BILLING_TICK_SECONDS}
    assert schedule["end-due-consultations"]["schedule"] == 1


def test_every_job_is_a_registered_task_under_its_dotted_path():
    app.loader.import_default_modules()
    for job in jobs.jobs():
        assert import_string(job.task).name == job.task
        assert app.tasks[job.task].name == job.task


def test_the_ticker_runs_each_job_on_its_own_period():
    now = [0.0]
    listed = [jobs.Job("fast", "x", 1.0), jobs.Job("slow", "y", 10.0)]
    ticker = jobs.Ticker(listed, clock=lambda: now[0])
    ran = []
    for _ in range(25):
        now[0] += 1
        ran += ticker.run_due(run=lambda job: None)
    assert ran.count("fast") == 25 and ran.count("slow") == 2
    assert ticker.period == 1.0


def test_a_job_that_overran_is_not_run_again_to_catch_up():
    now = [0.0]
    ticker = jobs.Ticker([jobs.Job("tick", "x", 10.0)], clock=lambda: now[0])
    runs = []

    def slow(job):
        runs.append(now[0])
        now[0] += 35  # the run took three and a half periods

    now[0] = 10
    ticker.run_due(run=slow)  # ends at 45
    now[0] += 9
    assert ticker.run_due(run=slow) == []
    now[0] += 1
    assert ticker.run_due(run=slow) == ["tick"]
    assert runs == [10, 55]


@pytest.mark.django_db
def test_the_ticker_runs_the_same_tasks_beat_sends(monkeypatch):
    from consultations.tests.test_billing import begin

    # run_job drops stale connections around a run; here the test's transaction is the
    # connection's, so it must stay.
    monkeypatch.setattr(jobs, "close_old_connections", lambda: None)
    now = [0.0]
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        ticker = jobs.Ticker(jobs.jobs(), clock=lambda: now[0])
        traveller.shift(20)
        now[0] = 10
        assert "bill-due-consultations" in ticker.run_due()
    assert Consultation.objects.get(id=consultation.id).billed_seconds == 20


@pytest.mark.django_db
def test_a_failing_job_does_not_stop_the_ticker(monkeypatch, caplog):
    from consultations import services

    monkeypatch.setattr(jobs, "close_old_connections", lambda: None)

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(services, "bill_due_consultations", broken)
    now = [0.0]
    ticker = jobs.Ticker(jobs.jobs(), clock=lambda: now[0])
    now[0] = 3600
    ran = ticker.run_due()
    assert "bill-due-consultations" in ran and "end-due-consultations" in ran
    assert "periodic job bill-due-consultations failed" in caplog.text
