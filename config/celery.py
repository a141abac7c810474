"""The Celery app. Money tasks run with acks_late and reject_on_worker_lost (settings), so a
killed worker's task is redone by another; the services make a redo harmless."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _beat_schedule(sender, **kwargs):
    """The beat schedule, in one place. Read from the settings once they are loaded: this
    module is imported while the settings module is."""
    from celery.schedules import crontab
    from django.conf import settings

    tick = float(settings.BILLING_TICK_SECONDS)
    sender.conf.beat_schedule = {
        # Bills every due consultation, expires stale requests, applies presence rules.
        "bill-due-consultations": {
            "task": "consultations.bill_due_consultations",
            "schedule": tick,
            # A tick not started within a period is dropped: the next one catches up.
            "options": {"expires": tick},
        },
        # Credits captured payments whose webhook never came; retries unanswered refunds.
        "reconcile-recent-payments": {
            "task": "wallets.tasks.reconcile_recent_payments",
            "schedule": 15 * 60.0,
        },
        # Idempotency records are kept 24 hours (CONTRACT.md: at least).
        "purge-idempotency-keys": {
            "task": "wallets.tasks.purge_idempotency_keys",
            "schedule": crontab(minute=17, hour=3),
        },
    }
