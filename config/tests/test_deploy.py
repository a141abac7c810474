"""Production refusals (`make check-deploy` runs this file): with DEBUG=0 the server, the Celery
processes and `manage.py check` refuse to start on an unsafe environment, naming what to set.

The attack they stop: with DEBUG=0 and PAYMENT_GATEWAY unset, the offline gateway used to run
with the public secret `local-key-secret`, so anyone could sign their own payment.

Every test starts real processes with an environment of its own (nothing of the test run's
leaks in: no database is needed, the settings refuse before one is touched).
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Everything a production process reads that these tests set themselves.
_OURS = {
    "DEBUG",
    "SECRET_KEY",
    "JWT_SIGNING_KEY",
    "ALLOWED_HOSTS",
    "PAYMENT_GATEWAY",
    "ALLOW_OFFLINE_PAYMENTS",
    "RAZORPAY_KEY_ID",
    "RAZORPAY_KEY_SECRET",
    "RAZORPAY_WEBHOOK_SECRET",
    "STRIPE_SECRET_KEY",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
}


def production(**changes: str | None) -> dict[str, str]:
    """A complete, safe production environment, with `changes` (None removes a variable)."""
    env = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "consult.example.com",
        "PAYMENT_GATEWAY": "razorpay",
        "RAZORPAY_KEY_ID": "rzp_live_" + secrets.token_hex(7),
        "RAZORPAY_KEY_SECRET": secrets.token_urlsafe(24),
        "RAZORPAY_WEBHOOK_SECRET": secrets.token_urlsafe(24),
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)


def test_a_complete_production_environment_passes_the_deploy_checks_without_a_warning():
    result = check(production())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def stripe(**changes: str | None) -> dict[str, str]:
    """A complete production environment on Stripe (no Razorpay keys at all)."""
    return production(
        PAYMENT_GATEWAY="stripe",
        RAZORPAY_KEY_ID=None,
        RAZORPAY_KEY_SECRET=None,
        RAZORPAY_WEBHOOK_SECRET=None,
        STRIPE_SECRET_KEY="sk_live_" + secrets.token_hex(12),
        STRIPE_PUBLISHABLE_KEY="pk_live_" + secrets.token_hex(12),
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
    ) | {name: value for name, value in changes.items() if value is not None}


def test_stripe_with_its_three_secrets_passes_without_razorpays():
    result = check(stripe())
    assert result.returncode == 0, result.stderr


def test_stripe_names_each_secret_it_misses():
    env = stripe()
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        env.pop(name)
    result = check(env)
    assert result.returncode != 0
    assert (
        "PAYMENT_GATEWAY=stripe needs STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY, "
        "STRIPE_WEBHOOK_SECRET" in result.stderr
    )


def test_an_unset_jwt_signing_key_is_recommended_not_required():
    result = check(production(JWT_SIGNING_KEY=None))
    assert result.returncode == 0, result.stderr
    assert "accounts.I001" in result.stderr + result.stdout
    assert "JWT_SIGNING_KEY is not set" in result.stderr + result.stdout


def test_an_offline_demo_may_run_when_it_says_so_with_its_own_secrets():
    result = check(production(PAYMENT_GATEWAY="local", ALLOW_OFFLINE_PAYMENTS="1"))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"PAYMENT_GATEWAY": None}, "PAYMENT_GATEWAY is not set"),
        ({"PAYMENT_GATEWAY": "local"}, "set ALLOW_OFFLINE_PAYMENTS=1"),
        ({"PAYMENT_GATEWAY": "local", "ALLOW_OFFLINE_PAYMENTS": "0"}, "ALLOW_OFFLINE_PAYMENTS=1"),
        (
            {
                "PAYMENT_GATEWAY": "local",
                "ALLOW_OFFLINE_PAYMENTS": "1",
                "RAZORPAY_KEY_ID": None,
                "RAZORPAY_KEY_SECRET": None,
                "RAZORPAY_WEBHOOK_SECRET": None,
            },
            "PAYMENT_GATEWAY=local needs RAZORPAY_KEY_ID, RAZORPAY_KEY_SECRET, "
            "RAZORPAY_WEBHOOK_SECRET",
        ),
        ({"RAZORPAY_KEY_SECRET": None}, "PAYMENT_GATEWAY=razorpay needs RAZORPAY_KEY_SECRET"),
        ({"RAZORPAY_WEBHOOK_SECRET": None}, "needs RAZORPAY_WEBHOOK_SECRET"),
        ({"RAZORPAY_KEY_ID": None}, "needs RAZORPAY_KEY_ID"),
        (
            {"PAYMENT_GATEWAY": "local", "ALLOW_OFFLINE_PAYMENTS": "1"}
            | {"RAZORPAY_KEY_SECRET": "local-key-secret"},
            "RAZORPAY_KEY_SECRET is the public development value",
        ),
        (
            {"PAYMENT_GATEWAY": "paypal"},
            "PAYMENT_GATEWAY='paypal': use local or razorpay or stripe",
        ),
        ({"SECRET_KEY": None}, "SECRET_KEY must be set when DEBUG is off"),
        ({"SECRET_KEY": "x" * 20 + "abcdefgh"}, "SECRET_KEY is 28 characters"),
        ({"SECRET_KEY": "ab" * 40}, "SECRET_KEY is 80 characters"),  # 2 distinct characters
        (
            {"SECRET_KEY": "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"},
            "SECRET_KEY is a development default",
        ),
        (
            {"SECRET_KEY": "django-insecure-" + secrets.token_urlsafe(50)},
            "SECRET_KEY is a development default",
        ),
        ({"JWT_SIGNING_KEY": "short-jwt-key"}, "JWT_SIGNING_KEY is 13 characters"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must be set"),
    ],
)
def test_manage_py_check_refuses_an_unsafe_production_environment(changes, says):
    result = check(production(**changes))
    assert result.returncode != 0
    assert says in result.stderr


def test_every_problem_is_named_at_once():
    result = check(production(SECRET_KEY=None, PAYMENT_GATEWAY=None, ALLOWED_HOSTS=None))
    assert result.returncode != 0
    for name in ("SECRET_KEY", "PAYMENT_GATEWAY", "ALLOWED_HOSTS"):
        assert f"{name} " in result.stderr


def test_development_mode_still_runs_the_offline_gateway_with_its_built_in_secrets():
    result = run(
        ["-c", "from django.conf import settings as s; print(s.PAYMENT_GATEWAY, s.DEBUG)"],
        {"DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["local", "True"]


FORGE = """
import django
django.setup()
from wallets.gateway import get_gateway, payment_signature
forged = payment_signature("order_1", "pay_1", secret="local-key-secret")
print(get_gateway().verify_payment_signature(order_id="order_1", payment_id="pay_1",
                                             signature=forged))
"""


def test_a_payment_signed_with_the_public_development_secret_is_refused_by_an_offline_demo():
    env = production(PAYMENT_GATEWAY="local", ALLOW_OFFLINE_PAYMENTS="1")
    result = run(["-c", FORGE], {**env, "DJANGO_SETTINGS_MODULE": "config.settings"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "config.serve", "-b", "127.0.0.1", "-p", "0", "config.asgi:application"],
        ["-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1"],
        ["-m", "celery", "-A", "config", "beat", "--schedule", os.devnull],
    ],
    ids=["daphne", "celery-worker", "celery-beat"],
)
def test_the_server_and_the_celery_processes_refuse_to_start_without_a_gateway(command):
    # A broker that is never reached: the refusal comes first.
    env = production(PAYMENT_GATEWAY=None) | {"REDIS_URL": "redis://127.0.0.1:1/0"}
    result = run(command, env, timeout=90)
    assert result.returncode != 0
    assert "PAYMENT_GATEWAY is not set" in result.stderr


def test_seed_demo_refuses_in_production():
    result = run(["manage.py", "seed_demo"], production())
    assert result.returncode != 0
    assert "seed_demo makes an admin with a known password" in result.stderr
