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


# A young collection runs after this many net allocations of tracked objects (Python's default:
# 700). A billing batch of 2,000 makes tens of thousands that live as long as the batch: at 700
# the collector ran about 650 times a 20,000-session tick, walked them again and again and
# promoted waves of them to older generations; at 10,000 about 35 times, at 50,000 a few
# (bench/BILLING.md). The cost: cyclic garbage waits for up to 50,000 allocations.
YOUNG_COLLECTION_THRESHOLD = 50_000


@worker_init.connect
@worker_process_init.connect
def tune_garbage_collector(**kwargs) -> None:
    """Sets the cyclic garbage collector up for a worker's work, once it has started.

    Freezes what is alive then (modules, Django's apps and settings: about 140,000 objects) out
    of the collections: a full collection walked every object of the process (about 0.1 s each,
    several a tick); frozen, it walks what the batches made. In a forked pool process it also
    leaves those pages shared with the parent. And collects the young generation less often
    (`YOUNG_COLLECTION_THRESHOLD`): a 40,000-session tick's collector time went from
    0.25-0.48 s to 0.02-0.20 s."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)
