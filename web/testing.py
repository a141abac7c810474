"""Browser tests: a real ASGI server (HTTP and WebSockets) on the test database, and Debian's
Chromium driven by Playwright. Loaded by the root conftest (`pytest_plugins`), so every app's
tests can use it.

Fixtures
--------
* `live_site`: the site served by a real ASGI server in this test process (uvicorn in a
  thread, one per xdist worker, started on first use) with the test database; `.url` is its
  address, `.url_for("/wallet/")` an absolute URL. Like pytest-django's `live_server` (WSGI
  only, so it cannot carry the pages' WebSocket) it needs committed data: a test using it runs
  with `transactional_db`.
* `page` (pytest-playwright): a fresh page in a fresh context of the worker's one browser.
  Contexts default to 1280x800, `en-IN` and Asia/Kolkata (`browser_context_args`).
* `sign_in(page, user)`: signs `page`'s context in as `user` with a real Django session cookie
  (no login form: fast); `new_page(user=None, **context_args)` opens another person's page
  (a consultant beside a client) in a context of its own.

Playwright's sync API runs its event loop in the test's own thread (in a greenlet) and leaves
that loop marked as running between calls; Django's ORM and asgiref's `async_to_sync` (every
service that announces over the channel layer) then refuse to run in the test. Here the mark
is set only while a Playwright call is under way (`_mark_loop_only_during_calls`), so test code,
fixtures and factories run as in any other test, and so do the non-browser tests that follow on
the same worker. `DJANGO_ALLOW_ASYNC_UNSAFE` is still set for browser tests, as a safety net.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # Calls (the room): fake camera and microphone, and ICE candidates on loopback.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
EXPECT_TIMEOUT_MS = 15_000
PLAYWRIGHT_FIXTURES = {"page", "context", "new_context", "browser", "new_page"}


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Debian's Chromium (never `playwright install`: its download host is unreachable)."""
    import os

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"No browser at {CHROMIUM}: `apt-get install -y --no-install-recommends chromium` "
            "(.ci/run does it when it is missing)."
        )
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    return {
        "viewport": {"width": 1280, "height": 800},
        "locale": "en-IN",
        "timezone_id": "Asia/Kolkata",
    }


# --- Playwright's event loop, marked as running only during its calls ------------------------


def _mark_loop_only_during_calls() -> None:
    """Wraps playwright's (1.65) private `wait_for_future`, through which every sync call waits:
    the loop is marked running for the call and the thread's previous mark is put back after
    (none in test code; the loop itself inside Playwright's own event handlers)."""
    from playwright._impl import _sync_base

    original = _sync_base.wait_for_future
    if getattr(original, "marks_only_during_calls", False):
        return

    def wait_for_future(loop, dispatcher_fiber, future):
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(loop)
        try:
            return original(loop, dispatcher_fiber, future)
        finally:
            asyncio.events._set_running_loop(previous)

    wait_for_future.marks_only_during_calls = True  # type: ignore[attr-defined]
    _sync_base.wait_for_future = wait_for_future


def start_playwright():
    """`sync_playwright().start()`, leaving no loop marked in this thread afterwards."""
    from playwright.sync_api import sync_playwright

    _mark_loop_only_during_calls()
    started = sync_playwright().start()
    asyncio.events._set_running_loop(None)
    return started


@pytest.fixture(scope="session")
def playwright():
    """pytest-playwright's fixture, started as `start_playwright` does."""
    from playwright.sync_api import expect

    started = start_playwright()
    # What a page shows after a server event (a socket frame, a fetch of the room's body) comes
    # within Playwright's 5 s on an idle machine, not always on two cores shared with other
    # suites; a passing assertion returns as soon as it holds, so this costs nothing.
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _browser_test_environment(request, monkeypatch):
    if PLAYWRIGHT_FIXTURES & set(request.fixturenames):
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    yield


# --- The server --------------------------------------------------------------------------------


@dataclass
class LiveSite:
    url: str

    def url_for(self, path: str) -> str:
        return self.url + path


class _Server:
    """uvicorn serving config.asgi (Django's HTTP and the Channels WebSocket) in a thread."""

    def __init__(self) -> None:
        import uvicorn

        from config.asgi import application

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-site", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live site did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def _live_site_server(django_db_setup, django_db_blocker):
    import gc
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from chat import consumers

    # The server's threads close their connections after each request, so none is left
    # holding the test database when pytest-django drops it.
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    server = _Server()
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    # The WebSocket consumer's worker threads hold connections of their own: end them.
    consumers._executor.shutdown(wait=True)
    consumers._executor = ThreadPoolExecutor(max_workers=consumers.DB_THREADS)
    gc.collect()


@pytest.fixture
def live_site(request, _live_site_server, transactional_db):
    yield LiveSite(url=_live_site_server)
    # Before pytest-django empties the tables: every page closed (a page opened before this
    # fixture is closed after it), then the server's own work finished (a socket's disconnect
    # still writing presence would hold row locks that deadlock the flush's TRUNCATE).
    if "browser" in request.fixturenames:
        for context in request.getfixturevalue("browser").contexts:
            context.close()
    wait_until_server_quiet()


def wait_until_server_quiet(*, timeout: float = 15.0, quiet_for: float = 0.1) -> None:
    """Waits until no other connection to the test database is working (every one idle or
    gone) and the socket consumers' thread pool has nothing queued, for `quiet_for` seconds
    in a row. PostgreSQL only (SQLite has no server to ask)."""
    from django.db import connection

    from chat import consumers

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                "AND state IS DISTINCT FROM 'idle'"
            )
            busy = cursor.fetchone()[0]
        busy += consumers._executor._work_queue.qsize()
        now = time.monotonic()
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= quiet_for:
            return
        time.sleep(0.05)


# --- People ------------------------------------------------------------------------------------


def session_cookie(user, url: str) -> dict:
    """A Django session cookie signing `user` in (as the login page would)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user, backend="accounts.backends.AccountBackend")
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": url}


@pytest.fixture
def sign_in(live_site):
    def sign(page, user):
        page.context.add_cookies([session_cookie(user, live_site.url)])
        return page

    return sign


@pytest.fixture
def new_page(browser, browser_context_args, live_site, sign_in):
    """Another person's page: `new_page(user)` (signed in) or `new_page()` (a visitor), in a
    context of its own; `new_page(user, viewport={...})` overrides the context's defaults."""
    contexts = []

    def open_page(user=None, **context_args):
        context = browser.new_context(**{**browser_context_args, **context_args})
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            sign_in(page, user)
        return page

    yield open_page
    for context in contexts:
        context.close()
