import threading

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from accounts.signals import user_registered
from accounts.tests.factories import PASSWORD, ClientFactory
from config.errors import Invalid

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/register"


@pytest.fixture
def only_test_receivers(monkeypatch):
    """user_registered without the consultants app's receiver: these tests are about the
    signal, not about what consultants does with it."""
    monkeypatch.setattr(user_registered, "receivers", [])
    monkeypatch.setattr(user_registered, "sender_receivers_cache", {})


def body(**overrides):
    data = {
        "email": "riya@example.com",
        "password": PASSWORD,
        "name": "Riya Sen",
        "role": "client",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not ...}


def test_it_registers_a_client_and_signs_them_in(api):
    response = api.post(URL, body(phone="+91 98765-43210"), format="json")
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"user", "access", "refresh"}
    assert set(data["user"]) == {
        "id",
        "email",
        "name",
        "phone",
        "role",
        "mfa_enabled",
        "date_joined",
        "birth_details",
    }
    assert data["user"]["email"] == "riya@example.com"
    assert data["user"]["role"] == "client"
    assert data["user"]["phone"] == "+919876543210"
    assert data["user"]["mfa_enabled"] is False
    me = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {data['access']}")
    assert me.json() == data["user"]


def test_it_stores_the_password_with_argon2(api):
    api.post(URL, body(), format="json")
    user = User.objects.get(email="riya@example.com")
    assert identify_hasher(user.password).algorithm == "argon2"
    assert user.check_password(PASSWORD)


def test_the_access_token_carries_the_user_id_and_role(api, only_test_receivers):
    data = api.post(URL, body(role="consultant"), format="json").json()
    token = AccessToken(data["access"])
    assert token["user_id"] == data["user"]["id"]
    assert token["role"] == "consultant"


def test_it_lowercases_the_email(api):
    response = api.post(URL, body(email="Riya@Example.COM"), format="json")
    assert response.json()["user"]["email"] == "riya@example.com"


def test_a_taken_email_is_409_whatever_its_case(api):
    ClientFactory(email="riya@example.com")
    response = api.post(URL, body(email="RIYA@example.com"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


@pytest.mark.parametrize("role", ["admin", "superuser", "", None, 1, ["client"]])
def test_only_client_and_consultant_may_register(api, role):
    response = api.post(URL, body(role=role), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "role" in response.json()["fields"]
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["short", "password123", "12345678901", "riya@example.com"])
def test_a_weak_password_is_invalid(api, password):
    response = api.post(URL, body(password=password), format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert list(data["fields"]) == ["password"]


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@b.com", "x" * 250 + "@e.com"])
def test_a_bad_email_is_invalid(api, email):
    response = api.post(URL, body(email=email), format="json")
    assert response.status_code == 400
    assert "email" in response.json()["fields"]


@pytest.mark.parametrize("phone", ["123", "phone-me", "+" + "9" * 16, "12 34 56 78 90 12 34 56"])
def test_a_bad_phone_is_invalid(api, phone):
    response = api.post(URL, body(phone=phone), format="json")
    assert response.status_code == 400
    assert "phone" in response.json()["fields"]


@pytest.mark.parametrize("missing", ["email", "password", "name", "role"])
def test_every_required_field_is_required(api, missing):
    response = api.post(URL, body(**{missing: ...}), format="json")
    assert response.status_code == 400
    assert missing in response.json()["fields"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", 12345),
        ("name", True),
        ("name", {"first": "Riya"}),
        ("name", "x" * 151),
        ("email", ["riya@example.com"]),
        ("password", 12345678901234),
        ("name", "nul\x00byte"),
        ("category", "not a slug!"),
        ("category", 7),
    ],
)
def test_wrong_types_and_sizes_are_invalid(api, field, value):
    response = api.post(URL, body(role="consultant", **{field: value}), format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_it_tells_the_consultants_app_inside_the_transaction(api, only_test_receivers):
    seen = []

    def receiver(sender, user, category, **kwargs):
        seen.append((user.email, category, User.objects.filter(pk=user.pk).exists()))

    user_registered.connect(receiver, dispatch_uid="test-receiver")
    try:
        api.post(URL, body(role="consultant", category="legal"), format="json")
        api.post(URL, body(email="c@example.com", category="legal"), format="json")
    finally:
        user_registered.disconnect(dispatch_uid="test-receiver")
    # The client's category is ignored: clients have none.
    assert seen == [("riya@example.com", "legal", True), ("c@example.com", None, True)]


def test_a_receiver_refusing_the_registration_rolls_it_back(api, only_test_receivers):
    def receiver(sender, user, category, **kwargs):
        raise Invalid(f"Unknown category {category}.")

    user_registered.connect(receiver, dispatch_uid="test-refuser")
    try:
        response = api.post(URL, body(role="consultant", category="nope"), format="json")
    finally:
        user_registered.disconnect(dispatch_uid="test-refuser")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_make_one_user(api):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking")
    from rest_framework.test import APIClient

    barrier = threading.Barrier(6)
    statuses = []

    def register():
        try:
            barrier.wait(timeout=10)
            statuses.append(APIClient().post(URL, body(), format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=register) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201] + [409] * 5
    assert User.objects.count() == 1


def test_a_consultant_registers_with_a_known_category(api):
    response = api.post(URL, body(role="consultant", category="legal"), format="json")
    assert response.status_code == 201
    assert response.json()["user"]["role"] == "consultant"


def test_an_unknown_category_refuses_the_whole_registration(api):
    response = api.post(URL, body(role="consultant", category="alchemy"), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "category" in response.json()["fields"]
    assert not User.objects.exists()
