"""`manage.py reconcile_ledger`: checks every invariant of the books; exits 1 on any violation."""

import sys

from django.core.management.base import BaseCommand

from config import metrics
from wallets.reconcile import CHUNK, check_ledger


class Command(BaseCommand):
    help = (
        "Checks the ledger: balanced transactions, balances equal entries, no negative wallet, "
        "held equals open holds, platform revenue equals commissions, captured payments equal "
        "recharges, gateway fees posted once each. Prints the platform's revenue net of fees "
        "and every violation; exits non-zero on any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=CHUNK, help="accounts read at a time")

    def handle(self, *args, chunk: int, **options):
        with metrics.reconcile_timer() as done:  # duration and verdict go to /metrics
            report = check_ledger(progress=self.stdout.write, chunk=max(1, chunk))
            done(len(report.violations))
        for name in report.checked:
            self.stdout.write(f"checked: {name}")
        if report.figures:
            self.stdout.write(
                "platform revenue {revenue} paise, gateway fees {gateway_fees} paise, "
                "revenue net of fees {net_revenue} paise".format(**report.figures)
            )
        for violation in report.violations:
            self.stderr.write(f"VIOLATION: {violation}")
        if not report.clean:
            self.stderr.write(self.style.ERROR(f"{len(report.violations)} violation(s)"))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS("the ledger is clean"))
