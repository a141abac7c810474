import pytest

from consultants.tests.factories import OnlineConsultantFactory


@pytest.fixture
def consultant():
    return OnlineConsultantFactory(rate_chat=600)


def as_user(api, user):
    api.force_authenticate(user=user)
    return api
