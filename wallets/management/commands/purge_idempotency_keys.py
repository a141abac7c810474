"""`manage.py purge_idempotency_keys`: deletes Idempotency-Key records older than 24 hours."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from wallets.idempotency import purge_idempotency_records


class Command(BaseCommand):
    help = "Deletes stored Idempotency-Key answers older than --hours (at least 24)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24)

    def handle(self, *args, hours: int, **options):
        deleted = purge_idempotency_records(older_than=timedelta(hours=hours))
        self.stdout.write(f"deleted {deleted} idempotency record(s)")
