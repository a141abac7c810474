"""Split payments (`payment_method: "split"`): the wallet's available balance held, the rest
through the gateway, over HTTP. A client with Rs 300 books a Rs 1,000 session throughout."""

from datetime import timedelta

import pytest

from accounts.tests.factories import ClientFactory, sign_in
from bookings.models import Booking, Status
from bookings.services import run_lifecycle
from bookings.tests.conftest import SLOT, book_body, later
from bookings.tests.factories import SessionTypeFactory
from wallets import keys
from wallets.gateway import LocalGateway
from wallets.models import AccountKind, EntryKind, Hold, HoldStatus, LedgerEntry, Payment
from wallets.reconcile import check_ledger
from wallets.services import system_account, wallet_for
from wallets.tests.factories import fund, webhook_body, webhook_headers

pytestmark = pytest.mark.django_db

PRICE = 100_000  # Rs 1,000
WALLET = 30_000  # Rs 300
REST = PRICE - WALLET


@pytest.fixture
def session_type(consultant):
    return SessionTypeFactory(consultant=consultant, duration_minutes=45, price=PRICE)


@pytest.fixture
def client_user(db):
    user = ClientFactory()
    fund(user, WALLET)
    return user


def held_for_bookings():
    return system_account(AccountKind.BOOKINGS_HELD).balance


def book_split(as_client, session_type, **more):
    answer = as_client.post(
        "/api/v1/bookings", book_body(session_type, method="split"), format="json", **more
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def verify(as_client, data):
    order_id = data["payment"]["gateway_order_id"]
    gateway_payment_id, signature = LocalGateway.pay(order_id)
    answer = as_client.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": order_id,
            "razorpay_payment_id": gateway_payment_id,
            "razorpay_signature": signature,
        },
        format="json",
    )
    assert answer.status_code == 200, answer.content
    return gateway_payment_id


def assert_books_clean():
    report = check_ledger()
    assert report.clean, report.violations


def test_a_split_booking_holds_the_wallet_and_asks_the_gateway_for_the_rest(
    as_client, client_user, session_type
):
    data = book_split(as_client, session_type)
    assert data["status"] == "pending" and data["payment_method"] == "split"
    assert data["price"] == PRICE and data["wallet_amount"] == WALLET
    assert data["payment"]["amount"] == REST and data["payment"]["currency"] == "INR"
    assert data["payment"]["gateway"] == "razorpay" and data["payment"]["gateway_order_id"]
    wallet = as_client.get("/api/v1/wallet").json()
    assert (wallet["balance"], wallet["held"], wallet["available"]) == (WALLET, WALLET, 0)
    (hold,) = Hold.objects.all()
    assert hold.amount == hold.remaining == WALLET and hold.status == HoldStatus.OPEN
    assert hold.idempotency_key == keys.booking_hold(data["id"])
    assert Booking.objects.get(id=data["id"]).hold_id == hold.id
    assert held_for_bookings() == 0  # nothing taken yet
    assert_books_clean()

    gateway_payment_id = verify(as_client, data)

    booking = as_client.get(f"/api/v1/bookings/{data['id']}").json()
    assert booking["status"] == "confirmed" and booking["wallet_amount"] == WALLET
    assert booking["payment"]["amount"] == REST and booking["payment"]["status"] == "captured"
    wallet = as_client.get("/api/v1/wallet").json()
    assert (wallet["balance"], wallet["held"], wallet["available"]) == (0, 0, 0)
    assert held_for_bookings() == PRICE
    hold.refresh_from_db()
    assert hold.remaining == 0 and hold.status == HoldStatus.CLOSED
    moves = sorted(
        LedgerEntry.objects.filter(account__user=client_user).values_list("kind", "amount")
    )
    assert moves == sorted(
        [
            (EntryKind.ADJUSTMENT, WALLET),
            (EntryKind.RECHARGE, REST),
            (EntryKind.BOOKING_CHARGE, -PRICE),
        ]
    )
    # The webhook arriving too moves nothing more.
    body = webhook_body(Payment.objects.get(id=data["payment"]["payment_id"]), gateway_payment_id)
    webhook = as_client.post(
        "/api/v1/payments/razorpay/webhook",
        body,
        content_type="application/json",
        **webhook_headers(body),
    )
    assert webhook.status_code == 200
    assert wallet_for(user=client_user).balance == 0 and held_for_bookings() == PRICE
    charges = LedgerEntry.objects.filter(account__user=client_user, kind=EntryKind.BOOKING_CHARGE)
    assert charges.count() == 1
    assert_books_clean()


def test_the_held_part_cannot_be_spent_while_the_payment_is_awaited(
    as_client, client_user, session_type
):
    data = book_split(as_client, session_type)
    elsewhere = as_client.post(
        "/api/v1/bookings",
        book_body(session_type, start=SLOT + timedelta(days=1), method="wallet"),
        format="json",
    )
    assert elsewhere.status_code == 402 and elsewhere.json()["code"] == "insufficient_balance"
    # Money that arrives meanwhile is the client's own: the capture takes the price only.
    fund(client_user, 50_000)
    verify(as_client, data)
    wallet = wallet_for(user=client_user)
    assert (wallet.balance, wallet.held) == (50_000, 0)
    assert Booking.objects.get(id=data["id"]).status == Status.CONFIRMED
    assert_books_clean()


def test_an_unpaid_split_booking_expires_and_releases_its_hold(
    as_client, client_user, session_type, clock
):
    data = book_split(as_client, session_type)
    later(clock, minutes=14)
    assert run_lifecycle().expired == 0
    assert wallet_for(user=client_user).held == WALLET
    later(clock, minutes=2)
    assert run_lifecycle().expired == 1
    booking = Booking.objects.get(id=data["id"])
    assert booking.status == Status.EXPIRED and booking.paid_at is None
    wallet = wallet_for(user=client_user)
    assert (wallet.balance, wallet.held) == (WALLET, 0)
    assert Hold.objects.get().status == HoldStatus.CLOSED
    assert held_for_bookings() == 0
    assert run_lifecycle().expired == 0  # a second sweep finds nothing to do
    assert_books_clean()

    # The gateway's part paid after the expiry: credited to the wallet, confirms nothing.
    sign_in(as_client, client_user)
    verify(as_client, data)
    assert Booking.objects.get(id=data["id"]).status == Status.EXPIRED
    wallet = wallet_for(user=client_user)
    assert (wallet.balance, wallet.held) == (WALLET + REST, 0)
    assert held_for_bookings() == 0
    assert not LedgerEntry.objects.filter(kind=EntryKind.BOOKING_CHARGE).exists()
    assert_books_clean()


def test_cancelling_a_pending_split_booking_releases_its_hold(as_client, client_user, session_type):
    data = book_split(as_client, session_type)
    answer = as_client.post(f"/api/v1/bookings/{data['id']}/cancel", format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "cancelled" and answer.json()["refund_amount"] == 0
    wallet = wallet_for(user=client_user)
    assert (wallet.balance, wallet.held) == (WALLET, 0)
    verify(as_client, data)  # paid anyway: the money stays in the wallet
    assert wallet_for(user=client_user).balance == WALLET + REST
    assert Booking.objects.get(id=data["id"]).status == Status.CANCELLED
    assert_books_clean()


@pytest.mark.parametrize(
    ("available", "fits"),
    [
        (0, "card / upi"),  # nothing to hold: that is `gateway`
        (PRICE, "wallet"),  # the balance covers it: that is `wallet`
        (PRICE + 1, "wallet"),
        (PRICE - 99, "minimum"),  # a rest of 99 paise is under the gateway's minimum order
    ],
)
def test_split_is_for_a_balance_above_nothing_and_below_the_price(
    api, clock, session_type, available, fits
):
    client = ClientFactory()
    if available:
        fund(client, available)
    sign_in(api, client)
    answer = api.post("/api/v1/bookings", book_body(session_type, method="split"), format="json")
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "invalid" and list(body["fields"]) == ["payment_method"]
    assert fits in body["fields"]["payment_method"][0].lower()
    assert not Booking.objects.exists() and not Payment.objects.exists()
    assert not Hold.objects.exists()


def test_the_smallest_rest_the_gateway_takes_is_accepted(api, clock, session_type):
    client = ClientFactory()
    fund(client, PRICE - 100)
    sign_in(api, client)
    data = book_split(api, session_type)
    assert data["payment"]["amount"] == 100 and data["wallet_amount"] == PRICE - 100


def test_a_held_balance_is_not_available_to_split_again(as_client, client_user, session_type):
    book_split(as_client, session_type)
    again = as_client.post(
        "/api/v1/bookings",
        book_body(session_type, start=SLOT + timedelta(days=1), method="split"),
        format="json",
    )
    assert again.status_code == 400 and "payment_method" in again.json()["fields"]
    assert Hold.objects.count() == 1


def test_an_idempotency_key_makes_a_retry_the_same_booking_and_one_hold(
    as_client, client_user, session_type
):
    headers = {"HTTP_IDEMPOTENCY_KEY": "split-1"}
    first = book_split(as_client, session_type, **headers)
    replay = as_client.post(
        "/api/v1/bookings", book_body(session_type, method="split"), format="json", **headers
    )
    assert replay.status_code == 201 and replay.json() == first
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert Booking.objects.count() == 1 and Payment.objects.count() == 1
    assert Hold.objects.count() == 1
    assert wallet_for(user=client_user).held == WALLET


@pytest.mark.parametrize(
    ("before_start", "refund"),
    [
        (timedelta(hours=24), PRICE),
        (timedelta(hours=24) - timedelta(seconds=1), PRICE // 2),
        (timedelta(hours=2), PRICE // 2),
        (timedelta(hours=2) - timedelta(seconds=1), 0),
    ],
)
def test_a_client_cancelling_a_paid_split_booking_gets_the_policys_refund_in_the_wallet(
    as_client, client_user, consultant, session_type, clock, before_start, refund
):
    data = book_split(as_client, session_type)
    verify(as_client, data)
    clock.move_to(SLOT - before_start)
    sign_in(as_client, client_user)
    answer = as_client.post(f"/api/v1/bookings/{data['id']}/cancel", format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["refund_amount"] == refund
    # The whole refund goes to the wallet, the gateway's part too: nothing back at the gateway.
    wallet = wallet_for(user=client_user)
    assert (wallet.balance, wallet.held) == (refund, 0)
    payment = Payment.objects.get(id=data["payment"]["payment_id"])
    assert payment.amount_refunded == 0 and not payment.refunds.exists()
    kept = PRICE - refund
    assert wallet_for(user=consultant.user).balance == kept - kept * 20 // 100
    assert held_for_bookings() == 0
    assert_books_clean()


def test_a_consultant_cancelling_a_paid_split_booking_refunds_everything_to_the_wallet(
    api, as_client, client_user, consultant, session_type, clock
):
    data = book_split(as_client, session_type)
    verify(as_client, data)
    clock.move_to(SLOT - timedelta(minutes=30))
    sign_in(api, consultant.user)
    answer = api.post(f"/api/v1/bookings/{data['id']}/cancel", format="json").json()
    assert answer["cancelled_by"] == "consultant" and answer["refund_amount"] == PRICE
    assert wallet_for(user=client_user).balance == PRICE
    assert_books_clean()


def test_reconcile_finds_a_hold_left_behind_or_missing(as_client, client_user, session_type):
    data = book_split(as_client, session_type)
    assert_books_clean()
    rows = Booking.objects.filter(id=data["id"])
    hold_id = rows.get().hold_id
    rows.update(status=Status.EXPIRED)  # as if its expiry had not released the hold
    found = check_ledger().violations
    assert any("still holds money" in v for v in found), found
    rows.update(status=Status.PENDING, hold=None)  # as if it had been booked without one
    found = check_ledger().violations
    assert any("does not hold its wallet part" in v for v in found), found
    rows.update(hold=hold_id)
    assert_books_clean()
