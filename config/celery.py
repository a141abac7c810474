"""The Celery app. Money tasks run with acks_late and reject_on_worker_lost (settings), so a
killed worker's task is redone by another; the services make a redo harmless."""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

from config.garbage import tune_collector
from config.logs import connect_celery as connect_celery_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# JSON lines with the task's id and name, through the settings' LOGGING (config/logs.py).
connect_celery_logging(app)


@app.on_after_configure.connect
def _beat_schedule(sender, **kwargs):
    """The beat schedule is `config.jobs` (the one list, also run by the embedded ticker), read
    once the settings are loaded: this module is imported while the settings module is."""
    from config.jobs import beat_schedule

    sender.conf.beat_schedule = beat_schedule()


@worker_init.connect
@worker_process_init.connect
def tune_garbage_collector(**kwargs) -> None:
    """A started worker, and each pool process: `config.garbage.tune_collector`."""
    tune_collector()
