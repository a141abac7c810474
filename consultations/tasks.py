"""Celery tasks: thin wrappers over the billing service.

Money tasks run with `acks_late` and `reject_on_worker_lost`: a worker killed mid-tick leaves its
message unacknowledged, so another worker redoes the tick; the database state (billed seconds,
unique charge keys) makes the redo charge nothing twice. A tick that overruns the next one is
harmless too: `skip_locked` lets two ticks split the rows.
"""

from celery import shared_task
from django.conf import settings

from config import clock
from consultations import services
from consultations.presence import sweep_presence_safely


@shared_task(
    name="consultations.tasks.bill_due_consultations",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def bill_due_consultations() -> dict:
    # One `now` (the database's clock) for the sweep and the tick: who was there is judged as
    # of the moment billed up to.
    now = clock.now()
    sweep_presence_safely(now=now)
    report = services.bill_due_consultations(now=now)
    return vars(report)


@shared_task(
    name="consultations.tasks.end_due_consultations",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def end_due_consultations() -> int:
    return services.end_due_consultations()
