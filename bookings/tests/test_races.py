"""Races with real threads: two clients for one slot; a cancel racing itself; a split booking's
verify racing its webhook; two split bookings racing for one balance."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from accounts.tests.factories import ClientFactory
from bookings import services, slots
from bookings.errors import SlotUnavailable
from bookings.models import Booking, Status
from bookings.tests.conftest import NOW, PRICE, SLOT
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
from config.errors import InvalidState
from consultants.tests.factories import OnlineConsultantFactory
from wallets import payments
from wallets.errors import InsufficientFunds
from wallets.gateway import LocalGateway, hmac_hex
from wallets.models import AccountKind, EntryKind, Hold, LedgerEntry
from wallets.reconcile import check_ledger
from wallets.services import system_account, wallet_for
from wallets.tests.factories import fund, webhook_body

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


def _split_client(wallet: int):
    """A consultant selling a Rs 1,000 session and a client with `wallet` paise."""
    consultant = OnlineConsultantFactory()
    ScheduleFactory(consultant=consultant)
    kind = SessionTypeFactory(consultant=consultant, price=100_000)
    client = ClientFactory()
    fund(client, wallet)
    return kind, client


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_verify_and_the_webhook_racing_confirm_a_split_booking_once(monkeypatch, time_machine):
    time_machine.move_to(NOW, tick=False)
    kind, client = _split_client(30_000)
    booking = services.book(
        client=client, session_type_id=kind.id, start_at=SLOT, payment_method="split"
    )
    order_id = booking.payment.gateway_order_id
    gateway_payment_id, signature = LocalGateway.pay(order_id)
    body = webhook_body(booking.payment, gateway_payment_id)
    # Both have checked their signature and reach the payment's row lock together.
    both_ready = threading.Barrier(2, timeout=20)
    real_capture = payments.capture_payment

    def capture_together(**kwargs):
        both_ready.wait()
        return real_capture(**kwargs)

    monkeypatch.setattr(payments, "capture_payment", capture_together)

    def by_verify():
        return payments.verify_recharge(
            user=client,
            razorpay_order_id=order_id,
            razorpay_payment_id=gateway_payment_id,
            razorpay_signature=signature,
        )

    def by_webhook():
        return payments.handle_webhook(
            body=body,
            signature=hmac_hex(settings.RAZORPAY_WEBHOOK_SECRET, body),
            event_id="evt_split_race",
        )

    results = _run_both(lambda job: job(), [(by_verify,), (by_webhook,)])
    assert not any(isinstance(r, Exception) for r in results), results
    assert results[1] in ("credited", "already_credited")
    booking.refresh_from_db()
    assert booking.status == Status.CONFIRMED
    wallet = wallet_for(user=client)
    assert (wallet.balance, wallet.held) == (0, 0)
    assert system_account(AccountKind.BOOKINGS_HELD).balance == 100_000
    client_moves = LedgerEntry.objects.filter(account__user=client)
    assert client_moves.filter(kind=EntryKind.RECHARGE).count() == 1
    assert client_moves.filter(kind=EntryKind.BOOKING_CHARGE).count() == 1
    assert check_ledger().clean


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_two_split_bookings_racing_for_one_balance_hold_it_once(monkeypatch, time_machine):
    time_machine.move_to(NOW, tick=False)
    kind, client = _split_client(30_000)
    # Both read the balance and make their gateway order before either holds: the wallet's
    # lock must decide.
    both_ordered = threading.Barrier(2, timeout=20)
    real_order = services.create_recharge

    def order_then_wait(**kwargs):
        payment = real_order(**kwargs)
        both_ordered.wait()
        return payment

    monkeypatch.setattr(services, "create_recharge", order_then_wait)

    def book(start_at):
        return services.book(
            client=client, session_type_id=kind.id, start_at=start_at, payment_method="split"
        )

    results = _run_both(book, [(SLOT,), (SLOT + timedelta(days=1),)])
    won = [r for r in results if isinstance(r, Booking)]
    lost = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(won) == 1 and len(lost) == 1, results
    assert Booking.objects.count() == 1  # the loser's booking rolled back with its hold
    assert Hold.objects.count() == 1 and Hold.objects.get().amount == 30_000
    wallet = wallet_for(user=client)
    assert (wallet.balance, wallet.held) == (30_000, 30_000)
    assert check_ledger().clean
