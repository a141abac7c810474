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
