"""The account pages through Django's test client: the same rules as the API, in words."""

from datetime import timedelta

import pyotp
import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, ClientFactory, ConsultantUserFactory

pytestmark = pytest.mark.django_db


def signed_in_user(client):
    from django.contrib.auth import get_user

    return get_user(client)


# --- Sign-up -----------------------------------------------------------------------------------


def test_signing_up_as_a_client_signs_in_and_goes_to_discovery(client):
    response = client.post(
        "/signup/",
        {"name": "Asha Verma", "email": "Asha@Example.com", "password": PASSWORD, "role": "client"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/consultants/"
    user = User.objects.get(email="asha@example.com")
    assert user.role == Role.CLIENT and user.name == "Asha Verma"
    assert signed_in_user(client) == user


def test_signing_up_as_a_consultant_goes_to_the_profile_editor(client):
    response = client.post(
        "/signup/",
        {"name": "Rohan", "email": "rohan@example.com", "password": PASSWORD, "role": "consultant"},
    )
    assert response["Location"] == "/dashboard/profile/"
    assert User.objects.get(email="rohan@example.com").role == Role.CONSULTANT


def test_a_taken_email_is_told_next_to_the_field_keeping_what_was_typed(client):
    ClientFactory(email="asha@example.com")
    response = client.post(
        "/signup/",
        {"name": "Asha V", "email": "asha@example.com", "password": PASSWORD, "role": "client"},
    )
    assert response.status_code == 409
    assert response.context["form"].errors["email"] == [
        "An account with this email already exists."
    ]
    html = response.content.decode()
    assert 'value="Asha V"' in html and 'value="asha@example.com"' in html


def test_a_weak_password_is_refused_with_the_validators_words(client):
    response = client.post(
        "/signup/",
        {"name": "A", "email": "a@example.com", "password": "12345678", "role": "client"},
    )
    assert response.status_code == 400
    assert any("too common" in e for e in response.context["form"].errors["password"])
    assert not User.objects.filter(email="a@example.com").exists()


def test_nobody_signs_up_as_an_admin(client):
    response = client.post(
        "/signup/", {"name": "A", "email": "a@example.com", "password": PASSWORD, "role": "admin"}
    )
    assert response.status_code == 400
    assert not User.objects.exists()


def test_every_signup_field_has_a_label(client):
    html = client.get("/signup/").content.decode()
    for field in ("id_name", "id_email", "id_password"):
        assert f'<label for="{field}">' in html
    assert 'id="role-legend">I am a</legend>' in html


# --- Log-in ------------------------------------------------------------------------------------


def test_the_right_password_signs_in_and_follows_next(client):
    user = ClientFactory(email="asha@example.com")
    response = client.post(
        "/login/?next=/wallet/", {"email": "ASHA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    assert signed_in_user(client) == user


def test_next_to_another_site_is_ignored(client):
    ClientFactory(email="asha@example.com")
    response = client.post(
        "/login/?next=https://evil.example/", {"email": "asha@example.com", "password": PASSWORD}
    )
    assert response["Location"] == "/consultants/"


def test_a_consultant_lands_on_the_dashboard(client):
    ConsultantUserFactory(email="rohan@example.com")
    response = client.post("/login/", {"email": "rohan@example.com", "password": PASSWORD})
    assert response["Location"] == "/dashboard/"


def test_a_wrong_password_is_told_in_words_and_the_email_is_kept(client):
    ClientFactory(email="asha@example.com")
    response = client.post("/login/", {"email": "asha@example.com", "password": "nope"})
    assert response.status_code == 401
    html = response.content.decode()
    assert "The email or password is wrong." in html
    assert 'value="asha@example.com"' in html
    assert "nope" not in html
    assert not signed_in_user(client).is_authenticated


def test_the_pages_share_the_apis_lockout(client, api):
    ClientFactory(email="asha@example.com")
    for _ in range(4):
        client.post("/login/", {"email": "asha@example.com", "password": "wrong"})
    # The fifth failure, through the API, locks the email for the pages too.
    assert (
        api.post(
            "/api/v1/auth/login", {"email": "asha@example.com", "password": "wrong"}, format="json"
        ).status_code
        == 401
    )
    response = client.post("/login/", {"email": "asha@example.com", "password": PASSWORD})
    assert response.status_code == 423
    assert "locked until" in response.content.decode()
    assert not signed_in_user(client).is_authenticated


def test_the_pages_share_the_apis_auth_throttle(client, settings):
    settings.THROTTLE_RATE_AUTH = "2/min"
    ClientFactory(email="asha@example.com")
    for _ in range(2):
        client.post("/login/", {"email": "asha@example.com", "password": "wrong"})
    response = client.post("/login/", {"email": "asha@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts from your network" in response.content.decode()


# --- The code step ------------------------------------------------------------------------------


@pytest.fixture
def mfa_user(db):
    secret = pyotp.random_base32()
    user = ClientFactory(email="meera@example.com", mfa_secret=secret, mfa_enabled=True)
    user.totp = pyotp.TOTP(secret)
    return user


def test_with_mfa_on_the_password_leads_to_the_code_step(client, mfa_user):
    response = client.post("/login/", {"email": "meera@example.com", "password": PASSWORD})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_code">Code</label>' in html and ">Verify</button>" in html
    assert not signed_in_user(client).is_authenticated
    response = client.post("/login/", {"code": mfa_user.totp.now()})
    assert response.status_code == 302
    assert signed_in_user(client) == mfa_user


def test_a_wrong_code_is_told_and_counts_as_a_failure(client, mfa_user):
    client.post("/login/", {"email": "meera@example.com", "password": PASSWORD})
    response = client.post("/login/", {"code": "000000"})
    assert response.status_code == 401
    assert "That code is wrong" in response.content.decode()
    assert not signed_in_user(client).is_authenticated


def test_a_code_without_the_password_step_signs_nobody_in(client, mfa_user):
    response = client.post("/login/", {"code": mfa_user.totp.now()})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not signed_in_user(client).is_authenticated


def test_the_code_step_expires(client, mfa_user):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client.post("/login/", {"email": "meera@example.com", "password": PASSWORD})
        clock.shift(timedelta(minutes=6))
        response = client.post("/login/", {"code": mfa_user.totp.now()})
    assert response["Location"] == "/login/"
    assert not signed_in_user(client).is_authenticated


def test_wrong_codes_lock_the_account_like_the_api(client, mfa_user):
    client.post("/login/", {"email": "meera@example.com", "password": PASSWORD})
    for _ in range(5):
        client.post("/login/", {"code": "000000"})
    response = client.post("/login/", {"code": mfa_user.totp.now()}, follow=True)
    assert "locked until" in response.content.decode()
    assert not signed_in_user(client).is_authenticated


# --- Log-out and the account page --------------------------------------------------------------


def test_log_out_ends_the_session(client):
    client.force_login(ClientFactory())
    page = client.get("/").content.decode()
    assert '<span class="label-wide">Log out</span></button>' in page
    response = client.post("/logout/")
    assert response["Location"] == "/"
    assert not signed_in_user(client).is_authenticated


def test_the_account_page_needs_a_login(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/"


def test_name_and_phone_are_saved(client):
    user = ClientFactory()
    client.force_login(user)
    response = client.post(
        "/account/", {"action": "profile", "name": "Asha K", "phone": "+91 98765-43210"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.phone) == ("Asha K", "+919876543210")


def test_a_bad_phone_is_told_next_to_the_field(client):
    client.force_login(ClientFactory())
    response = client.post("/account/", {"action": "profile", "name": "A", "phone": "12ab"})
    assert response.status_code == 400
    assert response.context["profile_form"].errors["phone"] == [
        "Enter a phone number: + and 7 to 15 digits."
    ]


def test_mfa_is_set_up_with_a_qr_code_and_the_secret_then_turned_on_and_off(client):
    user = ClientFactory()
    client.force_login(user)
    client.post("/account/", {"action": "mfa_setup"})
    page = client.get("/account/").content.decode()
    user.refresh_from_db()
    assert user.mfa_secret and not user.mfa_enabled
    assert f'data-testid="mfa-secret">{user.mfa_secret}<' in page
    assert "<svg" in page and 'aria-label="QR image to scan with your authenticator app"' in page
    totp = pyotp.TOTP(user.mfa_secret)
    assert client.post("/account/", {"action": "mfa_enable", "code": "000000"}).status_code == 400
    previous = totp.at(timezone.now() - timedelta(seconds=30))
    assert client.post("/account/", {"action": "mfa_enable", "code": previous}).status_code == 302
    user.refresh_from_db()
    assert user.mfa_enabled
    response = client.post("/account/", {"action": "mfa_disable", "code": totp.now()})
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.mfa_enabled and not user.mfa_secret


# --- Site-wide ---------------------------------------------------------------------------------


def test_a_missing_page_is_an_html_page_and_a_missing_api_route_json(client):
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
    assert "We could not find that page" in page.content.decode()
    api = client.get("/api/v1/no-such-route")
    assert api.status_code == 404
    assert api.json() == {"code": "not_found", "detail": "Not found."}


def test_the_admins_stylesheet_is_served(client):
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200


def test_a_path_without_its_slash_redirects_to_the_page(client):
    response = client.get("/login")
    assert response.status_code == 301 and response["Location"] == "/login/"
