"""Bodies over their limit are refused while they stream in (config/bodylimit.py): an endless
or a multi-gigabyte body costs the server no more than the limit, neither in the application
(Django would spool it to a temporary file) nor in daphne (twisted would, before the app)."""

import asyncio
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.asgi import get_asgi_application

from config.bodylimit import MULTIPART_OVERHEAD, BodyLimitMiddleware

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 64 * 1024


def scope(path="/api/v1/auth/login", content_type=b"application/json", length=None):
    headers = [(b"content-type", content_type), (b"host", b"testserver")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


def serve(request_scope, *, endless=True, total=None):
    """Runs the ASGI app (Django behind the middleware) on a body of `total` bytes, or an
    endless one; returns (messages sent, chunks the app pulled)."""
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        if not endless and (pulled * CHUNK >= total):
            await asyncio.Event().wait()  # the body is over: nothing until the client leaves
        pulled += 1
        if endless:
            return {"type": "http.request", "body": b"x" * CHUNK, "more_body": True}
        left = total - (pulled - 1) * CHUNK
        return {"type": "http.request", "body": b"x" * min(CHUNK, left), "more_body": left > CHUNK}

    async def send(message):
        sent.append(message)

    async_to_sync(BodyLimitMiddleware(get_asgi_application()))(request_scope, receive, send)
    return sent, pulled


def test_an_endless_body_is_cut_at_the_limit_and_answered_413(settings):
    settings.API_MAX_BODY_BYTES = 1024 * 1024
    sent, pulled = serve(scope())
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "payload_too_large"
    assert pulled == 1024 * 1024 // CHUNK + 1  # the chunk that passed the limit, no more


def test_a_body_announced_too_large_is_refused_before_a_byte_is_read(settings):
    settings.API_MAX_BODY_BYTES = 1024 * 1024
    sent, pulled = serve(scope(length=5 * 1024**3))
    assert (sent[0]["status"], pulled) == (413, 0)
    assert (b"connection", b"close") in sent[0]["headers"]


def test_an_upload_may_reach_the_upload_limit_and_no_more(settings):
    settings.API_MAX_BODY_BYTES = 1024 * 1024
    settings.MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    multipart = b"multipart/form-data; boundary=x"
    sent, pulled = serve(scope(path="/api/v1/consultants/me/documents", content_type=multipart))
    assert sent[0]["status"] == 413
    assert pulled == (2 * 1024 * 1024 + MULTIPART_OVERHEAD) // CHUNK + 1


def test_a_body_within_the_limit_reaches_the_application(settings):
    settings.API_MAX_BODY_BYTES = 1024 * 1024
    sent, _ = serve(scope(path="/api/v1/no-such-route"), endless=False, total=512 * 1024)
    assert sent[0]["status"] == 404  # Django answered: the body went through


def test_pages_get_a_plain_text_refusal(settings):
    settings.API_MAX_BODY_BYTES = 1024
    sent, _ = serve(scope(path="/login/", content_type=b"application/x-www-form-urlencoded"))
    assert sent[0]["status"] == 413
    assert (b"content-type", b"text/plain; charset=utf-8") in sent[0]["headers"]


# --- daphne: refused in the socket reader, before twisted buffers the body ---------------------


@pytest.fixture(scope="module")
def daphne(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    keep = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env = {
        **keep,
        "DEBUG": "1",
        "EMBEDDED_TICKER": "0",
        "SQLITE_PATH": str(tmp_path_factory.mktemp("daphne") / "unused.sqlite3"),
        "API_MAX_BODY_BYTES": str(1024 * 1024),
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(port)]
        + ["config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(process.stderr.read().decode()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=10)


def head(port, lines: list[str]) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return connection


def answer(connection: socket.socket) -> bytes:
    data = b""
    connection.settimeout(10)
    while True:
        try:
            part = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not part:
            break
        data += part
    return data


def test_daphne_refuses_an_announced_multi_gigabyte_body_without_waiting_for_it(daphne):
    connection = head(
        daphne,
        [
            "POST /api/v1/auth/login HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: application/json",
            f"Content-Length: {5 * 1024**3}",
            "Expect: 100-continue",
        ],
    )
    reply = answer(connection)
    connection.close()
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in reply
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["code"] == "payload_too_large"


def test_daphne_cuts_a_streamed_body_at_the_limit(daphne):
    """A chunked body with no announced length: the answer comes while it is still streaming,
    after about the limit (plus what the kernel's socket buffers hold), not after the 256 MiB
    the client is ready to send."""
    connection = head(
        daphne,
        [
            "POST /api/v1/auth/login HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: application/json",
            "Transfer-Encoding: chunked",
        ],
    )
    chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
    sent = 0
    reply = b""
    try:
        while sent < 256 * 1024 * 1024:
            readable, _, _ = select.select([connection], [], [], 0)
            if readable:
                break
            connection.sendall(chunk)
            sent += CHUNK
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = answer(connection)
    connection.close()
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert sent < 64 * 1024 * 1024, f"{sent} bytes went in before the answer"


def test_daphne_still_serves_a_body_within_the_limit(daphne):
    body = json.dumps({"pad": "x" * 500_000}).encode()
    connection = head(
        daphne,
        [
            "POST /api/v1/no-such-route HTTP/1.1",
            "Host: 127.0.0.1",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ],
    )
    connection.sendall(body)
    reply = answer(connection)
    connection.close()
    assert reply.startswith(b"HTTP/1.1 404 "), reply[:200]
