from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import time_machine

from accounts.models import User
from accounts.tests.factories import sign_in

pytestmark = pytest.mark.django_db

SETUP = "/api/v1/auth/mfa/setup"
ENABLE = "/api/v1/auth/mfa/enable"
DISABLE = "/api/v1/auth/mfa/disable"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def set_up(api) -> pyotp.TOTP:
    response = api.post(SETUP)
    assert response.status_code == 200
    return pyotp.TOTP(response.json()["secret"])


def test_setup_returns_a_secret_and_an_otpauth_url_without_enabling(signed_in, client_user):
    response = signed_in.post(SETUP)
    assert response.status_code == 200
    data = response.json()
    url = urlsplit(data["otpauth_url"])
    assert url.scheme == "otpauth"
    assert parse_qs(url.query)["secret"] == [data["secret"]]
    assert parse_qs(url.query)["issuer"] == ["Consult"]
    client_user.refresh_from_db()
    assert client_user.mfa_secret == data["secret"]
    assert client_user.mfa_enabled is False


def test_a_valid_code_enables_mfa(signed_in, client_user):
    totp = set_up(signed_in)
    response = signed_in.post(ENABLE, {"otp": totp.now()}, format="json")
    assert response.status_code == 200
    assert response.json()["mfa_enabled"] is True
    assert response.json()["id"] == str(client_user.id)


@pytest.mark.parametrize("otp", ["000000", "abc", "1" * 16])
def test_a_wrong_code_does_not_enable_it(signed_in, client_user, otp):
    set_up(signed_in)
    response = signed_in.post(ENABLE, {"otp": otp}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_otp"
    client_user.refresh_from_db()
    assert client_user.mfa_enabled is False


@pytest.mark.parametrize("payload", [{}, {"otp": 123456}, {"otp": "1" * 17}, {"otp": None}])
def test_a_missing_or_wrong_typed_code_is_invalid(signed_in, payload):
    set_up(signed_in)
    response = signed_in.post(ENABLE, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_enabling_before_setup_is_a_conflict(signed_in):
    response = signed_in.post(ENABLE, {"otp": "123456"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_set_up"


def test_setup_without_the_current_code_is_refused_while_mfa_is_on(signed_in, client_user):
    totp = set_up(signed_in)
    signed_in.post(ENABLE, {"otp": totp.now()}, format="json")
    response = signed_in.post(SETUP)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_otp"
    client_user.refresh_from_db()
    assert client_user.mfa_secret == totp.secret
    assert client_user.mfa_pending_secret == ""


def test_a_valid_code_disables_mfa_and_forgets_the_secret(signed_in, client_user):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(signed_in, client_user)
        totp = set_up(signed_in)
        signed_in.post(ENABLE, {"otp": totp.now()}, format="json")
        clock.shift(timedelta(seconds=30))
        response = signed_in.post(DISABLE, {"otp": totp.now()}, format="json")
    assert response.status_code == 200
    assert response.json()["mfa_enabled"] is False
    client_user.refresh_from_db()
    assert client_user.mfa_secret == ""


def test_the_code_that_enabled_mfa_cannot_disable_it(signed_in, client_user):
    with time_machine.travel(START, tick=False):
        sign_in(signed_in, client_user)
        totp = set_up(signed_in)
        code = totp.now()
        signed_in.post(ENABLE, {"otp": code}, format="json")
        response = signed_in.post(DISABLE, {"otp": code}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_otp"
    assert User.objects.get(pk=client_user.pk).mfa_enabled is True


def test_a_wrong_code_does_not_disable_it(signed_in, client_user):
    totp = set_up(signed_in)
    signed_in.post(ENABLE, {"otp": totp.now()}, format="json")
    response = signed_in.post(DISABLE, {"otp": "000000"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_otp"


def test_disabling_when_off_is_a_conflict(signed_in):
    response = signed_in.post(DISABLE, {"otp": "123456"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_enabled"


@pytest.mark.parametrize("path", [SETUP, ENABLE, DISABLE])
def test_every_mfa_route_needs_a_signed_in_user(api, path):
    response = api.post(path, {"otp": "123456"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_whole_flow_signs_in_with_a_code(api, signed_in, client_user):
    from accounts.tests.factories import PASSWORD

    with time_machine.travel(START, tick=False) as clock:
        sign_in(signed_in, client_user)
        totp = set_up(signed_in)
        signed_in.post(ENABLE, {"otp": totp.now()}, format="json")
        clock.shift(timedelta(seconds=30))
        body = {"email": "asha@example.com", "password": PASSWORD}
        assert api.post("/api/v1/auth/login", body, format="json").status_code == 401
        body["otp"] = totp.now()
        assert api.post("/api/v1/auth/login", body, format="json").status_code == 200


# --- A stolen access token cannot take MFA over (issue 10) -----------------------------------


def mfa_on(api, user, clock) -> pyotp.TOTP:
    """MFA enabled for `user` (signed in on `api`), the clock moved past the enabling code."""
    sign_in(api, user)
    totp = set_up(api)
    assert api.post(ENABLE, {"otp": totp.now()}, format="json").status_code == 200
    clock.shift(timedelta(seconds=30))
    return totp


def login(api, otp=None):
    from accounts.tests.factories import PASSWORD

    body = {"email": "asha@example.com", "password": PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return api.post("/api/v1/auth/login", body, format="json")


def test_wrong_codes_at_disable_count_toward_the_lockout(api, signed_in, client_user):
    """A thief with an access token guessing codes at mfa/disable locks the account after five
    wrong ones: the sixth, even right, answers 423, and so does the owner's login."""
    with time_machine.travel(START, tick=False) as clock:
        totp = mfa_on(signed_in, client_user, clock)
        for _ in range(5):
            response = signed_in.post(DISABLE, {"otp": "000000"}, format="json")
            assert response.json()["code"] == "invalid_otp"
        response = signed_in.post(DISABLE, {"otp": totp.now()}, format="json")
        assert response.status_code == 423
        assert response.json()["code"] == "account_locked"
        assert login(api, totp.now()).status_code == 423
    assert User.objects.get(pk=client_user.pk).mfa_enabled is True


def test_wrong_codes_at_login_and_at_disable_share_one_counter(api, signed_in, client_user):
    with time_machine.travel(START, tick=False) as clock:
        totp = mfa_on(signed_in, client_user, clock)
        for _ in range(3):
            assert login(api, "000000").json()["code"] == "invalid_otp"
        for _ in range(2):
            assert signed_in.post(DISABLE, {"otp": "000000"}, format="json").status_code == 400
        assert signed_in.post(DISABLE, {"otp": totp.now()}, format="json").status_code == 423


def test_a_second_setup_needs_the_current_code_and_wrong_ones_count(api, signed_in, client_user):
    with time_machine.travel(START, tick=False) as clock:
        totp = mfa_on(signed_in, client_user, clock)
        for _ in range(5):
            response = signed_in.post(SETUP, {"otp": "000000"}, format="json")
            assert response.json()["code"] == "invalid_otp"
        response = signed_in.post(SETUP, {"otp": totp.now()}, format="json")
        assert response.status_code == 423
    user = User.objects.get(pk=client_user.pk)
    assert (user.mfa_secret, user.mfa_pending_secret) == (totp.secret, "")


def test_a_new_authenticator_replaces_the_old_only_once_a_code_of_it_is_given(
    api, signed_in, client_user
):
    with time_machine.travel(START, tick=False) as clock:
        old = mfa_on(signed_in, client_user, clock)
        response = signed_in.post(SETUP, {"otp": old.now()}, format="json")
        assert response.status_code == 200
        new = pyotp.TOTP(response.json()["secret"])
        clock.shift(timedelta(seconds=30))
        # Until confirmed, the old authenticator still signs in and the new one does not.
        assert login(api, new.now()).json()["code"] == "invalid_otp"
        assert login(api, old.now()).status_code == 200
        clock.shift(timedelta(seconds=30))
        assert signed_in.post(ENABLE, {"otp": old.now()}, format="json").status_code == 400
        clock.shift(timedelta(seconds=30))
        response = signed_in.post(ENABLE, {"otp": new.now()}, format="json")
        assert response.status_code == 200
        assert response.json()["mfa_enabled"] is True
        clock.shift(timedelta(seconds=30))
        assert login(api, old.now()).json()["code"] == "invalid_otp"
        clock.shift(timedelta(seconds=30))
        assert login(api, new.now()).status_code == 200
    user = User.objects.get(pk=client_user.pk)
    assert (user.mfa_secret, user.mfa_pending_secret) == (new.secret, "")


def test_enable_with_nothing_to_confirm_is_still_a_conflict(signed_in, client_user):
    with time_machine.travel(START, tick=False) as clock:
        totp = mfa_on(signed_in, client_user, clock)
        response = signed_in.post(ENABLE, {"otp": totp.now()}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_already_enabled"
