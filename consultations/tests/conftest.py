"""Fixtures: a funded client, an online consultant (chat at 600 paise a minute = 10 a second),
an outsider and an admin; `as_user(api, user)` signs the API client in."""

import asyncio
import threading

import pytest
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
    """A channel subscribed to some users' groups, to read the frames sent to them.

    It lives on one event loop of its own (a daemon thread): channels-redis keeps a layer per
    event loop, and the pub/sub layer only delivers to channels made on the loop that reads them.
    """

    def __init__(self, *users):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.layer = get_channel_layer()
        self.channel = self._run(self._subscribe(users))

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _subscribe(self, users) -> str:
        channel = await self.layer.new_channel()
        for user in users:
            await self.layer.group_add(user_group(user.id), channel)
        return channel

    def frames(self, timeout: float = 0.5) -> list[dict]:
        async def drain():
            got = []
            while True:
                try:
                    message = await asyncio.wait_for(self.layer.receive(self.channel), timeout)
                except TimeoutError:
                    return got
                got.append(message["frame"])

        return self._run(drain())


@pytest.fixture
def listen():
    return Listener
