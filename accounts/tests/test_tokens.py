import io
import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from accounts.tests.factories import ClientFactory
from accounts.tokens import issue_tokens

pytestmark = pytest.mark.django_db

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"


def refresh(api, token):
    return api.post(REFRESH, {"refresh": token}, format="json")


class TestRefresh:
    def test_it_gives_a_new_pair_and_kills_the_old_refresh_token(self, api, client_user):
        old = issue_tokens(client_user).refresh
        response = refresh(api, old)
        assert response.status_code == 200
        data = response.json()
        assert set(data) == {"access", "refresh"}
        assert data["refresh"] != old
        assert refresh(api, data["refresh"]).status_code == 200
        again = refresh(api, old)
        assert again.status_code == 401
        assert again.json()["code"] == "token_not_valid"

    def test_the_new_access_token_works_and_carries_the_current_role(self, api, client_user):
        old = issue_tokens(client_user).refresh
        client_user.role = "consultant"
        client_user.save()
        access = refresh(api, old).json()["access"]
        assert AccessToken(access)["role"] == "consultant"
        me = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")
        assert me.status_code == 200

    @pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 4000])
    def test_a_garbage_token_is_not_valid(self, api, token):
        response = refresh(api, token)
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"

    def test_an_access_token_is_not_a_refresh_token(self, api, client_user):
        response = refresh(api, issue_tokens(client_user).access)
        assert response.json()["code"] == "token_not_valid"

    def test_an_expired_refresh_token_is_not_valid(self, api, client_user):
        token = issue_tokens(client_user).refresh
        with time_machine.travel(timezone.now() + timedelta(days=8)):
            assert refresh(api, token).json()["code"] == "token_not_valid"

    def test_a_deactivated_users_refresh_token_is_refused(self, api, client_user):
        token = issue_tokens(client_user).refresh
        client_user.is_active = False
        client_user.save()
        response = refresh(api, token)
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"

    @pytest.mark.parametrize("payload", [{}, {"refresh": 12}, {"refresh": ""}, ["x"]])
    def test_a_missing_or_wrong_typed_token_is_invalid(self, api, payload):
        response = api.post(REFRESH, payload, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refreshes_of_one_token_give_exactly_one_success():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locking")
    user = ClientFactory()
    token = issue_tokens(user).refresh
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def use_it():
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            statuses.append(client.post(REFRESH, {"refresh": token}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=use_it) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] + [401] * 19


class TestLogout:
    def test_it_blacklists_the_refresh_token(self, signed_in, client_user):
        token = issue_tokens(client_user).refresh
        response = signed_in.post(LOGOUT, {"refresh": token}, format="json")
        assert response.status_code == 204
        assert refresh(APIClient(), token).json()["code"] == "token_not_valid"

    def test_it_needs_a_signed_in_user(self, api, client_user):
        token = issue_tokens(client_user).refresh
        response = api.post(LOGOUT, {"refresh": token}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert refresh(api, token).status_code == 200  # untouched

    def test_it_refuses_someone_elses_token_and_leaves_it_alive(self, signed_in):
        other = issue_tokens(ClientFactory()).refresh
        response = signed_in.post(LOGOUT, {"refresh": other}, format="json")
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"
        assert refresh(APIClient(), other).status_code == 200

    def test_logging_out_twice_is_refused(self, signed_in, client_user):
        token = issue_tokens(client_user).refresh
        assert signed_in.post(LOGOUT, {"refresh": token}, format="json").status_code == 204
        response = signed_in.post(LOGOUT, {"refresh": token}, format="json")
        assert response.json()["code"] == "token_not_valid"

    def test_a_missing_token_is_invalid(self, signed_in):
        response = signed_in.post(LOGOUT, {}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"


class TestMe:
    def test_it_shows_the_signed_in_user(self, signed_in, client_user):
        response = signed_in.get("/api/v1/auth/me")
        assert response.status_code == 200
        assert response.json() == {
            "id": str(client_user.id),
            "email": "asha@example.com",
            "name": client_user.name,
            "phone": "",
            "role": "client",
            "mfa_enabled": False,
            "date_joined": client_user.date_joined.isoformat().replace("+00:00", "Z"),
            "birth_details": None,
        }

    def test_without_a_token_it_is_not_authenticated(self, api):
        response = api.get("/api/v1/auth/me")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"

    def test_a_garbage_bearer_token_is_not_valid(self, api):
        response = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION="Bearer garbage.token.here")
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"

    def test_a_refresh_token_is_not_an_access_token(self, api, client_user):
        token = issue_tokens(client_user).refresh
        response = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401
        assert response.json()["code"] == "token_not_valid"

    def test_an_expired_access_token_is_not_valid(self, api, client_user):
        access = issue_tokens(client_user).access
        with time_machine.travel(timezone.now() + timedelta(minutes=16)):
            response = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}")
        assert response.json()["code"] == "token_not_valid"


# --- Families: a stolen refresh token cannot keep the account (issue 10) ---------------------


class TestFamilies:
    def test_a_reused_refresh_token_kills_every_token_issued_from_it_since(self, api, client_user):
        first = issue_tokens(client_user).refresh
        second = refresh(api, first).json()["refresh"]  # the thief's rotation with a copy
        third = refresh(api, second).json()["refresh"]
        # The owner presents the token the thief already used: the family dies.
        assert refresh(api, first).json()["code"] == "token_not_valid"
        assert refresh(api, third).json()["code"] == "token_not_valid"

    def test_reusing_a_middle_token_kills_the_newest(self, api, client_user):
        first = issue_tokens(client_user).refresh
        second = refresh(api, first).json()["refresh"]
        third = refresh(api, second).json()["refresh"]
        assert refresh(api, second).status_code == 401
        assert refresh(api, third).status_code == 401

    def test_a_reuse_leaves_the_users_other_sign_ins_alone(self, api, client_user):
        phone = issue_tokens(client_user).refresh
        laptop = issue_tokens(client_user).refresh
        refresh(api, phone)
        assert refresh(api, phone).status_code == 401
        assert refresh(api, laptop).status_code == 200

    def test_a_logged_out_token_presented_again_kills_nothing_it_did_not_issue(
        self, api, signed_in, client_user
    ):
        token = issue_tokens(client_user).refresh
        assert signed_in.post(LOGOUT, {"refresh": token}, format="json").status_code == 204
        assert refresh(api, token).json()["code"] == "token_not_valid"


class TestSessionLifetime:
    def test_rotation_cannot_carry_a_session_past_its_absolute_lifetime(self, api, client_user):
        start = timezone.now()
        token = issue_tokens(client_user).refresh
        # Refreshed every 6 days (each refresh token lives 7): alive until day 30, not after.
        for day in range(6, 30, 6):
            with time_machine.travel(start + timedelta(days=day)):
                response = refresh(api, token)
                assert response.status_code == 200, day
                token = response.json()["refresh"]
        with time_machine.travel(start + timedelta(days=30, seconds=1)):
            assert refresh(api, token).json()["code"] == "token_not_valid"

    def test_the_last_tokens_expire_with_the_session(self, api, client_user):
        start = timezone.now()
        token = issue_tokens(client_user).refresh
        for day in (6, 12, 18, 24):
            with time_machine.travel(start + timedelta(days=day)):
                token = refresh(api, token).json()["refresh"]
        with time_machine.travel(start + timedelta(days=29, hours=23, minutes=55)):
            data = refresh(api, token).json()
        ends = start + timedelta(days=30)
        assert abs(RefreshToken(data["refresh"], verify=False)["exp"] - ends.timestamp()) < 2
        assert AccessToken(data["access"], verify=False)["exp"] <= ends.timestamp() + 1

    def test_the_lifetime_is_a_setting(self, api, client_user, settings):
        settings.JWT_SESSION_MAX_DAYS = 2
        start = timezone.now()
        token = issue_tokens(client_user).refresh
        with time_machine.travel(start + timedelta(days=1)):
            token = refresh(api, token).json()["refresh"]
        with time_machine.travel(start + timedelta(days=2, seconds=1)):
            assert refresh(api, token).json()["code"] == "token_not_valid"


class TestEndOfSessions:
    """A new password or a deactivation ends every session of the user."""

    def test_a_new_password_revokes_every_refresh_token_and_access_token(self, api, client_user):
        phone, laptop = issue_tokens(client_user), issue_tokens(client_user)
        user = User.objects.get(pk=client_user.pk)  # as the admin or a page reads it
        user.set_password("a brand new passphrase")
        user.save()
        for pair in (phone, laptop):
            assert refresh(api, pair.refresh).json()["code"] == "token_not_valid"
            me = api.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
            assert me.json()["code"] == "token_not_valid"
        fresh = issue_tokens(user)
        assert refresh(api, fresh.refresh).status_code == 200

    def test_changepassword_ends_the_sessions_too(self, api, client_user, monkeypatch):
        from django.core.management import call_command

        pair = issue_tokens(client_user)
        monkeypatch.setattr("getpass.getpass", lambda prompt="": "another good passphrase 42")
        call_command("changepassword", "asha@example.com", stdout=io.StringIO())
        assert refresh(api, pair.refresh).json()["code"] == "token_not_valid"

    def test_a_deactivation_revokes_every_refresh_token(self, api, client_user):
        pair = issue_tokens(client_user)
        user = User.objects.get(pk=client_user.pk)
        user.is_active = False
        user.save()
        user.is_active = True  # reactivated: the old tokens stay dead
        user.save()
        assert refresh(api, pair.refresh).json()["code"] == "token_not_valid"

    def test_a_password_hash_upgrade_at_sign_in_ends_nothing(self, api, client_user, settings):
        from accounts.tests.factories import PASSWORD

        pair = issue_tokens(client_user)
        # A stronger hasher: the next sign-in re-hashes the password, which is not a new one.
        settings.PASSWORD_HASHERS = [
            "django.contrib.auth.hashers.PBKDF2PasswordHasher",
            "django.contrib.auth.hashers.Argon2PasswordHasher",
        ]
        body = {"email": "asha@example.com", "password": PASSWORD}
        assert api.post("/api/v1/auth/login", body, format="json").status_code == 200
        assert User.objects.get(pk=client_user.pk).password.startswith("pbkdf2")
        assert refresh(api, pair.refresh).status_code == 200
