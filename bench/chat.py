"""Chat load test: the real server (daphne + Redis + PostgreSQL) against two anchors.

S consultations x 2 sockets (client and consultant) each send `send_message` frames at a fixed
rate for a fixed time; the other side's receipt of each message is timed (send and receive are
both in this process, so one clock). Two anchors run in the same run, on the same machine:

* the relay (`bench/relay.py`): a bare `websockets` relay, no storage, no checks. The fixed
  load goes to it and to the chat server: `throughput chat/relay`.
* the floor (`bench/floor.py`): one asyncio process with `websockets` and psycopg 3 async that
  checks membership from memory, INSERTs the message and sends it to the peer, i.e. the least a
  stored, delivered message costs. Its saturation point (the highest offered rate with >= 99 %
  delivered and p99 <= 250 ms, found by doubling then bisecting, a few seconds a step) is
  compared with the chat server's: `saturation chat/floor`.
* daphne's own cost (`bench/daphne_relay.py`): the relay's protocol as a raw ASGI application
  served by daphne (no Django, no Channels, no storage). Its saturation point beside the
  floor's, `saturation daphne relay/floor`, bounds what any application on daphne can reach.

Each line carries the machine's load average at the time (the machine may be shared: the
ratios, measured minutes apart in the same run, are the figures to read).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_chat REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/chat.py --sockets 500 --rate 1 --duration 20 [--layer core] \\
        [--no-saturation] [--phase-seconds 5] [--processes 2]

The database named in DATABASE_URL is a scratch one: it is created if missing, migrated and
FLUSHED. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass
class Result:
    name: str
    sockets: int
    sent: int = 0
    delivered: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    load: str = ""  # the machine's load average when the phase ended
    cpu: float = 0.0  # CPU seconds the server spent on the phase (and its drain)
    closed: bool = False  # judged: later receipts are `late`, not delivered
    late: int = 0

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def offered(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_message(self) -> float:
        """The server's CPU milliseconds per message delivered."""
        return 1000 * self.cpu / self.delivered if self.delivered else float("nan")

    def saturated_ok(self) -> bool:
        """Within the saturation search's bounds: nearly all delivered, p99 short."""
        return (
            self.sent > 0
            and self.delivered >= SATURATION_DELIVERED * self.sent
            and self.percentile(99) <= SATURATION_P99_MS
        )

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<6} sockets={self.sockets:<5} sent={self.sent:<7} "
            f"delivered={self.delivered:<7} errors={self.errors:<4} "
            f"offered/s={self.offered:7.1f} delivered/s={self.rate:7.1f}  "
            f"p50={self.percentile(50):8.1f} ms  p99={self.percentile(99):8.1f} ms  "
            f"cpu/msg={self.cpu_per_message:6.2f} ms  ({self.load})"
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early: {process.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not start: {process.args}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- Scratch data -----------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


@dataclass
class Side:
    user_id: str
    token: str


def make_sessions(count: int) -> list[tuple[str, Side, Side]]:
    """`count` active chat consultations on fresh users: (session id, client, consultant).
    Flushes the scratch database first."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import Role, User
    from consultants.models import Category, ConsultantProfile
    from consultations.models import Consultation, Status

    call_command("migrate", verbosity=0, interactive=False)
    call_command("flush", verbosity=0, interactive=False)
    category, _ = Category.objects.get_or_create(slug="legal", defaults={"name": "Legal"})
    run = uuid.uuid4().hex[:6]
    clients = User.objects.bulk_create(
        User(email=f"c{i}.{run}@bench.test", name=f"Client {i}", role=Role.CLIENT, password="!")
        for i in range(count)
    )
    experts = User.objects.bulk_create(
        User(email=f"e{i}.{run}@bench.test", name=f"Expert {i}", role=Role.CONSULTANT, password="!")
        for i in range(count)
    )
    profiles = []
    for user in experts:
        profile = ConsultantProfile(
            user=user,
            category=category,
            rate_chat=1000,
            is_verified=True,
            verified_at=timezone.now(),
            is_online=True,
            is_busy=True,
        )
        profile.refresh_derived_fields()
        profiles.append(profile)
    ConsultantProfile.objects.bulk_create(profiles)
    now = timezone.now()
    sessions = Consultation.objects.bulk_create(
        Consultation(
            client=client,
            consultant=profile,
            channel="chat",
            status=Status.ACTIVE,
            rate_per_minute=1000,
            requested_at=now,
            started_at=now,
            last_billed_at=now,
        )
        for client, profile in zip(clients, profiles, strict=True)
    )
    return [
        (
            str(session.id),
            Side(str(client.id), str(AccessToken.for_user(client))),
            Side(str(expert.id), str(AccessToken.for_user(expert))),
        )
        for session, client, expert in zip(sessions, clients, experts, strict=True)
    ]


# --- Load -------------------------------------------------------------------------------------

# A saturation point: the highest offered rate at which at least this share of the messages is
# delivered with a p99 no higher than this (issue 16).
SATURATION_DELIVERED = 0.99
SATURATION_P99_MS = 250.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc): what the server spent,
    whatever else the machine was doing."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


class Fleet:
    """Open sockets, two a session, that send `send_message` frames in phases and time the
    other side's receipt of each (one clock: both ends are in this process)."""

    def __init__(self, name: str, chat: bool, pids: list[int] | None = None) -> None:
        self.name = name
        self.pids = pids or []  # the server's processes, whose CPU time each phase counts
        self.chat = chat  # contract frames (join, send_message, message) or the relay's own
        self.sockets: list[tuple[str, object, str]] = []  # (session id, socket, side)
        self.results: dict[int, Result] = {}
        self.receivers: list[asyncio.Task] = []
        self.last_receipt = 0.0

    async def open(self, urls: list[tuple[str, str, str]]) -> None:
        """`urls` = (session id, url of side A, url of side B)."""
        from websockets.asyncio.client import connect

        async def open_side(session_id: str, url: str):
            ws = await connect(url, compression=None, max_size=2**20, open_timeout=60)
            if self.chat:
                await ws.send(json.dumps({"type": "join_session", "session_id": session_id}))
                while json.loads(await ws.recv())["type"] != "session_joined":
                    pass
            return ws

        # opened in batches: a real fleet does not arrive in the same millisecond either
        for start in range(0, len(urls), 25):
            batch = urls[start : start + 25]
            opened = await asyncio.gather(
                *(open_side(sid, url) for sid, a, b in batch for url in (a, b))
            )
            for index, (sid, _, _) in enumerate(batch):
                self.sockets.append((sid, opened[2 * index], f"A{start + index}"))
                self.sockets.append((sid, opened[2 * index + 1], f"B{start + index}"))
        self.receivers = [
            asyncio.create_task(self.receive(ws, side)) for _, ws, side in self.sockets
        ]

    async def receive(self, ws, side: str) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "error":
                    if self.results:
                        self.results[max(self.results)].errors += 1
                    continue
                if self.chat and kind != "message":
                    continue
                body = json.loads(frame["message"]["body"] if self.chat else frame["body"])
                if body["side"] == side:
                    continue  # the sender's own copy (the chat room includes it)
                result = self.results[body["phase"]]
                self.last_receipt = time.monotonic()
                if result.closed:
                    result.late += 1  # after its phase was judged: not counted as delivered
                    continue
                result.delivered += 1
                result.latencies.append(time.time() - body["t"])
        except Exception:  # noqa: BLE001 - the socket closed at the end
            return

    async def idle(self, seconds: float) -> None:
        """Lets the server finish what the sockets' opening started (presence, subscriptions)
        before the load is timed; prints the CPU it spent meanwhile."""
        before = cpu_seconds(self.pids)
        await asyncio.sleep(seconds)
        spent = cpu_seconds(self.pids) - before
        print(f"{self.name}: {spent:.2f} s of CPU in the {seconds:g} s after opening", flush=True)

    async def settle(self, quiet: float = 2.0, limit: float = 60.0) -> None:
        """Waits until nothing has arrived for `quiet` seconds (at most `limit`): the backlog
        of a phase the server could not keep up with must not land in the next one."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.monotonic() - self.last_receipt < quiet:
            await asyncio.sleep(0.2)

    async def phase(self, rate: float, duration: float, *, drain: float = 10.0) -> Result:
        """Every socket sends `rate` messages a second for `duration` seconds; what arrives
        up to `drain` seconds after the last one was sent is counted (no longer: a message
        later than that is as good as lost)."""
        await self.settle()
        number = len(self.results) + 1
        result = self.results[number] = Result(name=self.name, sockets=len(self.sockets))
        cpu_before = cpu_seconds(self.pids)
        begin = time.time() + 0.5
        end = begin + duration

        async def sender(session_id: str, ws, side: str) -> None:
            step = 1 / rate
            at = begin + random.random() * step
            while at < end:
                await asyncio.sleep(max(0, at - time.time()))
                body = json.dumps({"side": side, "t": time.time(), "phase": number})
                frame = {
                    "type": "send_message",
                    "session_id": session_id,
                    "client_msg_id": str(uuid.uuid4()),
                    "body": body,
                }
                try:
                    await ws.send(json.dumps(frame))
                except Exception:  # noqa: BLE001 - the server closed it: counted, not fatal
                    result.errors += 1
                    return
                result.sent += 1
                at += step

        await asyncio.gather(*(sender(sid, ws, side) for sid, ws, side in self.sockets))
        result.seconds = duration
        result.load = load_average()
        deadline = time.monotonic() + drain
        while time.monotonic() < deadline and result.delivered < result.sent:
            await asyncio.sleep(0.1)
        result.closed = True
        result.cpu = cpu_seconds(self.pids) - cpu_before
        return result

    async def saturation(
        self, *, start: float, duration: float, steps: int = 3
    ) -> tuple[float, list[Result]]:
        """The highest offered rate (messages a second, all sockets together) that this server
        delivers within SATURATION_DELIVERED and SATURATION_P99_MS: doubled from `start` until
        a rate fails, then `steps` bisections between the last good and the first bad rate. A
        rate that fails is tried once more before it counts: one pause of the machine (a
        checkpoint, another process) is not the server's saturation."""
        per_socket = 1 / len(self.sockets)
        tried: list[Result] = []

        async def holds(rate: float) -> bool:
            for attempt in ("", " (again)"):
                result = await self.phase(rate * per_socket, duration)
                tried.append(result)
                ok = result.saturated_ok()
                print(f"  {result.line()}  {'ok' if ok else 'over'}{attempt}", flush=True)
                if ok:
                    return True
            return False

        good, bad = 0.0, None
        rate = start
        while bad is None and rate <= start * 2**10:
            if await holds(rate):
                good, rate = rate, rate * 2
            else:
                bad = rate
        for _ in range(steps if bad is not None else 0):
            rate = (good + bad) / 2
            if await holds(rate):
                good = rate
            else:
                bad = rate
        return good, tried

    async def close(self) -> None:
        for _, ws, _ in self.sockets:
            await ws.close()
        for task in self.receivers:
            task.cancel()


def start_profiler(path: str | None, pids: list[int], seconds: float):
    """py-spy (not a requirement: PY_SPY or `py-spy` on PATH) sampling the first daphne
    process for `seconds`, written as collapsed stacks to `path`. Only samples holding the GIL
    count (`--gil`): the CPU's time in Python. Without it a thread waiting in a system call, or
    waiting for the CPU while PostgreSQL runs on it, counts as busy in that call (psycopg's
    `_send_query_prepared` took 12 % of such samples and 0.2 % of `perf`'s)."""
    if not path:
        return None
    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (PY_SPY=/path/to/py-spy or on PATH)")
    return subprocess.Popen(  # noqa: S603 - a profiler of our own server
        [spy, "record", "--pid", str(pids[0]), "--duration", str(int(seconds)), "--rate", "200"]
        + ["--gil", "--format", "raw", "--nonblocking", "--output", path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def saturation_line(name: str, rate: float, anchor: str, anchor_rate: float) -> str:
    ratio = rate / anchor_rate if anchor_rate else float("nan")
    return f"saturation {name}/{anchor} = {ratio:.2f}x"


async def search(fleet: Fleet, args) -> float:
    """`fleet`'s saturation point, its steps printed as they go."""
    print(f"saturation search: {fleet.name} ({args.phase_seconds:g} s a step)", flush=True)
    rate, _ = await fleet.saturation(start=args.saturation_start, duration=args.phase_seconds)
    return rate


async def measure(
    args, relay_urls, chat_urls, floor_urls, daphne_relay_urls
) -> tuple[Result | None, Result, float | None, float | None, float | None]:
    """The fixed load on the relay and on the chat server (throughput), then the saturation
    points of the chat server, the floor and daphne's bare relay, all in this one run."""
    relay_result = None
    if not args.chat_only:
        relay = Fleet("relay", chat=False, pids=[args.relay_pid])
        await relay.open(relay_urls)
        relay_result = await relay.phase(args.rate, args.duration)
        await relay.close()

    chat = Fleet("chat", chat=True, pids=args.server_pids)
    await chat.open(chat_urls)
    await chat.idle(args.settle)
    profiler = start_profiler(args.profile, args.server_pids, args.duration)
    chat_result = await chat.phase(args.rate, args.duration)
    if profiler is not None:
        profiler.wait()
        print(f"profile: {args.profile} (py-spy, collapsed stacks; bench/flame.py sums them)")
    if relay_result is not None:
        print(relay_result.line(), flush=True)
    print(chat_result.line(), flush=True)
    chat_saturation = floor_saturation = daphne_saturation = None
    if args.saturation:
        chat_saturation = await search(chat, args)
    await chat.close()
    if args.saturation and not args.chat_only:
        floor = Fleet("floor", chat=True, pids=[args.floor_pid])
        await floor.open(floor_urls)
        floor_saturation = await search(floor, args)
        await floor.close()
        bare = Fleet("daphne relay", chat=False, pids=[args.daphne_relay_pid])
        await bare.open(daphne_relay_urls)
        daphne_saturation = await search(bare, args)
        await bare.close()
    return relay_result, chat_result, chat_saturation, floor_saturation, daphne_saturation


def main() -> None:
    parser = argparse.ArgumentParser(description="Chat load test: real server vs its anchors.")
    parser.add_argument("--sockets", type=int, default=500, help="sockets in all (2 a session)")
    parser.add_argument("--rate", type=float, default=1.0, help="messages a second per socket")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    parser.add_argument("--processes", type=int, default=1, help="daphne processes")
    parser.add_argument(
        "--layer",
        choices=["core", "pubsub"],
        default=os.environ.get("CHANNEL_LAYER_BACKEND", "pubsub"),
        help="channels-redis layer (CHANNEL_LAYER_BACKEND)",
    )
    parser.add_argument(
        "--no-saturation",
        dest="saturation",
        action="store_false",
        help="skip the saturation search (chat server and floor)",
    )
    parser.add_argument(
        "--chat-only",
        action="store_true",
        help="the chat server alone, no anchors (quick comparisons of two versions; no ratios)",
    )
    parser.add_argument(
        "--phase-seconds", type=float, default=5.0, help="seconds of sending per search step"
    )
    parser.add_argument(
        "--saturation-start",
        type=float,
        default=100.0,
        help="first offered rate of the search (messages a second, all sockets)",
    )
    parser.add_argument(
        "--settle", type=float, default=5.0, help="idle seconds after opening the sockets"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="py-spy the (first) daphne process during the fixed load into FILE (collapsed)",
    )
    args = parser.parse_args()

    database_url = os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_chat"
    )
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Production settings for the servers measured: DEBUG on keeps every query in memory and
    # costs about a fifth of the throughput. The secret is a throwaway for this run.
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-" + uuid.uuid4().hex * 2)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    # The offline gateway, allowed and keyed for this run only (nothing here pays).
    os.environ.setdefault("PAYMENT_GATEWAY", "local")
    os.environ.setdefault("ALLOW_OFFLINE_PAYMENTS", "1")
    for name in ("RAZORPAY_KEY_ID", "RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET"):
        os.environ.setdefault(name, "bench-" + uuid.uuid4().hex)
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", "benchchat")
    os.environ.setdefault("CACHE_KEY_PREFIX", "benchchat")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    ensure_database(database_url)
    sessions = make_sessions(args.sockets // 2)

    # The search's top rates need a per-socket frame allowance above them.
    top_per_socket = args.saturation_start * 2**10 / args.sockets if args.saturation else 0
    env = dict(
        os.environ,
        WS_RATE_LIMIT_PER_SECOND=str(int(max(20, args.rate * 4, top_per_socket * 2))),
        CHANNEL_LAYER_BACKEND=args.layer,
    )
    ports = [free_port() for _ in range(args.processes)]
    servers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(port)]
            # a loaded machine may take longer than daphne's 5 s to accept a burst of sockets
            + ["--websocket_connect_timeout", "60", "config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    relay_port, floor_port, daphne_relay_port = free_port(), free_port(), free_port()
    daphne_relay = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(daphne_relay_port)]
        + ["--websocket_connect_timeout", "60", "bench.daphne_relay:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    relay = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "relay.py"), "--port", str(relay_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    floor = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "floor.py"), "--port", str(floor_port)]
        + ["--database", database_url],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_port(port, server)
        wait_port(relay_port, relay)
        wait_port(floor_port, floor)
        wait_port(daphne_relay_port, daphne_relay)
        args.server_pids = [server.pid for server in servers]
        args.relay_pid, args.floor_pid = relay.pid, floor.pid
        args.daphne_relay_pid = daphne_relay.pid
        chat_urls, floor_urls, relay_urls, daphne_relay_urls = [], [], [], []
        for index, (sid, client, expert) in enumerate(sessions):
            # with several processes, the two sides of a session sit on different ones
            a = ports[index % len(ports)]
            b = ports[(index + 1) % len(ports)]
            chat_urls.append(
                (
                    sid,
                    f"ws://127.0.0.1:{a}/ws/?token={client.token}",
                    f"ws://127.0.0.1:{b}/ws/?token={expert.token}",
                )
            )
            floor_urls.append(
                (
                    sid,
                    f"ws://127.0.0.1:{floor_port}/?user={client.user_id}",
                    f"ws://127.0.0.1:{floor_port}/?user={expert.user_id}",
                )
            )
            for urls, port in ((relay_urls, relay_port), (daphne_relay_urls, daphne_relay_port)):
                room = f"ws://127.0.0.1:{port}/?room={sid}"  # both sides join the same room
                urls.append((sid, room, room))
        relay_result, chat_result, chat_saturation, floor_saturation, daphne_saturation = (
            asyncio.run(measure(args, relay_urls, chat_urls, floor_urls, daphne_relay_urls))
        )
    finally:
        for process in [*servers, relay, floor, daphne_relay]:
            stop(process)

    offered = args.sockets * args.rate
    print(
        f"load: {args.sockets} sockets ({args.sockets // 2} sessions), {args.rate:g} msg/s each "
        f"({offered:g} msg/s offered), {args.duration:g} s, {args.processes} daphne process(es), "
        f"{args.layer} channel layer"
    )
    if relay_result is None:
        print(chat_result.line())
        if chat_saturation is not None:
            print(f"saturation: chat {chat_saturation:.0f} msg/s   ({load_average()})")
        return
    print(relay_result.line())
    print(chat_result.line())
    throughput = chat_result.rate / relay_result.rate if relay_result.rate else float("nan")
    p99 = chat_result.percentile(99) / relay_result.percentile(99)
    print(
        f"ratio    throughput chat/relay = {throughput:.2f}x (target >= 0.95x)   "
        f"p99 chat/relay = {p99:.1f}x   p50 chat/relay = "
        f"{chat_result.percentile(50) / relay_result.percentile(50):.1f}x   ({chat_result.load})"
    )
    if chat_saturation is not None and floor_saturation is not None:
        print(
            f"saturation (>= {SATURATION_DELIVERED:.0%} delivered, p99 <= "
            f"{SATURATION_P99_MS:g} ms): chat {chat_saturation:.0f} msg/s, "
            f"floor {floor_saturation:.0f} msg/s"
        )
        print(
            f"ratio    {saturation_line('chat', chat_saturation, 'floor', floor_saturation)} "
            f"(target >= 0.5x)   ({load_average()})"
        )
    if daphne_saturation is not None and floor_saturation is not None:
        bound = saturation_line("daphne relay", daphne_saturation, "floor", floor_saturation)
        print(
            f"ratio    {bound} (daphne alone, {daphne_saturation:.0f} msg/s: no application "
            "served by daphne goes further)"
        )
    if chat_result.errors:
        print(f"note: the chat server answered {chat_result.errors} error frames")


if __name__ == "__main__":
    main()
