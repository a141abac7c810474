"""`manage.py reconcile_payments`: credits captured payments whose webhook never came."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from wallets.payments import reconcile_payments


class Command(BaseCommand):
    help = (
        "Asks the gateway about recent uncredited orders and credits (once) the payments it "
        "captured; retries refunds left pending by a gateway timeout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=3, help="how far back to look")

    def handle(self, *args, days: int, **options):
        counts = reconcile_payments(since=timedelta(days=max(1, days)), out=self.stdout)
        self.stdout.write(
            "checked {checked} orders, credited {credited}, errors {errors}, "
            "refunds retried {refunds_retried}".format(**counts)
        )
