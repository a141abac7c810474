import pytest

from accounts.tests.factories import AdminFactory, ClientFactory, ConsultantUserFactory
from consultants.tests.factories import ConsultantProfileFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Factories set a password on every user; argon2 would make each one cost ~50 ms."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def private_media(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return settings.PRIVATE_MEDIA_ROOT


@pytest.fixture
def client_user(db):
    return ClientFactory(email="asha@example.com", name="Asha Rao")


@pytest.fixture
def admin_user(db):
    return AdminFactory(email="ops@example.com", name="Operator")


@pytest.fixture
def profile(db):
    """An unverified consultant's profile (chat 2000, voice 3000 paise a minute)."""
    user = ConsultantUserFactory(email="vikram@example.com", name="Vikram Iyer")
    return ConsultantProfileFactory(user=user)


@pytest.fixture
def as_consultant(api, profile):
    api.force_authenticate(profile.user)
    return api


@pytest.fixture
def as_client(api, client_user):
    api.force_authenticate(client_user)
    return api


@pytest.fixture
def as_admin(api, admin_user):
    api.force_authenticate(admin_user)
    return api
