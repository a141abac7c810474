import pyotp
import pytest

from accounts.tests.factories import ClientFactory, ConsultantUserFactory, sign_in


@pytest.fixture
def client_user(db):
    return ClientFactory(email="asha@example.com")


@pytest.fixture
def consultant_user(db):
    return ConsultantUserFactory(email="vikram@example.com")


@pytest.fixture
def signed_in(api, client_user):
    """The API client, signed in as `client_user`."""
    return sign_in(api, client_user)


@pytest.fixture
def mfa_user(db):
    """A client with MFA on; `mfa_user.totp` makes its codes."""
    secret = pyotp.random_base32()
    user = ClientFactory(email="meera@example.com", mfa_secret=secret, mfa_enabled=True)
    user.totp = pyotp.TOTP(secret)
    return user


@pytest.fixture(autouse=True)
def _cheap_argon2(monkeypatch):
    """Argon2 still, but with a few KiB and one pass instead of 100 MiB: the hashes these tests
    make are checked for their algorithm, not their cost."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    monkeypatch.setattr(Argon2PasswordHasher, "time_cost", 1)
    monkeypatch.setattr(Argon2PasswordHasher, "memory_cost", 64)
    monkeypatch.setattr(Argon2PasswordHasher, "parallelism", 1)
