"""Celery tasks: thin wrappers the beat schedule can call."""

import logging
import time

from celery import shared_task

from config import metrics
from wallets.fees import collect_missing_fees
from wallets.idempotency import purge_idempotency_records
from wallets.payments import RECONCILE_BUDGET_SECONDS, reconcile_payments, retry_pending_refunds
from wallets.reconcile import check_ledger

logger = logging.getLogger(__name__)


@shared_task(name="wallets.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return purge_idempotency_records()


# The service stops starting gateway calls after its budget; the limits are a backstop.
@shared_task(
    name="wallets.tasks.reconcile_recent_payments",
    soft_time_limit=RECONCILE_BUDGET_SECONDS + 60,
    time_limit=RECONCILE_BUDGET_SECONDS + 120,
)
def reconcile_recent_payments() -> dict:
    counts = reconcile_payments()
    # Fees still unknown (payments verified before any webhook; Stripe's balance transaction
    # made late): asked of the gateway and posted once (wallets/fees.py).
    counts["fees_recorded"] = collect_missing_fees()
    return counts


@shared_task(name="wallets.tasks.retry_refunds", soft_time_limit=240, time_limit=300)
def retry_refunds() -> int:
    """Pending refunds, taken one step further with the gateway (each row claimed first)."""
    return retry_pending_refunds()


# The whole ledger is read in chunks: far longer than a billing tick may take.
@shared_task(name="wallets.tasks.reconcile_ledger", time_limit=3 * 3600, soft_time_limit=3 * 3590)
def reconcile_ledger() -> dict:
    """`manage.py reconcile_ledger` from beat, every night: its duration and verdict go to
    `/metrics` (`consult_reconcile_ledger_*`), its violations to the log."""
    started = time.monotonic()
    with metrics.reconcile_timer() as done:
        report = check_ledger()
        done(len(report.violations))
    for violation in report.violations[:100]:
        logger.error("reconcile_ledger: %s", violation)
    logger.info(
        "reconcile_ledger: %s in %.1f s",
        "clean" if report.clean else f"{len(report.violations)} violation(s)",
        time.monotonic() - started,
        extra={"clean": report.clean, "violations": len(report.violations)},
    )
    return {"clean": report.clean, "violations": len(report.violations)}
