"""The Celery app. Money tasks run with acks_late and reject_on_worker_lost (settings), so a
killed worker's task is redone by another; the services make a redo harmless."""

import gc
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init

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
def freeze_startup_objects(**kwargs) -> None:
    """Takes what is alive once a worker has started (modules, Django's apps and settings:
    about 140,000 objects) out of the cyclic garbage collector's full collections. A billing
    batch makes tens of thousands of objects that live through a young collection, and each
    such wave sets off a full one, which walked every object of the process (about 0.1 s each,
    several a tick); frozen, it walks what the batches made (bench/BILLING.md). In a forked
    pool process it also leaves those pages shared with the parent."""
    gc.collect()
    gc.freeze()
