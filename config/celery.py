"""The Celery app. Money tasks run with acks_late and reject_on_worker_lost (settings), so a
killed worker's task is redone by another; the services make a redo harmless."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule, in one place. Entries are added by the issues that bring their tasks.
app.conf.beat_schedule = {}


@app.on_after_configure.connect
def _billing_schedule(sender, **kwargs):
    """The billing tick (consultations), every BILLING_TICK_SECONDS. Read from the settings
    once they are loaded: this module is imported while the settings module is."""
    from django.conf import settings

    sender.conf.beat_schedule["bill-due-consultations"] = {
        "task": "consultations.bill_due_consultations",
        "schedule": float(settings.BILLING_TICK_SECONDS),
        # A tick not started within a period is dropped: the next one catches up.
        "options": {"expires": float(settings.BILLING_TICK_SECONDS)},
    }
