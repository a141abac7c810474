"""Chat load test: the real server (daphne + Redis + PostgreSQL) against a bare relay.

S consultations x 2 sockets (client and consultant) each send `send_message` frames at a fixed
rate for a fixed time; the other side's receipt of each message is timed (send and receive are
both in this process, so one clock). The same sockets and the same load then go to
`bench/relay.py`, a bare `websockets` relay, in the same run. Printed: delivered messages a
second and p50/p99 send-to-receive latency for each, and the ratios.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_chat REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/chat.py --sockets 500 --rate 1 --duration 20 [--layer core]

The database named in DATABASE_URL is a scratch one: it is created if missing, migrated and
FLUSHED. Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
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

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<8} sockets={self.sockets:<5} sent={self.sent:<7} "
            f"delivered={self.delivered:<7} errors={self.errors:<5} "
            f"msgs/s={self.rate:8.1f}  p50={self.percentile(50):8.1f} ms  "
            f"p99={self.percentile(99):8.1f} ms"
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


def make_sessions(count: int) -> list[tuple[str, str, str]]:
    """`count` active chat consultations on fresh users: (session id, client token, consultant
    token). Flushes the scratch database first."""
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
            str(AccessToken.for_user(client)),
            str(AccessToken.for_user(expert)),
        )
        for session, client, expert in zip(sessions, clients, experts, strict=True)
    ]


# --- Load -------------------------------------------------------------------------------------


async def run_load(
    name: str,
    urls: list[tuple[str, str, str]],
    *,
    rate: float,
    duration: float,
    chat: bool,
) -> Result:
    """`urls` = (session id, url of side A, url of side B). Each socket sends `rate` messages a
    second for `duration` seconds; the other side's receipts are timed."""
    from websockets.asyncio.client import connect

    result = Result(name=name, sockets=2 * len(urls))
    sockets = []

    async def open_side(session_id: str, url: str):
        ws = await connect(url, compression=None, max_size=2**20, open_timeout=60)
        if chat:
            await ws.send(json.dumps({"type": "join_session", "session_id": session_id}))
            while json.loads(await ws.recv())["type"] != "session_joined":
                pass
        return ws

    # open in batches: a real fleet does not arrive in the same millisecond either
    for start in range(0, len(urls), 50):
        batch = urls[start : start + 50]
        opened = await asyncio.gather(
            *(open_side(sid, url) for sid, a, b in batch for url in (a, b))
        )
        for index, (sid, _, _) in enumerate(batch):
            sockets.append((sid, opened[2 * index], f"A{start + index}"))
            sockets.append((sid, opened[2 * index + 1], f"B{start + index}"))

    begin = time.time() + 1.0
    end = begin + duration

    async def sender(session_id: str, ws, side: str) -> None:
        step = 1 / rate
        at = begin + random.random() * step
        while at < end:
            await asyncio.sleep(max(0, at - time.time()))
            body = json.dumps({"side": side, "t": time.time()})
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

    async def receiver(ws, side: str) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "error":
                    result.errors += 1
                    continue
                if chat and kind != "message":
                    continue
                body = json.loads(frame["message"]["body"] if chat else frame["body"])
                if body["side"] == side:
                    continue  # the sender's own copy (the chat room includes it)
                result.delivered += 1
                result.latencies.append(time.time() - body["t"])
        except Exception:  # noqa: BLE001 - the socket closed at the end
            return

    receivers = [asyncio.create_task(receiver(ws, side)) for _, ws, side in sockets]
    await asyncio.gather(*(sender(sid, ws, side) for sid, ws, side in sockets))
    await asyncio.sleep(3)  # let the last messages arrive
    result.seconds = duration
    for _, ws, _ in sockets:
        await ws.close()
    for task in receivers:
        task.cancel()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Chat load test: real server vs a bare relay.")
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

    env = dict(
        os.environ,
        WS_RATE_LIMIT_PER_SECOND=str(max(20, int(args.rate * 4))),
        CHANNEL_LAYER_BACKEND=args.layer,
    )
    ports = [free_port() for _ in range(args.processes)]
    servers = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
            + ["config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for port in ports
    ]
    relay_port = free_port()
    relay = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "relay.py"), "--port", str(relay_port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_port(port, server)
        wait_port(relay_port, relay)
        chat_urls = []
        for index, (sid, client_token, expert_token) in enumerate(sessions):
            # with several processes, the two sides of a session sit on different ones
            a = ports[index % len(ports)]
            b = ports[(index + 1) % len(ports)]
            chat_urls.append(
                (
                    sid,
                    f"ws://127.0.0.1:{a}/ws/?token={client_token}",
                    f"ws://127.0.0.1:{b}/ws/?token={expert_token}",
                )
            )
        relay_urls = [
            (
                sid,
                f"ws://127.0.0.1:{relay_port}/?room={sid}",
                f"ws://127.0.0.1:{relay_port}/?room={sid}",
            )
            for sid, _, _ in sessions
        ]
        load = {"rate": args.rate, "duration": args.duration}
        relay_result = asyncio.run(run_load("relay", relay_urls, chat=False, **load))
        chat_result = asyncio.run(run_load("chat", chat_urls, chat=True, **load))
    finally:
        for process in [*servers, relay]:
            stop(process)

    offered = args.sockets * args.rate
    print(
        f"load: {args.sockets} sockets ({args.sockets // 2} sessions), {args.rate:g} msg/s each "
        f"({offered:g} msg/s offered), {args.duration:g} s, {args.processes} daphne process(es), "
        f"{args.layer} channel layer"
    )
    print(relay_result.line())
    print(chat_result.line())
    throughput = chat_result.rate / relay_result.rate if relay_result.rate else float("nan")
    p99 = chat_result.percentile(99) / relay_result.percentile(99)
    print(
        f"ratio    throughput chat/relay = {throughput:.2f}x (target >= 0.25x)   "
        f"p99 chat/relay = {p99:.1f}x (target <= 3x)   p50 chat/relay = "
        f"{chat_result.percentile(50) / relay_result.percentile(50):.1f}x"
    )
    if chat_result.errors:
        print(f"note: the chat server answered {chat_result.errors} error frames")


if __name__ == "__main__":
    main()
