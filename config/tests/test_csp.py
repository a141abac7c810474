"""The pages' Content-Security-Policy (config/csp.py): what it allows in each gateway's mode,
and what carries it. Every page of UI.md carrying it is web/tests/test_csp.py; a browser finding
no violation on them is web/tests/test_browser_pages.py."""

import pytest

from accounts.tests.factories import ClientFactory
from config.csp import HEADER

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    parts = (part.split() for part in response[HEADER].split(";"))
    return {name: sources for name, *sources in parts}


def test_a_page_may_load_only_from_the_site_and_be_framed_by_nobody(client, settings):
    settings.PAYMENT_GATEWAY = "local"
    policy = directives(client.get("/login/"))
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "connect-src": ["'self'", "ws://testserver"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "frame-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }


def test_the_socket_is_allowed_on_the_host_and_scheme_the_page_came_from(client, settings):
    settings.ALLOWED_HOSTS = ["consult.example.com"]
    page = client.get("/login/", HTTP_HOST="consult.example.com", secure=True)
    assert directives(page)["connect-src"] == ["'self'", "wss://consult.example.com"]


def test_stripes_hosts_are_allowed_only_in_stripe_mode(client, settings):
    settings.PAYMENT_GATEWAY = "stripe"
    policy = directives(client.get("/login/"))
    assert policy["script-src"] == ["'self'", "https://js.stripe.com"]
    assert policy["frame-src"] == ["'self'", "https://js.stripe.com", "https://hooks.stripe.com"]
    assert "https://api.stripe.com" in policy["connect-src"]
    settings.PAYMENT_GATEWAY = "razorpay"
    policy = directives(client.get("/login/"))
    assert policy["script-src"] == ["'self'", "https://checkout.razorpay.com"]
    assert policy["frame-src"] == ["'self'", "https://api.razorpay.com"]
    assert not any("stripe" in source for sources in policy.values() for source in sources)


def test_no_mode_lets_an_inline_script_run(client, settings):
    for gateway in ("local", "razorpay", "stripe"):
        settings.PAYMENT_GATEWAY = gateway
        policy = directives(client.get("/login/"))
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy["script-src"])
        assert "'unsafe-inline'" not in policy["style-src"]


def test_the_apis_answers_carry_none(client):
    client.force_login(ClientFactory())
    assert HEADER not in client.get("/api/v1/wallet")
    assert HEADER not in client.get("/api/schema")
    assert HEADER not in client.get("/api/v1/no-such-thing")


def test_a_page_not_found_carries_it_too(client):
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert HEADER in answer
