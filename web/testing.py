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
* `outside_browser_loop()`: a context manager for calling services that announce over the
  channel layer (`async_to_sync`) from a browser test; see below.

Playwright's sync API leaves its event loop marked as running in the test's thread between
calls. So in a browser test Django's ORM needs `DJANGO_ALLOW_ASYNC_UNSAFE` (set here for
browser tests only) and `async_to_sync` refuses to run (hence `outside_browser_loop`); and
after a browser test the mark is cleared, so the non-browser tests that run next on the same
worker see no loop at all.
"""

from __future__ import annotations

import asyncio
import contextlib
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
PLAYWRIGHT_FIXTURES = {"page", "context", "new_context", "browser", "new_page"}


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    """Debian's Chromium (never `playwright install`: its download host is unreachable)."""
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args() -> dict:
    return {
        "viewport": {"width": 1280, "height": 800},
        "locale": "en-IN",
        "timezone_id": "Asia/Kolkata",
    }


# --- The event loop Playwright leaves marked as running -------------------------------------


def _playwright_loop(request) -> asyncio.AbstractEventLoop:
    return request.getfixturevalue("playwright")._loop


@pytest.fixture(scope="session")
def _browser_loop_at_session_end(request, browser):
    """Set up after the browser, so torn down before it: closes it with its loop marked."""
    yield
    asyncio.events._set_running_loop(_playwright_loop(request))


@pytest.fixture(autouse=True)
def _browser_loop_only_in_browser_tests(request, monkeypatch):
    if PLAYWRIGHT_FIXTURES & set(request.fixturenames):
        request.getfixturevalue("_browser_loop_at_session_end")
        asyncio.events._set_running_loop(_playwright_loop(request))
        monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield
    else:
        asyncio.events._set_running_loop(None)
        yield
    asyncio.events._set_running_loop(None)


@contextlib.contextmanager
def outside_browser_loop():
    """Runs a block as if no event loop were running in this thread (Playwright's is only
    marked, not running): a service that announces after commit can call `async_to_sync`."""
    loop = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(loop)


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
def live_site(_live_site_server, transactional_db) -> LiveSite:
    return LiveSite(url=_live_site_server)


# --- People ------------------------------------------------------------------------------------


def session_cookie(user, url: str) -> dict:
    """A Django session cookie signing `user` in (as the login page would)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return {"name": settings.SESSION_COOKIE_NAME, "value": value, "url": url}


@pytest.fixture
def sign_in(live_site):
    def sign(page, user):
        page.context.add_cookies([session_cookie(user, live_site.url)])
        return page

    return sign


@pytest.fixture
def new_page(new_context, live_site, sign_in):
    """Another person's page: `new_page(user)` (signed in) or `new_page()` (a visitor)."""

    def open_page(user=None, **context_args):
        page = new_context(**context_args).new_page()
        if user is not None:
            sign_in(page, user)
        return page

    return open_page
