"""`booking_updated` reaches every socket of both participants on each status change (and the
chat.testing plugin checks each frame against the AsyncAPI document)."""

import pytest
import time_machine
from channels.db import database_sync_to_async

from accounts.tests.factories import ClientFactory
from bookings import services
from bookings.tests.conftest import NOW, PRICE, SLOT
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
from chat.tests.helpers import Socket, access_token, run_async
from consultants.tests.factories import OnlineConsultantFactory
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    from channels.layers import channel_layers
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def people(db):
    consultant = OnlineConsultantFactory()
    ScheduleFactory(consultant=consultant)
    kind = SessionTypeFactory(consultant=consultant, price=PRICE)
    client = ClientFactory()
    fund(client, 500_000)
    tokens = {"client": access_token(client), "consultant": access_token(consultant.user)}
    return client, consultant, kind, tokens


@run_async
async def test_both_participants_hear_of_the_booking_and_its_cancellation(people):
    client, consultant, kind, tokens = people
    sockets = {}
    for name, token in tokens.items():
        socket = Socket(f"/ws/?token={token}")
        assert (await socket.connect())[0]
        sockets[name] = socket
    with time_machine.travel(NOW, tick=False):
        booking = await database_sync_to_async(services.book)(
            client=client, session_type_id=kind.id, start_at=SLOT, payment_method="wallet"
        )
        for socket in sockets.values():
            frame = await socket.recv_type("booking_updated")
            assert frame["booking"]["id"] == str(booking.id)
            assert frame["booking"]["status"] == "confirmed"
        await database_sync_to_async(services.cancel_booking)(booking_id=booking.id, actor=client)
        for socket in sockets.values():
            frame = await socket.recv_type("booking_updated")
            assert frame["booking"]["status"] == "cancelled"
            assert frame["booking"]["refund_amount"] == PRICE
