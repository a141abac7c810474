"""The error envelope and HTTP plumbing every endpoint shares."""

import pytest

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_answers_json_404(api):
    response = api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/nothing/", "/api/v1/auth/x/y"])
def test_an_unknown_api_path_answers_json_404_with_debug_on_too(client, settings, path):
    """DEBUG=1 (make run) would answer Django's HTML debug page, not handler404."""
    settings.DEBUG = True
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_an_unknown_page_keeps_its_html_404(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_body_announced_too_large_answers_413_before_it_is_read(api, settings):
    settings.API_MAX_BODY_BYTES = 2048
    response = api.post("/api/v1/auth/login", data="x" * 4096, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_a_non_numeric_content_length_is_invalid(client):
    response = client.generic(
        "POST", "/api/v1/auth/login", "{}", CONTENT_LENGTH="abc", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_cursor_the_server_did_not_make_is_invalid(api):
    from accounts.tests.factories import ClientFactory

    api.force_authenticate(ClientFactory())
    response = api.get("/api/v1/wallet/transactions", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "cursor" in response.json()["fields"]


def test_api_timestamps_are_in_utc(api, settings):
    from accounts.tests.factories import ClientFactory, sign_in
    from wallets.tests.factories import credit

    settings.TIME_ZONE = "Asia/Kolkata"
    user = ClientFactory()
    credit(user=user, amount=500, kind="adjustment", idempotency_key="tz-test")
    sign_in(api, user)
    created = api.get("/api/v1/wallet/transactions").json()["results"][0]["created_at"]
    assert created.endswith("Z") or created.endswith("+00:00")
