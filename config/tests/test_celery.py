"""The Celery worker's start-up hooks."""

import gc
import weakref

from celery.signals import worker_init, worker_process_init

from config.celery import freeze_startup_objects


def receivers(signal) -> list:
    """The signal's receivers (Celery keeps weak references to most)."""
    return [ref() if isinstance(ref, weakref.ref) else ref for _, ref in signal.receivers]


def test_a_started_worker_and_each_pool_process_freeze_what_is_alive():
    assert freeze_startup_objects in receivers(worker_init)
    assert freeze_startup_objects in receivers(worker_process_init)
    gc.unfreeze()
    try:
        worker_process_init.send(sender=None)
        assert gc.get_freeze_count() > 10_000  # Django, the apps, the settings
    finally:
        gc.unfreeze()
