"""Races with real threads: two clients for one slot; a cancel racing itself."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from accounts.tests.factories import ClientFactory
from bookings import services, slots
from bookings.errors import SlotUnavailable
from bookings.models import Booking, Status
from bookings.tests.conftest import NOW, PRICE, SLOT
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
from config.errors import InvalidState
from consultants.tests.factories import OnlineConsultantFactory
from wallets.services import wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db(transaction=True)


def _run_both(target, args_list):
    results: list = [None, None]

    def run(index, args):
        try:
            results[index] = target(*args)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the exclusion constraint decides")
def test_two_clients_racing_for_one_slot_get_one_booking_and_one_slot_unavailable(
    monkeypatch, time_machine
):
    time_machine.move_to(NOW, tick=False)
    consultant = OnlineConsultantFactory()
    ScheduleFactory(consultant=consultant)
    kind = SessionTypeFactory(consultant=consultant, price=PRICE)
    clients = [ClientFactory(), ClientFactory()]
    for client in clients:
        fund(client, 500_000)
    # Both pass the Python check before either inserts: the database must decide.
    both_checked = threading.Barrier(2, timeout=20)
    real = slots.is_free_slot
    mine = threading.local()

    def checked_then_wait(**kwargs):
        free = real(**kwargs)
        mine.calls = getattr(mine, "calls", 0) + 1
        if mine.calls == 2:  # the check inside the transaction, just before the insert
            both_checked.wait()
        return free

    monkeypatch.setattr(services, "is_free_slot", checked_then_wait)

    def book(client):
        return services.book(
            client=client, session_type_id=kind.id, start_at=SLOT, payment_method="wallet"
        )

    results = _run_both(book, [(clients[0],), (clients[1],)])
    won = [r for r in results if isinstance(r, Booking)]
    lost = [r for r in results if isinstance(r, SlotUnavailable)]
    assert len(won) == 1 and len(lost) == 1, results
    assert Booking.objects.filter(status=Status.CONFIRMED).count() == 1
    balances = sorted(wallet_for(user=c).balance for c in clients)
    assert balances == [500_000 - PRICE, 500_000]  # the loser's charge rolled back


def test_two_cancels_at_once_refund_once(time_machine):
    time_machine.move_to(NOW, tick=False)
    consultant = OnlineConsultantFactory()
    ScheduleFactory(consultant=consultant)
    kind = SessionTypeFactory(consultant=consultant, price=PRICE)
    client = ClientFactory()
    fund(client, 500_000)
    booking = services.book(
        client=client, session_type_id=kind.id, start_at=SLOT, payment_method="wallet"
    )

    def cancel(actor):
        return services.cancel_booking(booking_id=booking.id, actor=actor)

    time_machine.move_to(SLOT - timedelta(hours=30), tick=False)
    results = _run_both(cancel, [(client,), (consultant.user,)])
    assert sum(isinstance(r, Booking) for r in results) == 1
    assert sum(isinstance(r, InvalidState) for r in results) == 1
    assert wallet_for(user=client).balance == 500_000
