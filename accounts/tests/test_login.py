from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import hashers

from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/login"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def login(api, email, password=PASSWORD, **extra):
    return api.post(URL, {"email": email, "password": password, **extra}, format="json")


def fail_times(api, email, times):
    for _ in range(times):
        assert login(api, email, "wrong password").status_code == 401


def test_it_signs_in_with_the_right_password(api, client_user):
    response = login(api, "asha@example.com")
    assert response.status_code == 200
    data = response.json()
    assert data["user"]["id"] == str(client_user.id)
    assert set(data) == {"user", "access", "refresh"}
    client_user.refresh_from_db()
    assert client_user.last_login is not None


def test_the_email_is_case_insensitive(api, client_user):
    assert login(api, "  ASHA@Example.com ").status_code == 200


def test_a_wrong_password_is_invalid_credentials(api, client_user):
    response = login(api, "asha@example.com", "not it")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_an_unknown_email_answers_like_a_wrong_password(api, monkeypatch):
    hashed = []
    real = hashers.make_password
    monkeypatch.setattr("accounts.services.make_password", lambda p: hashed.append(p) or real(p))
    response = login(api, "nobody@example.com")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert hashed == [PASSWORD]  # the hasher ran: no timing difference


def test_a_deactivated_user_cannot_sign_in(api, client_user):
    client_user.is_active = False
    client_user.save()
    assert login(api, "asha@example.com").json()["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"email": "asha@example.com"},
        {"password": PASSWORD},
        {"email": ["asha@example.com"], "password": PASSWORD},
        {"email": "asha@example.com", "password": 123},
        {"email": "a" * 300, "password": PASSWORD},
        {"email": "asha@example.com", "password": "p" * 129},
        {"email": "asha@example.com", "password": PASSWORD, "otp": {"code": 1}},
    ],
)
def test_malformed_input_is_invalid(api, client_user, payload):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


class TestLockout:
    def test_the_fifth_failure_still_answers_401(self, api, client_user):
        fail_times(api, "asha@example.com", 4)
        response = login(api, "asha@example.com", "wrong again")
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"

    def test_after_five_failures_even_the_right_password_is_refused_with_423(
        self, api, client_user
    ):
        with time_machine.travel(START, tick=False):
            fail_times(api, "asha@example.com", 5)
            response = login(api, "asha@example.com")
        assert response.status_code == 423
        assert response.json()["code"] == "account_locked"
        assert "2026-03-01T09:15:00Z" in response.json()["detail"]

    def test_the_lock_holds_for_fifteen_minutes_then_lifts(self, api, client_user):
        with time_machine.travel(START, tick=False) as clock:
            fail_times(api, "asha@example.com", 5)
            clock.shift(timedelta(minutes=14, seconds=59))
            assert login(api, "asha@example.com").status_code == 423
            clock.shift(timedelta(seconds=1))
            assert login(api, "asha@example.com").status_code == 200

    def test_attempts_while_locked_do_not_extend_the_lock(self, api, client_user):
        with time_machine.travel(START, tick=False) as clock:
            fail_times(api, "asha@example.com", 5)
            clock.shift(timedelta(minutes=10))
            assert login(api, "asha@example.com", "wrong").status_code == 423
            clock.shift(timedelta(minutes=5))
            assert login(api, "asha@example.com").status_code == 200

    def test_failures_older_than_the_window_are_forgotten(self, api, client_user):
        with time_machine.travel(START, tick=False) as clock:
            fail_times(api, "asha@example.com", 4)
            clock.shift(timedelta(minutes=15))
            fail_times(api, "asha@example.com", 4)
            assert login(api, "asha@example.com").status_code == 200

    def test_a_success_resets_the_count(self, api, client_user):
        fail_times(api, "asha@example.com", 4)
        assert login(api, "asha@example.com").status_code == 200
        fail_times(api, "asha@example.com", 4)
        assert login(api, "asha@example.com").status_code == 200

    def test_unknown_emails_are_locked_too(self, api):
        fail_times(api, "ghost@example.com", 5)
        assert login(api, "ghost@example.com").status_code == 423

    def test_the_count_ignores_the_email_case(self, api, client_user):
        fail_times(api, "ASHA@example.com", 3)
        fail_times(api, "asha@EXAMPLE.com", 2)
        assert login(api, "asha@example.com").status_code == 423

    def test_one_locked_email_does_not_lock_another(self, api, client_user, consultant_user):
        fail_times(api, "asha@example.com", 5)
        assert login(api, "vikram@example.com").status_code == 200

    def test_the_limit_comes_from_the_settings(self, api, client_user, settings):
        settings.LOGIN_MAX_FAILURES = 2
        fail_times(api, "asha@example.com", 2)
        assert login(api, "asha@example.com").status_code == 423


class TestLoginWithMfa:
    def test_without_a_code_it_answers_mfa_required(self, api, mfa_user):
        response = login(api, "meera@example.com")
        assert response.status_code == 401
        assert response.json()["code"] == "mfa_required"

    def test_a_blank_code_is_no_code(self, api, mfa_user):
        assert login(api, "meera@example.com", otp="").json()["code"] == "mfa_required"

    def test_the_current_code_signs_in(self, api, mfa_user):
        response = login(api, "meera@example.com", otp=mfa_user.totp.now())
        assert response.status_code == 200
        assert response.json()["user"]["mfa_enabled"] is True

    def test_the_previous_window_code_still_works(self, api, mfa_user):
        with time_machine.travel(START, tick=False):
            code = mfa_user.totp.at(START - timedelta(seconds=30))
            assert login(api, "meera@example.com", otp=code).status_code == 200

    def test_a_code_two_windows_old_is_refused(self, api, mfa_user):
        with time_machine.travel(START, tick=False):
            code = mfa_user.totp.at(START - timedelta(seconds=60))
            response = login(api, "meera@example.com", otp=code)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_otp"

    def test_a_code_is_good_only_once(self, api, mfa_user):
        with time_machine.travel(START, tick=False):
            code = mfa_user.totp.now()
            assert login(api, "meera@example.com", otp=code).status_code == 200
            response = login(api, "meera@example.com", otp=code)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_otp"

    @pytest.mark.parametrize("otp", ["000000", "12345", "abcdef", "1234567", "１２３４５６"])
    def test_a_wrong_code_is_invalid_otp(self, api, mfa_user, otp):
        response = login(api, "meera@example.com", otp=otp)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_otp"

    def test_a_wrong_password_never_reveals_that_mfa_is_on(self, api, mfa_user):
        response = login(api, "meera@example.com", "wrong")
        assert response.json()["code"] == "invalid_credentials"

    def test_wrong_codes_count_towards_the_lockout(self, api, mfa_user):
        for _ in range(5):
            assert login(api, "meera@example.com", otp="000000").status_code == 401
        response = login(api, "meera@example.com", otp=mfa_user.totp.now())
        assert response.status_code == 423


class TestLookAlikeEmails:
    """Emails are normalised once (NFKC, case-folded, trimmed) for the lookup and the lockout's
    key, and the lockout counts per user: a spelling never buys a fresh counter."""

    def test_look_alike_spellings_share_the_accounts_counter(self, api, client_user):
        fail_times(api, "ASHA@EXAMPLE.COM ", 2)
        fail_times(api, "a\u017fha@example.com", 2)  # ſ, the long s
        fail_times(api, "\uff41\uff53\uff48\uff41@example.com", 1)  # full-width letters
        response = login(api, "asha@example.com")
        assert response.status_code == 423

    @pytest.mark.parametrize(
        "spelling",
        ["a\u017fha@example.com", "\uff41\uff53\uff48\uff41@example.com", "\tAsha@Example.com "],
    )
    def test_a_compatible_spelling_signs_in_to_the_one_account(self, api, client_user, spelling):
        response = login(api, spelling)
        assert response.status_code == 200
        assert response.json()["user"]["id"] == str(client_user.id)

    def test_a_dotless_i_is_another_address_and_never_reaches_the_account(self, api):
        # PostgreSQL's case-insensitive match takes "ı" for "i": looked up that way, this
        # spelling reached the account with a counter of its own, five more guesses each time.
        from accounts.tests.factories import ClientFactory

        ClientFactory(email="mira@example.com")
        fail_times(api, "mira@example.com", 5)
        response = login(api, "m\u0131ra@example.com")
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
        assert login(api, "mira@example.com").status_code == 423


def test_the_stored_email_is_the_normal_form(api):
    from accounts.models import User

    body = {
        "email": "  Ri\u017fa@Example.COM",
        "password": "a long enough passphrase",
        "name": "Risa",
        "role": "client",
    }
    response = api.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 201, response.json()
    assert User.objects.get().email == "risa@example.com"


def test_registering_a_look_alike_of_a_taken_email_is_refused(api, client_user):
    body = {
        "email": "a\u017fha@example.com",
        "password": "a long enough passphrase",
        "name": "Impostor",
        "role": "client",
    }
    response = api.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
