"""The embedded mode's billing clock: a daemon thread in the server process that calls the same
service Celery beat would, every `BILLING_TICK_SECONDS`.

Started once by `config/asgi.py` when `settings.EMBEDDED_TICKER` is on (the embedded default),
so `make run` bills for real with nothing but Python; management commands and tests never
import the ASGI application and so never start it.
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

_started = False
_guard = threading.Lock()


def tick_once() -> None:
    from consultations import services
    from consultations.presence import sweep_presence_safely

    close_old_connections()
    try:
        sweep_presence_safely()
        report = services.bill_due_consultations()
        if report.billed or report.expired:
            logger.info("billing tick: %s", report)
    except Exception:  # noqa: BLE001 - one failed tick must not stop the clock
        logger.exception("billing tick failed")
    finally:
        close_old_connections()


def _run(stop: threading.Event, period: float) -> None:
    while not stop.wait(period):
        tick_once()


def start_ticker(*, period: float | None = None) -> threading.Event | None:
    """Starts the ticker thread once per process; returns the event that stops it."""
    global _started
    with _guard:
        if _started:
            return None
        _started = True
    stop = threading.Event()
    thread = threading.Thread(
        target=_run,
        args=(stop, float(period or settings.BILLING_TICK_SECONDS)),
        name="billing-ticker",
        daemon=True,
    )
    thread.start()
    logger.info(
        "embedded billing ticker started (every %s s)", period or settings.BILLING_TICK_SECONDS
    )
    return stop
