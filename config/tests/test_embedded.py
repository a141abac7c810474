"""The embedded mode (`make run`: SQLite, no Redis) bills through the same engine: a real
SQLite database in a subprocess, with the settings the embedded mode has."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
from datetime import UTC, datetime, timedelta

import time_machine

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations import presence, services
from wallets.reconcile import check_ledger
from wallets.services import wallet_for
from wallets.tests.factories import fund

start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
users = []


def connect(user):
    users.append(user.id)
    presence.socket_opened(user.id, f"socket-{user.id}")


def wait(seconds):  # the sockets beat as time passes
    for _ in range(seconds):
        traveller.shift(1)
        for user_id in users:
            presence.socket_heartbeat(user_id, f"socket-{user_id}")


with time_machine.travel(start, tick=False) as traveller:
    client = ClientFactory()
    fund(client, 1_000)
    consultant = OnlineConsultantFactory(rate_chat=600)
    connect(client)
    connect(consultant.user)
    pending = services.start_consultation(
        client=client, consultant_id=consultant.id, channel="chat"
    )
    row = services.accept_consultation(consultation_id=pending.id, actor=consultant.user)
    wait(10)
    services.bill_due_consultations()
    wait(12)
    services.end_consultation(consultation_id=row.id, actor=client)
    row.refresh_from_db()
    other = ClientFactory()
    fund(other, 755)
    second = OnlineConsultantFactory(rate_chat=600)
    connect(other)
    connect(second.user)
    pending = services.start_consultation(client=other, consultant_id=second.id, channel="chat")
    dry = services.accept_consultation(consultation_id=pending.id, actor=second.user)
    wait(75)
    services.end_due_consultations()
    dry.refresh_from_db()
print(json.dumps({
    "billed": row.billed_seconds, "total": row.total_amount, "status": row.status,
    "balance": wallet_for(user=client).balance,
    "dry": [dry.status, dry.end_reason, dry.billed_seconds],
    "ledger": check_ledger().violations,
}))
"""


def test_the_embedded_mode_bills_on_sqlite(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER"}
    }
    env.update(
        DEBUG="1", SQLITE_PATH=str(tmp_path / "db.sqlite3"), EMBEDDED_TICKER="0", MIN_MINUTES="1"
    )
    run = [sys.executable, "manage.py"]
    subprocess.run([*run, "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
    out = subprocess.run(
        [*run, "shell", "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {
        "billed": 22,
        "total": 220,
        "status": "ended",
        "balance": 780,
        "dry": ["force_ended", "insufficient_balance", 75],
        "ledger": [],
    }
