"""`manage.py reconcile_payments`: credits captured payments whose webhook never came, and
takes pending refunds a step further (each refund row is claimed first, so running this while
the scheduled jobs run sends no refund twice)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from wallets.payments import reconcile_payments, retry_pending_refunds


class Command(BaseCommand):
    help = (
        "Asks the gateway about recent uncredited orders (newest first, within a time budget) "
        "and credits (once) the payments it captured; marks checkouts abandoned for a day "
        "failed; asks the gateway about refunds still pending."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=1, help="how far back to look")
        parser.add_argument(
            "--budget", type=float, default=600.0, help="seconds of gateway calls at most"
        )

    def handle(self, *args, days: int, budget: float, **options):
        counts = reconcile_payments(
            since=timedelta(days=max(1, days)), budget_seconds=budget, out=self.stdout
        )
        counts["refunds"] = retry_pending_refunds()
        self.stdout.write(
            "checked {checked} orders, credited {credited}, errors {errors}, abandoned "
            "{abandoned}, left for later {left}, refunds pushed {refunds}".format(**counts)
        )
