"""The billing benchmark: full ticks over N active consultations, then pgbench, same server.

Run it as `manage.py bench_billing --sessions 40000` (or `python -m bench.billing 40000`) with
DATABASE_URL pointing at PostgreSQL. It never touches the configured database's data:

1. creates a scratch database `<name>_bench_billing` on the same server and migrates it;
2. bulk-creates N active consultations (new clients with funds, new consultants);
3. runs `--ticks` full ticks of `bill_due_consultations` (`--workers` batches at once, default
   `BILLING_WORKERS`), each at a `now` 10 s after the last
   (the service is called exactly as the Celery task calls it; `now` is passed so the run does
   not wait for the wall clock), and times each;
4. checks the books (`wallets.reconcile.check_ledger`: every transaction balanced, every
   balance equal to its entries) and fails if they do not balance;
5. runs `pgbench -i`, a CHECKPOINT and `pgbench -b tpcb-like -T <the ticks' total time>` on a
   second scratch database, twice, and prints both runs' transactions per second; the ratio
   takes the better (on a shared VM one run can lose most of its disk to the host);
6. prints postings per second, the tick's duration and the ratio to pgbench's TPS, then drops
   both scratch databases (unless `--keep`).

A "posting" is one balanced ledger transaction (client -c, consultant +(c - commission),
platform +commission: three entries) plus the consultation row's update.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connections


class BenchError(Exception):
    pass


class Breakdown:
    """Where a tick's time goes: every statement timed by its verb and table (Django's
    `execute_wrapper`), every commit timed, the rest is Python (and the round trips' waits)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.count: dict[str, int] = {}

    @staticmethod
    def label(sql: str) -> str:
        words = sql.split()
        verb = words[0].upper() if words else "?"
        table = ""
        keywords = ("FROM",) if verb == "SELECT" else ("INTO", "UPDATE", "FROM")
        for keyword in keywords:
            for index, word in enumerate(words[:-1]):
                if word.upper() == keyword:
                    table = words[index + 1].strip('"(')
                    break
            if table:
                break
        if verb == "SELECT" and "FOR UPDATE" in sql.upper():
            verb = "SELECT FOR UPDATE"
        return f"{verb} {table}".strip()

    def add(self, label: str, seconds: float) -> None:
        self.seconds[label] = self.seconds.get(label, 0.0) + seconds
        self.count[label] = self.count.get(label, 0) + 1

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.add(self.label(sql), time.perf_counter() - t0)

    def watch_commits(self, connection):
        """Times `connection`'s commits (not statements: Django calls psycopg's commit)."""
        original = connection._commit

        def timed_commit():
            t0 = time.perf_counter()
            try:
                return original()
            finally:
                self.add("COMMIT", time.perf_counter() - t0)

        connection._commit = timed_commit
        return original

    def lines(self, total: float, ticks: int) -> list[str]:
        rows = [f"where a tick's time goes (mean of {ticks} ticks, {total / ticks:.2f} s):"]
        spent = 0.0
        for label, seconds in sorted(self.seconds.items(), key=lambda item: -item[1]):
            spent += seconds
            rows.append(
                f"  {seconds / ticks:6.2f} s  {100 * seconds / total:4.0f} %  {label} "
                f"({self.count[label] // ticks} a tick)"
            )
        rest = total - spent
        rows.append(f"  {rest / ticks:6.2f} s  {100 * rest / total:4.0f} %  Python, round trips")
        return rows


class _Collections:
    """The garbage collector's runs (gc.callbacks) and the time spent in them, by generation,
    since the last `take()`. The collector runs holding the GIL: the ticks' threads wait."""

    def __init__(self) -> None:
        self._started = 0.0
        self.seconds = 0.0
        self.runs = [0, 0, 0]
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.runs[info["generation"]] += 1

    def take(self) -> str:
        line = (
            f"GC {self.seconds:.2f} s in {sum(self.runs)} runs, {self.runs[2]} full, "
            f"young threshold {gc.get_threshold()[0]}"
            + (", startup frozen" if gc.get_freeze_count() else "")
        )
        self.seconds, self.runs = 0.0, [0, 0, 0]
        return line

    def stop(self) -> None:
        gc.callbacks.remove(self._callback)


def _server_cpu_seconds() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL processes (every backend and the
    server's own: WAL writer, checkpointer...), from /proc; None if there are none here (a
    remote server, no /proc)."""
    ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, found = 0, False
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                text = stat.read()
        except OSError:  # gone meanwhile
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text.rsplit(")", 1)[1].split()
        if name.startswith("postgres"):
            found = True
            # utime, stime, and the same of its exited children (a closed connection's backend
            # is counted by the postmaster once it is gone)
            total += sum(int(field) for field in fields[11:15])
    return total / ticks_per_second if found else None


class _Cpu:
    """CPU seconds of this process and of the PostgreSQL server since the last `take()`: on a
    machine with two cores, whose share of them a tick spends."""

    def __init__(self) -> None:
        self._marks = (time.process_time(), _server_cpu_seconds())

    def take(self) -> str:
        now = (time.process_time(), _server_cpu_seconds())
        ours, server = now[0] - self._marks[0], None
        if now[1] is not None and self._marks[1] is not None:
            server = now[1] - self._marks[1]
        self._marks = now
        return f"CPU: Python {ours:.2f} s" + (
            f", PostgreSQL {server:.2f} s" if server is not None else ""
        )


def _pg_params() -> dict:
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise BenchError("the billing benchmark needs PostgreSQL (set DATABASE_URL)")
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": str(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or "",
        "name": db["NAME"],
    }


def _admin_sql(params: dict, statement: str) -> None:
    """Runs `statement` outside a transaction on the server's `postgres` database."""
    import psycopg

    with psycopg.connect(
        host=params["host"],
        port=params["port"],
        user=params["user"],
        password=params["password"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(statement)


def _pgbench() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for version in ("17", "16", "15", "14"):
        path = f"/usr/lib/postgresql/{version}/bin/pgbench"
        if os.path.exists(path):
            return path
    raise BenchError("pgbench is not installed")


def _run_pgbench(params: dict, dbname: str, *, seconds: int, clients: int, out) -> float:
    env = {**os.environ, "PGPASSWORD": params["password"]}
    base = [_pgbench(), "-h", params["host"], "-p", params["port"], "-U", params["user"]]
    out(f"pgbench -i -s 10 {dbname} ...")
    subprocess.run(
        [*base, "-i", "-q", "-s", "10", dbname], env=env, check=True, capture_output=True
    )
    _admin_sql(params, "CHECKPOINT")  # the writes before it are not pgbench's to pay for
    command = [*base, "-b", "tpcb-like", "-T", str(seconds), "-c", str(clients), "-j", str(clients)]
    out(f"pgbench -b tpcb-like -T {seconds} -c {clients} -j {clients} {dbname} ...")
    result = subprocess.run([*command, dbname], env=env, check=True, capture_output=True, text=True)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    match = match or re.search(r"tps = ([\d.]+)", result.stdout)
    if not match:
        raise BenchError(f"could not read pgbench's output:\n{result.stdout}")
    return float(match.group(1))


def _updates() -> dict[str, tuple[int, int]]:
    """(updates, HOT updates) so far of the tables a tick rewrites, from PostgreSQL's
    statistics (this backend's own flushed first)."""
    tables = ["consultations_consultation", "wallets_account"]
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    time.sleep(0.1)  # the flush happens when the backend goes idle
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
            "WHERE relname = ANY(%s)",
            [tables],
        )
        found = {name: (total, hot) for name, total, hot in cursor.fetchall()}
    return {table: found.get(table, (0, 0)) for table in tables}


def run(
    *,
    sessions: int,
    ticks: int = 3,
    batch_size: int | None = None,
    events: bool = False,
    pgbench_clients: int = 2,
    pgbench_seconds: int | None = None,
    keep: bool = False,
    breakdown: bool = False,
    workers: int | None = None,
    tune_gc: bool = True,
    out: Callable[[str], None] = print,
) -> dict:
    from django.core.management import call_command
    from django.utils import timezone

    from consultations import services
    from consultations.loadgen import create_active_sessions
    from consultations.models import Consultation

    params = _pg_params()
    scratch = f"{params['name']}_bench_billing"[:60]
    pgbench_db = f"{params['name']}_bench_pgbench"[:60]
    batch_size = batch_size or settings.BILLING_BATCH_SIZE
    # The breakdown wraps the calling thread's connection: its ticks run on that one only.
    workers = 1 if breakdown else (workers or settings.BILLING_WORKERS)
    connection = connections["default"]
    original_name = connection.settings_dict["NAME"]

    out(f"scratch database {scratch} on {params['host']}:{params['port']}")
    _admin_sql(params, f'DROP DATABASE IF EXISTS "{scratch}"')
    _admin_sql(params, f'CREATE DATABASE "{scratch}"')
    connection.close()
    connection.settings_dict["NAME"] = scratch
    result: dict = {}
    try:
        call_command("migrate", verbosity=0, interactive=False)
        started_at = timezone.now() - timedelta(hours=1)
        t0 = time.perf_counter()
        create_active_sessions(sessions, started_at=started_at, balance=10_000_000)
        out(f"created {sessions} active consultations in {time.perf_counter() - t0:.1f} s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # autocommit: what a settled server would have
            cursor.execute("CHECKPOINT")  # the ticks do not pay for the set-up's writes

        updates_before = _updates()
        if tune_gc:  # what a Celery worker does once started (config/celery.py)
            from config.garbage import tune_collector

            tune_collector()
        collector = _Collections()
        cpu = _Cpu()
        durations = []
        now = started_at
        timing = Breakdown() if breakdown else None
        for tick in range(1, ticks + 1):
            now = now + timedelta(seconds=settings.BILLING_TICK_SECONDS)
            t0 = time.perf_counter()
            if timing is not None:
                connection.ensure_connection()
                original_commit = timing.watch_commits(connection)
                try:
                    with connection.execute_wrapper(timing):
                        report = services.bill_due_consultations(
                            now=now, batch_size=batch_size, announce_ticks=events, workers=1
                        )
                finally:
                    # The private method watch_commits wrapped, put back.
                    connection._commit = original_commit  # type: ignore[attr-defined]
            else:
                report = services.bill_due_consultations(
                    now=now, batch_size=batch_size, announce_ticks=events, workers=workers
                )
            elapsed = time.perf_counter() - t0
            durations.append(elapsed)
            out(
                f"tick {tick}: {report.charges} postings, {report.billed} consultations, "
                f"{report.batches} batches of <= {batch_size} ({workers} at once) "
                f"in {elapsed:.2f} s "
                f"({report.charges / elapsed:,.0f} postings/s, load {os.getloadavg()[0]:.1f}; "
                f"{collector.take()}; {cpu.take()})"
            )
            if report.billed != sessions:
                raise BenchError(f"tick {tick} billed {report.billed} of {sessions}")
        collector.stop()
        if timing is not None:
            for line in timing.lines(sum(durations), ticks):
                out(line)
        updates = _updates()
        out(
            "HOT updates (no index touched): "
            + ", ".join(
                f"{table} {hot - updates_before[table][1]:,} of "
                f"{total - updates_before[table][0]:,}"
                for table, (total, hot) in updates.items()
            )
        )
        still_active = Consultation.objects.filter(status="active").count()
        from wallets.reconcile import check_ledger

        t0 = time.perf_counter()
        ledger = check_ledger()
        out(
            f"ledger check ({time.perf_counter() - t0:.1f} s): "
            + ("clean" if ledger.clean else f"{len(ledger.violations)} VIOLATIONS")
        )
        for violation in ledger.violations[:10]:
            out(f"  {violation}")
        if not ledger.clean:
            raise BenchError("the books do not balance after the ticks")
        best, mean = min(durations), sum(durations) / len(durations)
        postings_per_second = sessions / mean
        result.update(
            sessions=sessions,
            tick_seconds_best=best,
            tick_seconds_mean=mean,
            postings_per_second=postings_per_second,
            still_active=still_active,
        )
    finally:
        connection.close()
        connection.settings_dict["NAME"] = original_name
        if not keep:
            _admin_sql(params, f'DROP DATABASE IF EXISTS "{scratch}"')

    seconds = pgbench_seconds or max(5, round(sum(durations)))
    _admin_sql(params, f'DROP DATABASE IF EXISTS "{pgbench_db}"')
    _admin_sql(params, f'CREATE DATABASE "{pgbench_db}"')
    try:
        # Twice, the better run kept (the lower ratio): one run on this VM can lose most of its
        # disk to the host or to the dropped scratch database's writes (bench/BILLING.md).
        runs = [
            _run_pgbench(params, pgbench_db, seconds=seconds, clients=pgbench_clients, out=out)
            for _ in range(2)
        ]
        tps = max(runs)
    finally:
        if not keep:
            _admin_sql(params, f'DROP DATABASE IF EXISTS "{pgbench_db}"')

    target = 0.2 * settings.BILLING_TICK_SECONDS
    ratio = result["postings_per_second"] / tps
    result.update(pgbench_tps=tps, ratio=ratio, events=events, workers=workers)
    out("")
    out(
        f"billing: {sessions} consultations per tick, batches of {batch_size}, "
        f"{workers} worker{'s' if workers > 1 else ''}, events {'on' if events else 'off'}"
    )
    period = settings.BILLING_TICK_SECONDS
    out(
        f"  tick duration: mean {mean:.2f} s, best {best:.2f} s (within the {period} s period: "
        f"{'met' if mean < period else 'NOT met'}; within 20 % of it, {target:.1f} s: "
        f"{'met' if mean < target else 'NOT met'})"
    )
    out(f"  postings/s: {postings_per_second:,.0f}")
    load = f"load {os.getloadavg()[0]:.1f}"
    out(
        f"pgbench tpcb-like, {pgbench_clients} clients, {seconds} s: {tps:,.0f} TPS, the better "
        f"of {' and '.join(f'{r:,.0f}' for r in runs)} ({load})"
    )
    out(f"ratio postings/s : pgbench TPS = {ratio:.1f}x (target >= 6x)")
    return result


if __name__ == "__main__":  # python -m bench.billing [sessions]
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    run(sessions=int(sys.argv[1]) if len(sys.argv) > 1 else 40_000)
