import pytest

from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_a_minute(settings):
    settings.THROTTLE_RATE_AUTH = "2/min"


@pytest.mark.parametrize(
    "path, payload",
    [
        ("/api/v1/auth/login", {"email": "asha@example.com", "password": PASSWORD}),
        ("/api/v1/auth/refresh", {"refresh": "garbage"}),
        ("/api/v1/auth/register", {"email": "x"}),
    ],
)
def test_auth_routes_are_throttled_per_ip(api, client_user, two_a_minute, path, payload):
    for _ in range(2):
        assert api.post(path, payload, format="json").status_code != 429
    response = api.post(path, payload, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) >= 1


def test_another_ip_has_its_own_allowance(api, client_user, two_a_minute):
    payload = {"email": "asha@example.com", "password": PASSWORD}
    for _ in range(3):
        api.post("/api/v1/auth/login", payload, format="json", REMOTE_ADDR="10.0.0.1")
    response = api.post("/api/v1/auth/login", payload, format="json", REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 200


def test_signed_in_routes_are_not_under_the_auth_rate(signed_in, two_a_minute):
    for _ in range(4):
        assert signed_in.get("/api/v1/auth/me").status_code == 200
