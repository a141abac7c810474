"""The Celery worker's start-up hooks."""

import gc
import weakref

from celery.signals import worker_init, worker_process_init

from config.celery import tune_garbage_collector
from config.garbage import YOUNG_COLLECTION_THRESHOLD


def receivers(signal) -> list:
    """The signal's receivers (Celery keeps weak references to most)."""
    return [ref() if isinstance(ref, weakref.ref) else ref for _, ref in signal.receivers]


def test_a_started_worker_and_each_pool_process_freeze_what_is_alive_and_collect_less_often():
    assert tune_garbage_collector in receivers(worker_init)
    assert tune_garbage_collector in receivers(worker_process_init)
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 10_000  # Django, the apps, the settings
        assert gc.get_threshold() == (YOUNG_COLLECTION_THRESHOLD, *threshold[1:])
        assert YOUNG_COLLECTION_THRESHOLD > threshold[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
