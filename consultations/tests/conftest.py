"""Fixtures: a funded client, an online consultant (chat at 600 paise a minute = 10 a second),
an outsider and an admin; `as_user(api, user)` signs the API client in."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.tests.factories import AdminFactory, ClientFactory
from config.events import user_group
from consultants.tests.factories import OnlineConsultantFactory
from wallets.tests.factories import fund

START_BALANCE = 100_000  # paise


@pytest.fixture
def client_user():
    user = ClientFactory(name="Asha Client")
    fund(user, START_BALANCE)
    return user


@pytest.fixture
def consultant():
    return OnlineConsultantFactory(rate_chat=600, rate_voice=1200, rate_video=None)


@pytest.fixture
def outsider():
    user = ClientFactory(name="Otto Outsider")
    fund(user, START_BALANCE)
    return user


@pytest.fixture
def admin_user():
    return AdminFactory()


def as_user(api, user):
    api.force_authenticate(user=user)
    return api


class Listener:
    """A channel subscribed to some users' groups, to read the frames sent to them."""

    def __init__(self, *users):
        self.layer = get_channel_layer()
        self.channel = async_to_sync(self.layer.new_channel)()
        for user in users:
            async_to_sync(self.layer.group_add)(user_group(user.id), self.channel)

    def frames(self, timeout: float = 0.5) -> list[dict]:
        import asyncio

        async def drain():
            got = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return got
                got.append(message["frame"])

        return async_to_sync(drain)()


@pytest.fixture
def listen():
    return Listener
