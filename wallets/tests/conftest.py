import pytest

from accounts.tests.factories import AdminFactory, ClientFactory, ConsultantUserFactory


@pytest.fixture
def client_user(db):
    return ClientFactory()


@pytest.fixture
def consultant_user(db):
    return ConsultantUserFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def as_client(api, client_user):
    api.force_authenticate(client_user)
    return api


@pytest.fixture
def as_admin(api, admin_user):
    api.force_authenticate(admin_user)
    return api


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Factories set passwords; argon2 is slow on purpose and these tests make many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def razorpay_settings(settings):
    """The real Razorpay client; tests fake its HTTP with `responses`."""
    settings.PAYMENT_GATEWAY = "razorpay"
    settings.RAZORPAY_KEY_ID = "rzp_test_key"
    settings.RAZORPAY_KEY_SECRET = "rzp-secret"
    settings.RAZORPAY_WEBHOOK_SECRET = "rzp-webhook-secret"
    return settings
