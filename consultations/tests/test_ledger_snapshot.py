"""`check_ledger` (what `manage.py reconcile_ledger` runs) reads one snapshot of the books: run
while billing ticks commit in another thread, it reports no violation that is not there."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from consultations import services
from consultations.loadgen import create_active_sessions
from wallets.reconcile import check_ledger

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the snapshot is PostgreSQL's REPEATABLE READ"
)


@pytest.mark.django_db(transaction=True)
def test_check_ledger_sees_no_false_violation_while_billing_ticks():
    started_at = timezone.now() - timedelta(hours=1)
    create_active_sessions(150, started_at=started_at, balance=10_000_000, tag="snap")
    stop, failures, ticks = threading.Event(), [], []

    def bill_while_checking() -> None:
        now = started_at
        try:
            while not stop.is_set() and len(ticks) < 300:
                now += timedelta(seconds=settings.BILLING_TICK_SECONDS)
                # Small batches: many commits land while the check reads.
                report = services.bill_due_consultations(now=now, batch_size=10)
                ticks.append(report.charges)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    biller = threading.Thread(target=bill_while_checking)
    biller.start()
    reports = []
    try:
        while len(reports) < 6 and biller.is_alive():
            # Small chunks: many separate reads of accounts and of their entries.
            reports.append(check_ledger(chunk=20))
    finally:
        stop.set()
        biller.join(60)
    assert not failures
    assert sum(ticks) > 0 and reports
    assert [r.violations for r in reports if not r.clean] == []
    assert check_ledger().clean
