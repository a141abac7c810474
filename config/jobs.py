"""The periodic jobs, listed once: Celery beat runs them in the services mode, the embedded
ticker (a thread of the one server process) in `make run`.

Each job is a Celery task (a thin wrapper over a service) named by its dotted path, so beat
sends it by that name and the ticker imports and calls the same function. Every job is safe
to run twice or late: the services it calls are idempotent and take their rows with
`skip_locked`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # the Celery task's name: its dotted path
    every: float  # seconds
    # A run not started within a period is dropped (the next one does its work anyway).
    expires: bool = False


def jobs() -> list[Job]:
    """The list, read from the settings (periods are settings)."""
    return [
        # Presence sweep, then every due consultation billed; stale requests expired.
        Job(
            "bill-due-consultations",
            "consultations.tasks.bill_due_consultations",
            float(settings.BILLING_TICK_SECONDS),
            expires=True,
        ),
        # The consultations whose end has come (a booking's end, money running out) end now,
        # not up to a tick later.
        Job(
            "end-due-consultations",
            "consultations.tasks.end_due_consultations",
            float(settings.END_SWEEP_SECONDS),
            expires=True,
        ),
        # Bookings: unpaid ones expire, no-shows, completion at the end, reminders, unsent emails.
        Job(
            "bookings-lifecycle",
            "bookings.tasks.run_lifecycle",
            float(settings.BOOKING_SWEEP_SECONDS),
            expires=True,
        ),
        # Credits captured payments whose webhook never came; fails abandoned checkouts.
        Job("reconcile-recent-payments", "wallets.tasks.reconcile_recent_payments", 15 * 60.0),
        # Refunds still pending: asks the gateway what became of them (or sends them once).
        Job("retry-refunds", "wallets.tasks.retry_refunds", 60.0),
        # Proves the books once a day; its duration and verdict go to /metrics (alerts.yml).
        Job("reconcile-ledger", "wallets.tasks.reconcile_ledger", 24 * 3600.0),
        # Idempotency records are kept 24 hours (CONTRACT.md: at least).
        Job("purge-idempotency-keys", "wallets.tasks.purge_idempotency_keys", 24 * 3600.0),
    ]


def beat_schedule() -> dict:
    """`jobs()` as Celery beat's schedule."""
    return {
        job.name: {
            "task": job.task,
            "schedule": job.every,
            **({"options": {"expires": job.every}} if job.expires else {}),
        }
        for job in jobs()
    }


def run_job(job: Job) -> None:
    """Runs one job in this thread, as a worker would; a failure is logged, never raised."""
    close_old_connections()
    try:
        import_string(job.task)()
    except Exception:  # noqa: BLE001 - one failed run must not stop the clock
        logger.exception("periodic job %s failed", job.name)
    finally:
        close_old_connections()


class Ticker:
    """Runs each job of `jobs` every `job.every` seconds of `clock`, first one period after
    it starts (like beat); after a run that overran its period the next one waits a whole
    period (no burst of runs to catch up: each run does all the work that is due)."""

    def __init__(self, jobs: list[Job], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs = jobs
        self.clock = clock
        start = clock()
        self.next_run = {job.name: start + job.every for job in jobs}

    def run_due(self, run: Callable[[Job], None] = run_job) -> list[str]:
        ran = []
        for job in self.jobs:
            if self.clock() >= self.next_run[job.name]:
                run(job)
                ran.append(job.name)
                # Keep the cadence; after an overrun, wait a whole period from its end.
                self.next_run[job.name] = max(
                    self.next_run[job.name] + job.every, self.clock() + job.every
                )
        return ran

    @property
    def period(self) -> float:
        return min(job.every for job in self.jobs)


_started = False
_guard = threading.Lock()


def start_ticker() -> threading.Event | None:
    """Starts the embedded ticker thread once per process; returns the event that stops it."""
    global _started
    with _guard:
        if _started:
            return None
        _started = True
    ticker = Ticker(jobs())
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(ticker.period):
            ticker.run_due()

    threading.Thread(target=loop, name="periodic-jobs", daemon=True).start()
    logger.info("embedded ticker started: %s", ", ".join(job.name for job in ticker.jobs))
    return stop
