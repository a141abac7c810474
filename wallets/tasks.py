"""Celery tasks: thin wrappers the beat schedule can call."""

from celery import shared_task

from wallets.idempotency import purge_idempotency_records
from wallets.payments import reconcile_payments


@shared_task(name="wallets.tasks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return purge_idempotency_records()


@shared_task(name="wallets.tasks.reconcile_recent_payments")
def reconcile_recent_payments() -> dict:
    return reconcile_payments()
