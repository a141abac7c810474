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
