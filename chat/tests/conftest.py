import pytest

from chat.tests.helpers import access_token
from consultations.tests.factories import ActiveConsultationFactory


@pytest.fixture
def session(db):
    """An active chat consultation: its client and its consultant's user."""
    return ActiveConsultationFactory()


@pytest.fixture
def tokens(session):
    """Access tokens of the client, the consultant and an outsider (a third user)."""
    from accounts.tests.factories import ClientFactory

    outsider = ClientFactory()
    return {
        "client": access_token(session.client),
        "consultant": access_token(session.consultant.user),
        "outsider": access_token(outsider),
        "outsider_user": outsider,
    }


@pytest.fixture(autouse=True, scope="session")
def _short_lived_connections():
    """The consumer's services run in worker threads, each with its own connection: close them
    after every call (CONN_MAX_AGE 0), or they would hold the test database open at teardown."""
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0
    yield


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer object per test: each test runs on its own event loop, and the Redis
    layer keeps loop-bound state (its receive lock) that must not leak into the next test."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_worker_threads():
    """The consumer's worker threads end with each test, and their connections with them."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    from chat import consumers

    yield
    consumers._executor.shutdown(wait=True)
    consumers._executor = ThreadPoolExecutor(max_workers=consumers.DB_THREADS)
    gc.collect()  # the ended threads' connections sit in reference cycles until collected


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Factories set a password on every user; argon2 would make each one slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class Daphne:
    """A real daphne process serving config.asgi on a loopback port, with the test database
    and this worker's Redis (the channel layer every process shares)."""

    def __init__(self, env: dict):
        import socket
        import subprocess
        import sys

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(self.port)]
            + ["config.asgi:application"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        import socket
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                assert self.process.stderr is not None  # stderr=PIPE
                raise RuntimeError(f"daphne exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("daphne did not start in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def daphnes(django_db_setup, django_db_blocker):
    """Two daphne processes on the test database and the Redis channel layer."""
    import os

    from django.db import connection

    name = connection.settings_dict["NAME"]
    env = dict(
        os.environ,
        DATABASE_URL=os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}",
        DB_CONN_MAX_AGE="0",
        DEBUG="1",
        WS_RATE_LIMIT_PER_SECOND="200",
        THROTTLE_RATE_USER="100000/min",
    )
    servers = [Daphne(env), Daphne(env)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
