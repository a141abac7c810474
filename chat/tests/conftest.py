import pytest

from chat.tests.helpers import access_token
from consultations.tests.factories import ActiveConsultationFactory


@pytest.fixture
def session(db):
    """An active chat consultation: its client and its consultant's user."""
    return ActiveConsultationFactory()


@pytest.fixture
def tokens(session):
    """Access tokens of the client, the consultant and an outsider (a third user)."""
    from accounts.tests.factories import ClientFactory

    outsider = ClientFactory()
    return {
        "client": access_token(session.client),
        "consultant": access_token(session.consultant.user),
        "outsider": access_token(outsider),
        "outsider_user": outsider,
    }


@pytest.fixture(autouse=True, scope="session")
def _short_lived_connections():
    """The consumer's services run in worker threads, each with its own connection: close them
    after every call (CONN_MAX_AGE 0), or they would hold the test database open at teardown."""
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0
    yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Factories set a password on every user; argon2 would make each one slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
