"""A real Celery worker is killed with SIGKILL in the middle of a tick; another one takes over.

Afterwards every consultation's charged total is exactly `floor(rate * billed_seconds / 60)`,
its ledger charges add up to that total (no second billed twice) and the books reconcile.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from consultations.loadgen import create_active_sessions
from consultations.models import Consultation, Status
from wallets.models import LedgerEntry, LedgerTransaction
from wallets.reconcile import check_ledger

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = 300


def database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def start_worker(queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "DEBUG": "1",
        "BILLING_BATCH_SIZE": "5",  # many small batches: the kill lands mid-tick
        "DB_CONN_MAX_AGE": "0",
    }
    celery = Path(sys.executable).with_name("celery")
    return subprocess.Popen(
        [
            str(celery),
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def charges_so_far() -> int:
    return LedgerTransaction.objects.filter(kind="consultation_charge").count()


def wait_for(condition, *, timeout: float, every: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


def test_a_worker_killed_mid_tick_loses_and_repeats_no_charge():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL and a broker")
    from consultations.tasks import bill_due_consultations

    started_at = timezone.now() - timedelta(minutes=10)
    ids = create_active_sessions(SESSIONS, started_at=started_at, balance=1_000_000)
    queue = f"crash-test-{uuid.uuid4().hex[:8]}"
    first = start_worker(queue)
    second = None
    try:
        bill_due_consultations.apply_async(queue=queue)
        # Kill it once it has committed some batches, and not all of them.
        assert wait_for(lambda: charges_so_far() >= 20, timeout=45), "the worker never billed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_after = charges_so_far()
        assert killed_after < SESSIONS, "the tick finished before the kill: nothing was proven"

        second = start_worker(queue)
        bill_due_consultations.apply_async(queue=queue)  # the next tick beat would send
        assert wait_for(
            lambda: not Consultation.objects.filter(id__in=ids, last_billed_at=started_at).exists(),
            timeout=45,
            every=0.2,
        ), "the second worker did not bill what the first one left"
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)

    now = timezone.now()
    for consultation in Consultation.objects.filter(id__in=ids):
        assert consultation.status == Status.ACTIVE
        assert consultation.total_amount == (
            consultation.rate_per_minute * consultation.billed_seconds // 60
        )
        paid = -(
            LedgerEntry.objects.filter(
                transaction__reference_id=str(consultation.id), kind="consultation_charge"
            ).aggregate(total=Sum("amount"))["total"]
            or 0
        )
        assert paid == consultation.total_amount, consultation.id  # no second billed twice
        # Billed up to the tick that saw it: never more than the time that passed.
        assert 600 <= consultation.billed_seconds <= (now - started_at).total_seconds()
    assert check_ledger().clean
