import pytest

from accounts.tests.factories import AdminFactory, ClientFactory
from consultants.tests.factories import OnlineConsultantFactory


@pytest.fixture
def consultant():
    """An online consultant charging 600 paise a minute for chat (10 paise a second)."""
    return OnlineConsultantFactory(rate_chat=600)


@pytest.fixture
def consultant_user(consultant):
    return consultant.user


@pytest.fixture
def client_user(db):
    return ClientFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


def as_user(api, user):
    api.force_authenticate(user=user)
    return api
