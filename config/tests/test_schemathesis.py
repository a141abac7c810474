"""The project's schemathesis run, as an outside tester runs it: `schemathesis run
<server>/api/schema --checks all` against a real daphne on the test database, signed in as a
client, a consultant and an operator. Every check schemathesis has: no 5xx, documented status
codes, content types, headers and bodies, invalid input refused and valid input accepted,
methods and authentication, resources that exist after they are made.

What no schema can say (a server-made cursor, an HMAC signature, a TOTP code, a password
Django's validators find too common, the channels a consultant offers) is settled in
schemathesis.toml, each with its reason, and listed in the README ("The schema tells the
truth"). New operations are picked up by themselves.

It takes minutes on a busy machine, so `make test` leaves it out; `make schemathesis` runs it
(SCHEMATHESIS_LIVE=1). The in-process runs in the suite (config/tests/test_schema_fuzz.py and
the apps' test_fuzz modules) use the same checks and the same schemathesis.toml.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from accounts.tests.factories import AdminFactory
from config.tests.servers import ROOT, daphne, server_env
from consultants.tests.factories import OnlineConsultantFactory
from wallets.tests.factories import fund, funded_client

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Each run's size: the coverage phase tries every documented constraint of every operation
# once whatever this says; fuzzing and the stateful phase try this many cases an operation.
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "5")


@pytest.fixture(scope="module")
def server_log(tmp_path_factory) -> Path:
    """daphne's stderr: a failure's message ends with the tracebacks of the server's errors."""
    return tmp_path_factory.mktemp("daphne") / "stderr.log"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, server_log):
    env = server_env()
    env.update(
        THROTTLE_RATE_ANON="100000/min",
        THROTTLE_RATE_USER="100000/min",
        THROTTLE_RATE_AUTH="100000/min",
        JWT_ACCESS_MINUTES="60",
        PRIVATE_MEDIA_ROOT=str(Path(env.get("TMPDIR", "/tmp")) / f"st-media-{os.getpid()}"),
    )
    with daphne(env, log=server_log) as port:
        yield f"http://127.0.0.1:{port}"


def signed_in(role: str):
    if role == "client":
        return funded_client(1_000_000)
    if role == "consultant":
        user = OnlineConsultantFactory().user
        fund(user, 1_000_000)  # earnings to pay out
        return user
    return AdminFactory()


@pytest.mark.skipif(not os.environ.get("SCHEMATHESIS_LIVE"), reason="make schemathesis runs it")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["client", "consultant", "admin"])
def test_the_api_keeps_to_its_schema(server, server_log, role):
    from rest_framework_simplejwt.tokens import RefreshToken

    OnlineConsultantFactory()  # someone to start a consultation with
    token = RefreshToken.for_user(signed_in(role)).access_token
    # Made here, so with this process's lifetime (JWT_ACCESS_MINUTES, 15 by default), not the
    # server's: a run outlasts it, and every answer after it was a 401 for an expired token.
    token.set_exp(lifetime=timedelta(hours=3))
    run = subprocess.run(  # noqa: S603 - our own tool and arguments
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(ROOT / "schemathesis.toml"),
            "run",
            f"{server}/api/schema",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {token}",
            "--max-examples",
            EXAMPLES,
            "--seed",
            "1",
            "--workers",
            "2",
            "--request-timeout",
            "30",
            "--wait-for-schema",
            "30",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
        timeout=3600,
    )
    assert run.returncode == 0, run.stdout[-12000:] + run.stderr[-2000:] + _errors(server_log)


def _errors(log: Path) -> str:
    """The server's tracebacks (not its warnings about each 4xx), the last few."""
    text = log.read_text(errors="replace")
    found = text.split("Traceback (most recent call last):")[1:]
    return "".join(f"\n--- server traceback ---{part[:3000]}" for part in found[-5:])
