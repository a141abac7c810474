"""Bookings paid through Stripe (PAYMENT_GATEWAY=stripe), over HTTP: the booking's `payment` is a
PaymentIntent in Stripe's shape, confirmed in the browser by Stripe.js, verified by `payment_id`.
Stripe's HTTP is faked with `responses`, as in wallets/tests/test_stripe.py."""

import pytest
import responses
from rest_framework.test import APIClient

from accounts.tests.factories import ClientFactory, sign_in
from bookings.models import BookingEvent
from bookings.tests.conftest import PRICE, book_body
from wallets.models import EntryKind, LedgerEntry, Payment
from wallets.reconcile import check_ledger
from wallets.services import wallet_for
from wallets.tests.factories import fund
from wallets.tests.stripe_fakes import (
    API,
    PUBLISHABLE_KEY,
    event,
    intent,
    post_event,
    stripe_http,
    use_stripe,
)

pytestmark = pytest.mark.django_db

INTENT = f"{API}/payment_intents/pi_1"


@pytest.fixture(autouse=True)
def stripe_mode(settings):
    use_stripe(settings)


@pytest.fixture
def stripe_api(settings):
    with stripe_http(settings) as mock:
        yield mock


@pytest.fixture
def gateway_client(db):
    return ClientFactory()  # nothing in the wallet: the whole price goes through Stripe


def book(stripe_api, api, session_type, *, method="gateway", amount=PRICE):
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_1", amount))
    answer = api.post("/api/v1/bookings", book_body(session_type, method=method), format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def succeed(stripe_api, amount=PRICE):
    """Stripe.js confirmed it: Stripe now answers the PaymentIntent as succeeded."""
    paid = intent("pi_1", amount, status="succeeded", charge="ch_1")
    stripe_api.upsert(responses.GET, INTENT, json=paid)


def verify(api, payment_id):
    return api.post("/api/v1/wallet/recharge/verify", {"payment_id": payment_id}, format="json")


def intent_reads(stripe_api) -> int:
    return sum(c.request.method == "GET" and c.request.url == INTENT for c in stripe_api.calls)


def confirmations(booking_id) -> int:
    return BookingEvent.objects.filter(booking_id=booking_id, reason="paid").count()


def assert_books_clean():
    report = check_ledger()
    assert report.clean, report.violations


def test_a_gateway_booking_gives_a_payment_intent_to_confirm_with_stripe_js(
    stripe_api, api, clock, gateway_client, session_type
):
    data = book(stripe_api, sign_in(api, gateway_client), session_type)
    assert data["status"] == "pending"
    payment = data["payment"]
    assert payment == {
        "payment_id": str(Payment.objects.get().id),
        "gateway": "stripe",
        "client_secret": "pi_1_secret_abc",
        "publishable_key": PUBLISHABLE_KEY,
        "amount": PRICE,
        "currency": "INR",
        "status": "created",
    }
    assert Payment.objects.get().gateway_order_id == "pi_1"


def test_verify_by_payment_id_confirms_the_booking_once(
    stripe_api, api, clock, gateway_client, session_type
):
    sign_in(api, gateway_client)
    data = book(stripe_api, api, session_type)
    payment_id = data["payment"]["payment_id"]
    succeed(stripe_api)

    first = verify(api, payment_id)
    assert first.status_code == 200, first.content
    again = verify(api, payment_id)
    assert again.status_code == 200 and again.json() == first.json()
    # Stripe's webhook arriving after the verify: it finds the payment credited.
    succeeded = event("evt_1", "payment_intent.succeeded", stripe_api_intent_paid())
    assert post_event(APIClient(), succeeded).status_code == 200

    booking = api.get(f"/api/v1/bookings/{data['id']}").json()
    assert booking["status"] == "confirmed"
    assert booking["payment"]["status"] == "captured"
    assert booking["payment"]["client_secret"] is None  # nothing left to pay
    assert confirmations(data["id"]) == 1
    charges = LedgerEntry.objects.filter(
        account__user=gateway_client, kind=EntryKind.BOOKING_CHARGE
    )
    assert list(charges.values_list("amount", flat=True)) == [-PRICE]
    assert wallet_for(user=gateway_client).balance == 0
    assert_books_clean()


def stripe_api_intent_paid():
    return intent("pi_1", PRICE, status="succeeded", charge="ch_1")


def test_the_webhook_alone_confirms_the_booking_and_a_later_verify_changes_nothing(
    stripe_api, api, clock, gateway_client, session_type
):
    sign_in(api, gateway_client)
    data = book(stripe_api, api, session_type)
    succeeded = event("evt_1", "payment_intent.succeeded", stripe_api_intent_paid())
    assert post_event(APIClient(), succeeded).json() == {"status": "credited"}
    assert api.get(f"/api/v1/bookings/{data['id']}").json()["status"] == "confirmed"
    assert verify(api, data["payment"]["payment_id"]).status_code == 200
    assert confirmations(data["id"]) == 1
    assert_books_clean()


def test_a_pending_bookings_get_asks_stripe_for_the_client_secret_again(
    stripe_api, api, clock, gateway_client, session_type
):
    sign_in(api, gateway_client)
    data = book(stripe_api, api, session_type)
    stripe_api.get(INTENT, json=intent("pi_1", PRICE))
    assert Payment.objects.filter(id=data["payment"]["payment_id"]).exists()

    again = api.get(f"/api/v1/bookings/{data['id']}").json()
    assert again["status"] == "pending"
    assert again["payment"]["client_secret"] == "pi_1_secret_abc"
    assert again["payment"]["publishable_key"] == PUBLISHABLE_KEY
    assert "key_id" not in again["payment"]
    assert intent_reads(stripe_api) == 1
    # A list never calls Stripe (once a row would be too many): no secret there.
    (listed,) = api.get("/api/v1/bookings").json()["results"]
    assert listed["payment"]["client_secret"] is None
    assert intent_reads(stripe_api) == 1


def test_the_consultant_never_sees_the_client_secret(
    stripe_api, api, clock, gateway_client, session_type
):
    data = book(stripe_api, sign_in(api, gateway_client), session_type)
    stripe_api.get(INTENT, json=intent("pi_1", PRICE))
    theirs = sign_in(APIClient(), session_type.consultant.user)
    payment = theirs.get(f"/api/v1/bookings/{data['id']}").json()["payment"]
    assert payment["gateway"] == "stripe" and payment["client_secret"] is None
    assert intent_reads(stripe_api) == 0


def test_stripe_not_answering_still_shows_the_pending_booking(
    stripe_api, api, clock, gateway_client, session_type
):
    sign_in(api, gateway_client)
    data = book(stripe_api, api, session_type)
    stripe_api.get(INTENT, status=500, json={"error": {"message": "down"}})
    answer = api.get(f"/api/v1/bookings/{data['id']}")
    assert answer.status_code == 200
    assert answer.json()["payment"]["client_secret"] is None


def test_a_split_booking_pays_the_rest_through_stripe(
    stripe_api, api, clock, gateway_client, session_type
):
    fund(gateway_client, 30_000)
    rest = PRICE - 30_000
    sign_in(api, gateway_client)
    data = book(stripe_api, api, session_type, method="split", amount=rest)
    assert data["wallet_amount"] == 30_000
    assert data["payment"]["amount"] == rest
    assert data["payment"]["client_secret"] == "pi_1_secret_abc"
    sent = [c for c in stripe_api.calls if c.request.url == f"{API}/payment_intents"]
    assert f"amount={rest}" in sent[0].request.body

    succeed(stripe_api, amount=rest)
    assert verify(api, data["payment"]["payment_id"]).status_code == 200
    assert verify(api, data["payment"]["payment_id"]).status_code == 200
    booking = api.get(f"/api/v1/bookings/{data['id']}").json()
    assert booking["status"] == "confirmed"
    assert confirmations(data["id"]) == 1
    wallet = api.get("/api/v1/wallet").json()
    assert (wallet["balance"], wallet["held"]) == (0, 0)
    assert_books_clean()
