"""`make chaos`: the platform as real processes, killed and restarted, and the money checked.

Starts a PostgreSQL and a Redis of its own on spare ports (the machine's servers are never
touched), two daphne processes, two Celery workers and Celery beat, all in production mode
(DEBUG=0, JSON logs, a shared metrics folder), opens a few hundred active consultations with a
WebSocket for each participant (clients reconnect to the other daphne when theirs goes away),
then injects, one after the other:

1. `kill -9` of a Celery worker while it is inside a billing batch's transaction;
2. beat killed and restarted; then two beats at once;
3. a daphne killed with its sockets open (the other one keeps serving; clients reconnect);
4. Redis stopped for 10 s and started again;
5. PostgreSQL restarted.

After each it waits for recovery and checks: every consultation's total equals
`floor(rate x billed / 60)`; its ledger charges add up to that total (no second billed twice);
every second from acceptance to its last billing is either billed or paused by the presence
rules (no second lost), and no more seconds are billed than have passed; `reconcile_ledger` is
clean; every consultation is still active; billing is caught up (lag within two ticks). Prints a
table: what was injected, how long recovery took, what was checked. Exits 1 on any failure.

Bounded: every wait has a deadline and the whole run stops itself (`--deadline`, 540 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = Path(sys.executable)
TICK = 2  # seconds: a quick clock, so each recovery is measured in ticks of seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        sys.exit("make chaos needs PostgreSQL's server binaries (Debian: postgresql)")
    return found[-1].parent


def say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S', time.gmtime())}  {message}", flush=True)


class Failed(Exception):
    pass


def wait_until(condition, *, timeout: float, every: float = 0.2, what: str, progress=None) -> float:
    """Seconds until `condition()` held; Failed after `timeout` (with `progress()` if given,
    which is also printed every 15 s of waiting)."""
    started = last = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - a dependency still down: try again
            pass
        if progress is not None and time.monotonic() - last >= 15:
            last = time.monotonic()
            say(f"    waiting for {what}: {progress()}")
        time.sleep(every)
    raise Failed(f"{what}: not within {timeout:.0f} s" + (f" ({progress()})" if progress else ""))


def wait_until_value(read, *, timeout: float, what: str):
    """`read()`'s first answer that did not raise."""
    answer = []
    wait_until(lambda: answer.append(read()) or True, timeout=timeout, what=what)
    return answer[-1]


# --- The servers of our own --------------------------------------------------------------------


class Postgres:
    def __init__(self, work: Path, port: int):
        self.bin, self.port = pg_bin(), port
        self.data = work / "pgdata"
        self.log = work / "postgres.log"
        self.as_pg: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: the server runs as the postgres user
            self.as_pg = ["runuser", "-u", "postgres", "--"]
            shutil.chown(work, "postgres")

    def run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - PostgreSQL's own tools with our arguments
            [*self.as_pg, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def create(self) -> None:
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.data}'\nmax_connections = 300\n"
                "shared_buffers = 64MB\nsynchronous_commit = off\n"
            )
        self.start()
        self.run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
            "postgres", "consult",
        )  # fmt: skip

    def start(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def restart(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        subprocess.run(  # noqa: S603
            [*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
             "stop"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def url(self, application: str = "chaos") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/consult?application_name={application}"


class Redis:
    def __init__(self, work: Path, port: int):
        self.port, self.work = port, work
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.work)],
            stdout=(self.work / "redis.log").open("a"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self.answers, timeout=20, what="redis start")

    def answers(self) -> bool:
        result = subprocess.run(  # noqa: S603
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, timeout=5
        )
        return result.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)  # a crash: nothing is kept anyway
            self.process.wait(timeout=10)

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


# --- The platform's processes ------------------------------------------------------------------


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Process:
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.args,
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def kill(self) -> None:
        if self.popen and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Platform:
    def __init__(self, work: Path, pg: Postgres, redis: Redis, sessions: int):
        self.work, self.pg, self.redis = work, pg, redis
        self.metrics = work / "metrics"
        self.metrics.mkdir()
        self.base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "PYTEST"))},
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "JWT_ACCESS_MINUTES": "60",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "PAYMENT_GATEWAY": "local",
            "ALLOW_OFFLINE_PAYMENTS": "1",
            "RAZORPAY_KEY_ID": "rzp_test_chaos",
            "RAZORPAY_KEY_SECRET": secrets.token_urlsafe(24),
            "RAZORPAY_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "REDIS_URL": redis.url(),
            "DATABASE_URL": pg.url(),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "METRICS_TOKEN": "chaos",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics),
            "BILLING_TICK_SECONDS": str(TICK),
            "BILLING_BATCH_SIZE": str(max(10, sessions // 20)),  # ~20 batches: kills land inside
            "CELERY_TASK_TIME_LIMIT": "20",  # a killed worker's tick is redelivered in 40 s
            "CELERY_TASK_SOFT_TIME_LIMIT": "15",
            "THROTTLE_RATE_USER": "100000/min",
            "WS_RATE_LIMIT_PER_SECOND": "200",
        }
        self.daphne_ports = [free_port(), free_port()]
        celery = str(PYTHON.with_name("celery"))
        self.daphnes = [
            self.process(
                f"daphne-{i + 1}",
                [
                    str(PYTHON),
                    "-m",
                    "config.serve",
                    "-v",
                    "0",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "config.asgi:application",
                ],
                application=f"chaos-daphne-{i + 1}",
            )  # fmt: skip
            for i, port in enumerate(self.daphne_ports)
        ]
        self.workers = [
            self.process(
                f"worker-{i + 1}",
                [
                    celery,
                    "-A",
                    "config",
                    "-q",
                    "worker",
                    "--pool=solo",
                    "-n",
                    f"chaos-{i + 1}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
                application=f"chaos-worker-{i + 1}",
            )  # fmt: skip
            for i in range(2)
        ]
        self.beats = [self.beat(1), self.beat(2)]

    def process(self, name: str, args: list[str], *, application: str) -> Process:
        env = dict(self.base_env, DATABASE_URL=self.pg.url(application))
        return Process(name, args, env, self.work / f"{name}.log")

    def beat(self, n: int) -> Process:
        celery = str(PYTHON.with_name("celery"))
        return self.process(
            f"beat-{n}",
            [celery, "-A", "config", "-q", "beat", "--loglevel=INFO",
             "-s", str(self.work / f"beat-{n}.schedule"), "--pidfile="],
            application=f"chaos-beat-{n}",
        )  # fmt: skip

    def all(self) -> list[Process]:
        return [*self.daphnes, *self.workers, *self.beats]

    def manage(self, *args: str) -> None:
        subprocess.run(  # noqa: S603
            [str(PYTHON), "manage.py", *args],
            cwd=ROOT,
            env=self.base_env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def healthy(self, port: int) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as answer:  # noqa: S310
            return answer.status == 200

    def ticks(self) -> float:
        """Billing ticks run so far, by every worker (from daphne-2's /metrics)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.daphne_ports[1]}/metrics",
            headers={"Authorization": "Bearer chaos"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            for line in answer.read().decode().splitlines():
                if line.startswith('consult_billing_ticks_total{result="ok"}'):
                    return float(line.split()[-1])
        return 0.0

    def non_json_lines(self) -> list[str]:
        bad = []
        for process in self.all():
            if not process.log.exists():
                continue
            for line in process.log.read_text(errors="replace").splitlines():
                if line.strip():
                    try:
                        json.loads(line)
                    except ValueError:
                        bad.append(f"{process.name}: {line[:160]}")
        return bad


# --- The sockets -------------------------------------------------------------------------------


@dataclass
class Sockets:
    """One WebSocket per participant; a closed one reconnects to the next daphne."""

    urls: list[str]
    tokens: list[tuple[str, int]]  # (token, preferred server)
    connected: set[int] = field(default_factory=set)
    on_server: dict[int, int] = field(default_factory=dict)  # socket -> daphne it is open on
    frames: dict[int, int] = field(default_factory=dict)  # second -> frames received
    reconnects: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # why a connection ended or failed
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run_one(self, index: int) -> None:
        import websockets

        token, server = self.tokens[index]
        attempt = 0
        while not self.stop.is_set():
            url = f"{self.urls[server % len(self.urls)]}?token={token}"
            try:
                async with websockets.connect(url, open_timeout=20, ping_interval=5) as ws:
                    self.connected.add(index)
                    self.on_server[index] = server % len(self.urls)
                    attempt = 0
                    async for _ in ws:
                        second = int(time.monotonic())
                        self.frames[second] = self.frames.get(second, 0) + 1
                        if self.stop.is_set():
                            break
            except Exception as error:  # noqa: BLE001 - the server went away: reconnect
                kind = type(error).__name__
                self.failures[kind] = self.failures.get(kind, 0) + 1
            self.connected.discard(index)
            self.on_server.pop(index, None)
            if self.stop.is_set():
                return
            self.reconnects += 1
            server += 1  # the other daphne
            attempt += 1
            # What a well-behaved client does: exponential backoff with full jitter, so that
            # hundreds of sockets cut at once do not come back at once.
            await asyncio.sleep(random.uniform(0, min(8.0, 0.5 * 2**attempt)))

    def open_on(self, server: int) -> int:
        return sum(1 for s in list(self.on_server.values()) if s == server)

    def rate(self, start: float, end: float) -> list[int]:
        return [self.frames.get(s, 0) for s in range(int(start), int(end))]


class SocketThread:
    """The sockets' event loop in a thread of its own; the checks run in the main thread."""

    def __init__(self, sockets: Sockets):
        import threading

        self.sockets = sockets
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        tasks = [self.sockets.run_one(i) for i in range(len(self.sockets.tokens))]
        self.loop.run_until_complete(asyncio.gather(*tasks))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.sockets.stop.set)
        self.thread.join(timeout=20)


# --- The checks --------------------------------------------------------------------------------


def books_check(ids: list, tick: int) -> tuple[str, dict]:
    """Every invariant the issue names, over every consultation of the run, read in one
    snapshot (REPEATABLE READ) while the ticks go on."""
    from django.db import close_old_connections, transaction

    close_old_connections()
    with transaction.atomic():
        return _books_check(ids, tick)


def _books_check(ids: list, tick: int) -> tuple[str, dict]:
    from django.db import connection

    from wallets.reconcile import check_ledger

    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SELECT now()")  # the snapshot's own time: what has passed by it
        (now,) = cursor.fetchone()
        cursor.execute(
            """
            SELECT c.id, c.status, c.rate_per_minute, c.billed_seconds, c.total_amount,
                   c.started_at, c.last_billed_at, EXTRACT(EPOCH FROM c.paused),
                   COALESCE((SELECT -SUM(e.amount) FROM wallets_ledgerentry e
                             JOIN wallets_ledgertransaction t ON t.id = e.transaction_id
                             JOIN wallets_account a ON a.id = e.account_id
                             WHERE t.reference_type = 'consultation'
                               AND t.reference_id = c.id::text
                               AND e.kind = 'consultation_charge'
                               AND a.user_id = c.client_id), 0)
            FROM consultations_consultation c WHERE c.id = ANY(%s)
            """,
            [list(ids)],
        )
        rows = cursor.fetchall()
    problems: list[str] = []
    paused_total = 0.0
    paused_rows = 0
    worst_lag = 0.0
    for cid, status, rate, billed, total, started, last, paused, charged in rows:
        paused = float(paused or 0)
        if status != "active":
            problems.append(f"{cid} is {status}")
        if total != rate * billed // 60:
            problems.append(f"{cid}: total {total} != floor({rate} x {billed} / 60)")
        if charged != total:
            problems.append(f"{cid}: ledger charges {charged} != total {total}")
        elapsed_to_last = (last - started).total_seconds()
        if billed > (now - started).total_seconds():
            problems.append(
                f"{cid}: {billed} s billed, only {(now - started).total_seconds()} passed"
            )
        # Every second up to the last billing is billed or paused (presence rules).
        if billed + paused < elapsed_to_last - 1:
            problems.append(
                f"{cid}: {elapsed_to_last - billed - paused:.0f} s neither billed nor paused"
            )
        if paused:
            paused_total += paused
            paused_rows += 1
        worst_lag = max(worst_lag, (now - last).total_seconds())
    if worst_lag > 2 * tick + 1:
        problems.append(f"billing lags {worst_lag:.1f} s")
    report = check_ledger()
    problems += [f"reconcile_ledger: {v}" for v in report.violations[:5]]
    if problems:
        raise Failed(
            "; ".join(problems[:8]) + (f" (+{len(problems) - 8})" if len(problems) > 8 else "")
        )
    billed_total = sum(row[3] for row in rows)
    return (
        f"{len(rows)} totals = floor(rate x s / 60), ledger = totals, {billed_total} s billed, "
        f"none lost"
        + (f" ({paused_total:.0f} s paused on {paused_rows})" if paused_rows else "")
        + ", reconcile clean",
        {"billed": billed_total, "paused": paused_total},
    )


def lag_seconds(ids: list) -> float:
    from django.db import close_old_connections, connection

    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXTRACT(EPOCH FROM now() - MIN(last_billed_at)) FROM "
            "consultations_consultation WHERE id = ANY(%s) AND status = 'active'",
            [list(ids)],
        )
        return float(cursor.fetchone()[0] or 0)


def caught_up(ids: list) -> bool:
    return lag_seconds(ids) <= 2 * TICK


def db_now():
    from django.db import close_old_connections, connection

    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        return cursor.fetchone()[0]


def all_billed_since(ids: list, moment) -> bool:
    """Every consultation has been billed by a tick that started after `moment`."""
    from django.db import close_old_connections, connection

    close_old_connections()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM consultations_consultation WHERE id = ANY(%s) "
            "AND status = 'active' AND last_billed_at <= %s",
            [list(ids), moment],
        )
        return cursor.fetchone()[0] == 0


def in_batch(application: str) -> bool:
    """The process is inside a database transaction (a billing batch) right now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND xact_start IS NOT NULL AND state <> 'idle'",
            [application],
        )
        return cursor.fetchone()[0] > 0


# --- The run ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description="make chaos")
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--deadline", type=float, default=540.0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="consult-chaos-"))
    os.chmod(work, 0o755)
    pg = Postgres(work, free_port())
    redis = Redis(work, free_port())
    platform = None
    sockets_thread = None
    rows: list[tuple[str, str, str]] = []

    def out_of_time(signum, frame):
        raise Failed(f"the run passed its deadline of {args.deadline:.0f} s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(int(args.deadline))
    try:
        say(f"own PostgreSQL on :{pg.port}, own Redis on :{redis.port}, work folder {work}")
        pg.create()
        redis.start()
        platform = Platform(work, pg, redis, args.sessions)
        os.environ.update(platform.base_env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        sys.path.insert(0, str(ROOT))
        platform.manage("migrate", "--noinput", "-v0")
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.utils import timezone

        from accounts.tokens import issue_tokens
        from consultations.loadgen import create_active_sessions
        from consultations.models import Consultation

        say("starting daphne x2, Celery worker x2, beat")
        for process in [*platform.daphnes, *platform.workers, platform.beats[0]]:
            process.start()
        for port in platform.daphne_ports:
            wait_until(lambda p=port: platform.healthy(p), timeout=60, what=f"daphne :{port}")

        say(f"{args.sessions} active consultations, a socket for each participant")
        ids = create_active_sessions(args.sessions, started_at=timezone.now(), balance=50_000_000)
        users = {u.id: u for u in get_user_model().objects.filter(
            id__in=[*Consultation.objects.filter(id__in=ids).values_list("client_id", flat=True),
                    *Consultation.objects.filter(id__in=ids).values_list(
                        "consultant__user_id", flat=True)])}  # fmt: skip
        tokens = [(issue_tokens(user).access, i % 2) for i, user in enumerate(users.values())]
        urls = [f"ws://127.0.0.1:{port}/ws/" for port in platform.daphne_ports]
        sockets = Sockets(urls, tokens)
        sockets_thread = SocketThread(sockets)
        sockets_thread.start()
        took = wait_until(
            lambda: len(sockets.connected) == len(tokens), timeout=120, what="all sockets open",
            progress=lambda: f"{len(sockets.connected)}/{len(tokens)} open, {sockets.failures}",
        )  # fmt: skip
        say(f"  {len(tokens)} sockets open in {took:.1f} s")
        wait_until(lambda: caught_up(ids), timeout=30, what="first ticks")
        time.sleep(3 * TICK)
        summary, _ = books_check(ids, TICK)
        rows.append(("baseline (no injection)", "-", summary))
        say(f"  baseline: {summary}")

        def settle_and_check(label: str, recovery: str) -> None:
            time.sleep(2 * TICK)  # a couple of ticks after recovery, then the books
            summary, _ = books_check(ids, TICK)
            rows.append((label, recovery, summary))
            say(f"  {label}: recovered in {recovery}; {summary}")

        # 1. kill -9 of a worker inside a billing batch ------------------------------------
        say("1. kill -9 of a Celery worker inside a billing batch")
        victim = platform.workers[0]
        wait_until(
            lambda: in_batch("chaos-worker-1"), timeout=60, every=0.002,
            what="worker-1 inside a batch",
        )  # fmt: skip
        victim.kill()
        killed_at, killed_db = time.monotonic(), db_now()
        victim.start()  # the supervisor (k8s, systemd) starts it again
        wait_until(
            lambda: all_billed_since(ids, killed_db), timeout=60, what="billing after the kill"
        )
        settle_and_check(
            "kill -9 worker-1 inside a billing batch (then restarted)",
            f"{time.monotonic() - killed_at:.1f} s (every consultation billed again)",
        )

        # 2a. beat killed, restarted ---------------------------------------------------------
        say("2. beat killed and restarted; then two beats at once")
        platform.beats[0].kill()
        time.sleep(3 * TICK)  # no clock for a while: billing falls behind
        behind = lag_seconds(ids)
        platform.beats[0].start()
        restarted, restarted_db = time.monotonic(), db_now()
        wait_until(
            lambda: all_billed_since(ids, restarted_db), timeout=60, what="billing after beat"
        )
        settle_and_check(
            f"beat killed for {3 * TICK} s (billing {behind:.0f} s behind), restarted",
            f"{time.monotonic() - restarted:.1f} s (every consultation billed)",
        )
        # 2b. two beats at once ------------------------------------------------------------
        second = platform.beats[1]
        second.start()
        wait_until(
            lambda: "Sending due task" in second.log.read_text(errors="replace"),
            timeout=90, what="the second beat sending ticks",
        )  # fmt: skip
        ticks_before = platform.ticks()
        time.sleep(6 * TICK)
        ticks = platform.ticks() - ticks_before
        second.kill()
        settle_and_check(
            f"two beats at once for {6 * TICK} s ({ticks:.0f} ticks ran where one beat "
            f"sends {6 * TICK // TICK})",
            "- (no outage)",
        )

        # 3. a daphne killed with its sockets open ------------------------------------------
        say("3. daphne-1 killed with its sockets open")
        on_first = sockets.open_on(0)
        reconnects = sockets.reconnects
        platform.daphnes[0].kill()
        killed_at = time.monotonic()
        wait_until(
            lambda: sockets.open_on(0) == 0 and len(sockets.connected) == len(tokens),
            timeout=120, what="sockets back on daphne-2",
            progress=lambda: f"{len(sockets.connected)}/{len(tokens)} open, "
            f"{sockets.open_on(0)} still on daphne-1, "
            f"{sockets.reconnects - reconnects} reconnects, {sockets.failures}",
        )  # fmt: skip
        back = time.monotonic() - killed_at
        platform.daphnes[0].start()
        wait_until(lambda: platform.healthy(platform.daphne_ports[0]), timeout=60, what="daphne-1")
        settle_and_check(
            f"kill -9 daphne-1 ({on_first} sockets open)", f"{back:.1f} s (all sockets back)"
        )

        # 4. Redis stopped for 10 s -----------------------------------------------------------
        say("4. Redis stopped for 10 s")
        before = time.monotonic()
        steady = sockets.rate(before - 5 * TICK, before)
        reconnects = sockets.reconnects
        redis.stop()
        time.sleep(10)
        redis.start()
        restarted, restarted_db = time.monotonic(), db_now()
        wait_until(
            lambda: all_billed_since(ids, restarted_db), timeout=90, what="billing after Redis"
        )
        wait_until(
            lambda: len(sockets.connected) == len(tokens), timeout=120, what="sockets after Redis"
        )
        recovered = time.monotonic() - restarted
        from consultations.presence import State, seen

        user_ids = list(users)
        wait_until(
            lambda: all(s.state == State.ONLINE for s in seen(user_ids).values()),
            timeout=60, every=0.5, what="presence rebuilt",
        )  # fmt: skip
        rebuilt = time.monotonic() - restarted
        time.sleep(3 * TICK)
        after = sockets.rate(restarted, time.monotonic())
        normal = max(1, max(steady or [1]))
        if max(after or [0]) > 3 * normal:
            raise Failed(f"frame storm after Redis came back: {max(after)}/s vs {normal}/s")
        settle_and_check(
            f"Redis stopped for 10 s ({sockets.reconnects - reconnects} socket reconnects)",
            f"{recovered:.1f} s (billing, sockets); presence rebuilt {rebuilt:.1f} s; "
            f"frames peak {max(after or [0])}/s vs {normal}/s before",
        )

        # 5. PostgreSQL restarted ------------------------------------------------------------
        say("5. PostgreSQL restarted")
        pids = {p.name: p.pid for p in platform.all() if p.alive()}
        pg.restart()
        restarted = time.monotonic()
        restarted_db = wait_until_value(db_now, timeout=60, what="PostgreSQL back")
        wait_until(
            lambda: all(platform.healthy(port) for port in platform.daphne_ports),
            timeout=60, what="daphne healthy after PostgreSQL",
        )  # fmt: skip
        wait_until(lambda: all_billed_since(ids, restarted_db), timeout=60, what="billing after PG")
        same = {p.name: p.pid for p in platform.all() if p.alive()}
        if same != pids:
            raise Failed(f"a process restarted: {pids} -> {same}")
        settle_and_check(
            "PostgreSQL restarted (no process restarted)", f"{time.monotonic() - restarted:.1f} s"
        )

        bad = platform.non_json_lines()
        rows.append(
            ("every process's log lines", "-", "all JSON" if not bad else f"{len(bad)} not JSON")
        )
        if bad:
            raise Failed("log lines that are not JSON: " + " | ".join(bad[:3]))
        print_table(rows, time.monotonic() - started, args.sessions)
        return 0
    except Failed as failure:
        print_table(rows, time.monotonic() - started, args.sessions)
        say(f"FAILED: {failure}")
        say(f"logs kept in {work}")
        args.keep = True
        return 1
    finally:
        signal.alarm(0)
        if sockets_thread is not None:
            sockets_thread.stop()
        if platform is not None:
            for process in platform.all():
                process.kill()
        redis.stop()
        pg.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def print_table(rows: list[tuple[str, str, str]], seconds: float, sessions: int) -> None:
    print()
    print(f"make chaos: {sessions} consultations, {2 * sessions} sockets, tick {TICK} s, "
          f"{seconds:.0f} s in all")  # fmt: skip
    print()
    print("| injection | recovery | checked |")
    print("| --- | --- | --- |")
    for injection, recovery, checked in rows:
        print(f"| {injection} | {recovery} | {checked} |")
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
