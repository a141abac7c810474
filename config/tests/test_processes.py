"""Real processes (daphne, a Celery worker, Celery beat) sharing one metrics folder: what they
do shows in this process's `/metrics`, and every line they write is one JSON object."""

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from chat.tests.conftest import Daphne
from chat.tests.helpers import access_token
from config import metrics
from config.tests.test_metrics import TOKEN, samples, value
from consultations.loadgen import create_active_sessions
from consultations.tests.test_crash import database_url, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def metrics_dir(tmp_path, monkeypatch):
    """The folder the child processes write to; this process's `/metrics` reads it."""
    path = tmp_path / "metrics"
    path.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(path))
    return path


def child_env(metrics_dir: Path, **more: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DEBUG": "1",
        "LOG_FORMAT": "json",
        "DB_CONN_MAX_AGE": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        **more,
    }


def scrape(settings) -> dict:
    from django.test import Client

    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return samples(response.content.decode())


def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "the process wrote nothing"
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    for entry in parsed:
        assert {"timestamp", "level", "logger", "message"} <= entry.keys(), entry
    return parsed


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
    return out


def test_a_celery_workers_billing_shows_in_metrics_and_its_lines_are_json(metrics_dir, settings):
    from consultations.tasks import bill_due_consultations
    from wallets.tasks import reconcile_ledger

    started_at = timezone.now() - timedelta(minutes=2)
    ids = create_active_sessions(5, started_at=started_at, balance=1_000_000)
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    celery = Path(sys.executable).with_name("celery")
    worker = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [str(celery), "-A", "config", "-q", "worker", "--pool=solo", "-Q", queue]
        + ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO"],
        cwd=ROOT,
        env=child_env(metrics_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        bill_due_consultations.apply_async(queue=queue)
        reconcile_ledger.apply_async(queue=queue)

        def done() -> bool:
            found = scrape(settings)
            return value(found, "consult_reconcile_ledger_last_run_timestamp_seconds") > 0

        assert wait_for(done, timeout=60, every=0.5), "the worker did not run both tasks"
    finally:
        output = stop(worker)

    found = scrape(settings)
    assert value(found, "consult_billing_tick_duration_seconds_count") == 1
    assert value(found, "consult_billing_consultations_total") == len(ids)
    assert value(found, "consult_ledger_postings_total", kind="consultation_charge") == len(ids)
    assert value(found, "consult_reconcile_ledger_clean") == 1
    # The worker is gone; what it counted stays.
    lines = json_lines(output)
    (verdict,) = [line for line in lines if line["message"].startswith("reconcile_ledger:")]
    assert verdict["task"] == "wallets.tasks.reconcile_ledger"
    assert verdict["task_id"] and verdict["clean"] is True


def test_beat_writes_json_lines(tmp_path, metrics_dir):
    celery = Path(sys.executable).with_name("celery")
    log = tmp_path / "beat.log"
    with log.open("w") as out:
        beat = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [str(celery), "-A", "config", "-q", "beat", "--loglevel=INFO"]
            + ["-s", str(tmp_path / "schedule"), "--pidfile", str(tmp_path / "beat.pid")],
            cwd=ROOT,
            env=child_env(metrics_dir, BILLING_TICK_SECONDS="1", CELERY_DEFAULT_QUEUE="nobody"),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        # Until it has sent a tick (a busy machine takes a while to start it).
        assert wait_for(lambda: "Sending due task" in log.read_text(), timeout=90, every=0.5)
    finally:
        stop(beat)
    lines = json_lines(log.read_text())
    assert any(line["logger"] == "celery.beat" for line in lines), lines


def test_daphnes_sockets_and_answers_show_in_metrics_and_a_killed_one_stops_counting(
    metrics_dir, settings
):
    import asyncio

    import websockets

    from accounts.tests.factories import ClientFactory

    user = ClientFactory()
    server = Daphne(child_env(metrics_dir))
    try:
        server.wait_ready()
        import urllib.request

        request = urllib.request.Request(  # noqa: S310 - our own loopback server
            f"{server.http}/healthz", headers={"X-Request-ID": "from-the-test"}
        )
        with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
            assert answer.headers["X-Request-ID"] == "from-the-test"

        url = f"{server.url}?token={access_token(user)}"

        async def hold_a_socket():
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps({"type": "ping"}))
                assert json.loads(await socket.recv())["type"] == "pong"
                found = await asyncio.to_thread(scrape, settings)
                assert value(found, "consult_ws_connections") == 1
                assert value(found, "consult_ws_messages_total", direction="in") >= 1
                assert value(found, "consult_ws_messages_total", direction="out") >= 1
                server.process.send_signal(signal.SIGKILL)  # with the socket open
                server.process.wait(timeout=10)

        asyncio.run(hold_a_socket())
        found = scrape(settings)
        assert value(found, "consult_ws_connections") == 0  # the dead process stopped counting
        assert value(found, "consult_http_requests_total", method="GET", status="200") >= 1
        assert metrics.open_sockets() == 0
    finally:
        server.stop() if server.process.poll() is None else None
    err = server.process.stderr.read().decode()
    if err.strip():
        json_lines(err)
