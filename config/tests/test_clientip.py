"""The client's address (config/clientip.py) and what trusts a proxy: X-Forwarded-For is ignored
unless TRUSTED_PROXY_COUNT says how many proxies write it, and so is X-Forwarded-Proto."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from config.clientip import client_ip

ROOT = Path(__file__).resolve().parents[2]


def request(remote="203.0.113.9", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "forwarded", "client"),
    [
        (0, None, "203.0.113.9"),
        (0, "1.2.3.4", "203.0.113.9"),  # no proxy: the header is the client's own words
        (1, None, "203.0.113.9"),
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # what the client wrote is skipped
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "198.51.100.7", "203.0.113.9"),  # fewer hops than proxies: not through them
        (1, "not-an-address", "203.0.113.9"),
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_is_the_address_the_trusted_proxies_saw(settings, trusted, forwarded, client):
    settings.TRUSTED_PROXY_COUNT = trusted
    assert client_ip(request(forwarded=forwarded)) == client


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_buys_no_more_login_attempts(api, settings):
    """Each request a new forged header: DRF's default took the whole header as the client's
    identity, so the auth throttle never saw the same client twice."""
    settings.THROTTLE_RATE_AUTH = "3/min"
    statuses = [
        api.post(
            "/api/v1/auth/login",
            {"email": "ghost@example.com", "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        ).status_code
        for n in range(5)
    ]
    assert statuses == [401, 401, 401, 429, 429]


@pytest.mark.django_db
def test_behind_one_proxy_each_client_has_its_own_budget(api, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.THROTTLE_RATE_AUTH = "2/min"

    def attempt(address):
        return api.post(
            "/api/v1/auth/login",
            {"email": "ghost@example.com", "password": "guess"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"6.6.6.6, {address}",
        ).status_code

    assert [attempt("198.51.100.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("198.51.100.2") == 401


SECURITY = """
import django
django.setup()
from django.conf import settings as s
from django.test import RequestFactory
request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")
print(bool(s.SECURE_PROXY_SSL_HEADER), request.is_secure(), s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
      s.SECURE_HSTS_PRELOAD)
"""


def settings_of(**environment: str) -> list[str]:
    import os

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SECURE_", "TRUSTED_", "DATABASE_", "REDIS_"))
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", SECURITY],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_x_forwarded_proto_is_ignored_without_a_trusted_proxy():
    header, secure, *_ = settings_of()
    assert (header, secure) == ("False", "False")


def test_x_forwarded_proto_is_believed_behind_a_trusted_proxy():
    _, secure, *_ = settings_of(TRUSTED_PROXY_COUNT="1")
    assert secure == "True"


def test_hsts_subdomains_and_preload_are_opt_in():
    assert settings_of()[-2:] == ["False", "False"]
    opted = settings_of(SECURE_HSTS_INCLUDE_SUBDOMAINS="1", SECURE_HSTS_PRELOAD="1")
    assert opted[-2:] == ["True", "True"]
