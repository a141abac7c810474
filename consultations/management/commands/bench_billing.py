"""`manage.py bench_billing --sessions N`: times full billing ticks, then pgbench, on the same
PostgreSQL server. The real work is in `bench/billing.py`."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Creates N active consultations in a scratch database, times full billing ticks "
        "(postings per second, tick duration), then runs pgbench -b tpcb-like for as long on "
        "the same server and prints both figures and their ratio."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sessions", type=int, default=40_000)
        parser.add_argument("--ticks", type=int, default=3)
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="batches billed at once (default BILLING_WORKERS; --breakdown runs one)",
        )
        parser.add_argument(
            "--events", action="store_true", help="also send billing_tick frames (Redis)"
        )
        parser.add_argument("--pgbench-clients", type=int, default=2)
        parser.add_argument("--pgbench-seconds", type=int, default=None)
        parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
        parser.add_argument(
            "--default-gc",
            "--no-freeze",
            dest="default_gc",
            action="store_true",
            help="leave the garbage collector as Python starts it: no freeze of the start-up "
            "objects, the default young threshold (a Celery worker tunes both: config/celery.py)",
        )
        parser.add_argument(
            "--breakdown",
            action="store_true",
            help="time every statement (by verb and table) and commit of the ticks",
        )

    def handle(self, *args, **options):
        from bench.billing import BenchError, run

        try:
            run(
                sessions=options["sessions"],
                ticks=options["ticks"],
                batch_size=options["batch_size"],
                events=options["events"],
                pgbench_clients=options["pgbench_clients"],
                pgbench_seconds=options["pgbench_seconds"],
                keep=options["keep"],
                breakdown=options["breakdown"],
                workers=options["workers"],
                tune_gc=not options["default_gc"],
                out=self.stdout.write,
            )
        except BenchError as exc:
            raise CommandError(str(exc)) from exc
