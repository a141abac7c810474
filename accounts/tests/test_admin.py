import pyotp
import pytest
from django.core.management import call_command

from accounts.models import Role, User
from accounts.tests.factories import PASSWORD, AdminFactory, ClientFactory, ConsultantUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    """Django's test client, signed in to the admin as a superuser."""
    client.force_login(AdminFactory())
    return client


def test_createsuperuser_makes_an_admin_from_email_and_name(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-passphrase")
    call_command(
        "createsuperuser", "--noinput", "--email", "Boss@Example.com", "--name", "The Boss"
    )
    user = User.objects.get(email="boss@example.com")
    assert user.role == Role.ADMIN
    assert user.is_superuser and user.is_staff
    assert user.name == "The Boss"
    assert user.check_password("a-long-admin-passphrase")


def test_the_user_list_shows_who_is_who(operator):
    ClientFactory(email="asha@example.com", name="Asha")
    response = operator.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert b"asha@example.com" in response.content


def test_it_searches_by_email_name_and_phone(operator):
    ClientFactory(email="asha@example.com", name="Asha Rao", phone="+919800000001")
    ClientFactory(email="other@example.com", name="Other")
    for term in ["asha@", "Rao", "9800000001"]:
        response = operator.get("/admin/accounts/user/", {"q": term})
        assert b"asha@example.com" in response.content
        assert b"other@example.com" not in response.content


def test_it_filters_by_role_and_activity(operator):
    ClientFactory(email="asha@example.com")
    ConsultantUserFactory(email="vikram@example.com", is_active=False)
    response = operator.get("/admin/accounts/user/", {"role__exact": "consultant"})
    assert b"vikram@example.com" in response.content
    assert b"asha@example.com" not in response.content
    response = operator.get("/admin/accounts/user/", {"is_active__exact": "1"})
    assert b"asha@example.com" in response.content
    assert b"vikram@example.com" not in response.content


def test_the_change_page_shows_no_password_hash_or_mfa_secret(operator):
    user = ClientFactory(mfa_secret="JBSWY3DPEHPK3PXP")
    response = operator.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert b"argon2" not in response.content
    assert b"JBSWY3DPEHPK3PXP" not in response.content
    assert b'name="password"' not in response.content
    assert b'name="mfa_enabled"' not in response.content  # read-only


# --- The admin's sign-in: the same lockout and MFA as the API (issue 10) ----------------------

LOGIN = "/admin/login/"


def admin_login(client, email="boss@example.com", password=PASSWORD, otp=""):
    return client.post(
        LOGIN, {"username": email, "password": password, "otp": otp, "next": "/admin/"}
    )


def signed_in_as(client) -> str | None:
    return client.session.get("_auth_user_id")


@pytest.fixture
def boss(db):
    return AdminFactory(email="boss@example.com")


def test_the_right_password_signs_staff_in(client, boss):
    response = admin_login(client)
    assert response.status_code == 302
    assert signed_in_as(client) == str(boss.pk)


def test_the_sign_in_page_asks_for_the_one_time_code(client):
    response = client.get(LOGIN)
    assert b'name="otp"' in response.content
    assert b'autocomplete="one-time-code"' in response.content


def test_password_guessing_at_the_admin_login_locks_the_account(client, boss):
    for _ in range(5):
        response = admin_login(client, password="guess")
        assert response.status_code == 200
        assert b"Please enter the correct" in response.content
    response = admin_login(client)  # the right password, too late
    assert response.status_code == 200
    assert b"Too many failed logins" in response.content
    assert signed_in_as(client) is None


def test_the_admin_and_the_api_count_failures_on_one_counter(client, api, boss):
    for _ in range(3):
        admin_login(client, password="guess")
    for _ in range(2):
        body = {"email": "boss@example.com", "password": "guess"}
        assert api.post("/api/v1/auth/login", body, format="json").status_code == 401
    assert admin_login(client).status_code == 200
    assert signed_in_as(client) is None


def test_staff_with_mfa_on_must_give_the_code(client):
    secret = pyotp.random_base32()
    AdminFactory(email="boss@example.com", mfa_secret=secret, mfa_enabled=True)
    response = admin_login(client)
    assert b"needs the one-time code" in response.content
    assert signed_in_as(client) is None
    response = admin_login(client, otp="000000")
    assert b"one-time code is wrong" in response.content
    assert signed_in_as(client) is None
    response = admin_login(client, otp=pyotp.TOTP(secret).now())
    assert response.status_code == 302
    assert signed_in_as(client) is not None


def test_a_non_staff_account_with_the_right_password_is_not_let_in(client):
    ClientFactory(email="asha@example.com")
    response = admin_login(client, email="asha@example.com")
    assert response.status_code == 200
    assert signed_in_as(client) is None


def test_the_admin_login_shares_the_per_address_budget_of_the_api(client, boss, settings):
    settings.THROTTLE_RATE_AUTH = "3/min"
    for n in range(3):
        admin_login(client, email=f"nobody{n}@example.com", password="guess")
    response = admin_login(client)
    assert b"Too many sign-in attempts from your address" in response.content
    assert signed_in_as(client) is None


def test_djangos_authenticate_goes_through_the_lockout(boss):
    from django.contrib.auth import authenticate

    for _ in range(5):
        assert authenticate(username="boss@example.com", password="guess") is None
    assert authenticate(username="boss@example.com", password=PASSWORD) is None


# --- Staff who are not superusers cannot make anyone staff or superuser ------------------------


@pytest.fixture
def clerk(client):
    """Staff with every permission on users, but not a superuser; signed in to the admin."""
    from django.contrib.auth.models import Permission

    user = ClientFactory(email="clerk@example.com", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="accounts"))
    client.force_login(user)
    return user


def test_a_non_superuser_cannot_grant_staff_superuser_or_the_admin_role(client, clerk):
    target = ClientFactory(email="asha@example.com", name="Asha")
    response = client.post(
        f"/admin/accounts/user/{target.pk}/change/",
        {
            "email": "asha@example.com",
            "name": "Asha R",
            "phone": "",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "role": "admin",
        },
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.name == "Asha R"  # the edit itself went through
    assert (target.is_staff, target.is_superuser, target.role) == (False, False, "client")


def test_a_non_superuser_cannot_make_themselves_superuser(client, clerk):
    response = client.post(
        f"/admin/accounts/user/{clerk.pk}/change/",
        {"email": "clerk@example.com", "name": "Clerk", "is_active": "on", "is_superuser": "on"},
    )
    assert response.status_code == 403
    clerk.refresh_from_db()
    assert not clerk.is_superuser


def test_a_non_superuser_cannot_change_or_delete_a_privileged_account(client, clerk):
    boss = AdminFactory(email="boss@example.com")
    assert client.get(f"/admin/accounts/user/{boss.pk}/change/").status_code in (200, 403)
    response = client.post(
        f"/admin/accounts/user/{boss.pk}/change/",
        {"email": "mine@example.com", "name": "Boss", "is_active": ""},
    )
    assert response.status_code == 403
    assert (
        client.post(f"/admin/accounts/user/{boss.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    boss.refresh_from_db()
    assert (boss.email, boss.is_active) == ("boss@example.com", True)


def test_a_superuser_can_still_grant_staff(operator):
    target = ClientFactory(email="asha@example.com")
    response = operator.post(
        f"/admin/accounts/user/{target.pk}/change/",
        {
            "email": "asha@example.com",
            "name": "Asha",
            "phone": "",
            "role": "client",
            "is_active": "on",
            "is_staff": "on",
        },
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.is_staff


def test_deactivating_a_user_in_the_admin_ends_their_sessions(operator, api):
    from accounts.tokens import issue_tokens

    target = ClientFactory(email="asha@example.com")
    pair = issue_tokens(target)
    response = operator.post(
        f"/admin/accounts/user/{target.pk}/change/",
        {"email": "asha@example.com", "name": "Asha", "phone": "", "role": "client"},
    )
    assert response.status_code == 302
    response = api.post("/api/v1/auth/refresh", {"refresh": pair.refresh}, format="json")
    assert response.json()["code"] == "token_not_valid"
