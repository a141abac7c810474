"""Booking over HTTP: wallet and gateway payments, the slot rules, idempotency, cancelling with
the refund policy at each boundary, joining."""

from datetime import timedelta

import pytest

from accounts.tests.factories import ClientFactory, sign_in
from bookings.models import Booking, BookingEvent
from bookings.tests.conftest import PRICE, SLOT, book_body
from consultations.models import Consultation
from wallets.freezes import freeze_wallet
from wallets.gateway import LocalGateway
from wallets.models import AccountKind, EntryKind, LedgerEntry
from wallets.services import system_account, wallet_for
from wallets.tests.factories import webhook_body, webhook_headers

pytestmark = pytest.mark.django_db


def held_balance():
    return system_account(AccountKind.BOOKINGS_HELD).balance


def test_a_wallet_booking_is_paid_at_once_and_confirmed(as_client, client_user, session_type):
    answer = as_client.post(
        "/api/v1/bookings", book_body(session_type, goals="A new job"), format="json"
    )
    assert answer.status_code == 201, answer.content
    data = answer.json()
    assert data["status"] == "confirmed"
    assert data["payment"] is None and data["payment_method"] == "wallet"
    assert data["price"] == PRICE and data["currency"] == "INR" and data["refund_amount"] == 0
    assert data["start_at"] == "2026-03-03T04:30:00Z" and data["end_at"] == "2026-03-03T05:15:00Z"
    assert data["session_type"] == {
        "id": str(session_type.id),
        "title": session_type.title,
        "channel": "chat",
        "duration_minutes": 45,
    }
    assert data["goals"] == "A new job" and data["cancelled_by"] is None
    assert data["consultation_id"] is None and data["no_show_by"] is None
    assert wallet_for(user=client_user).balance == 500_000 - PRICE
    assert held_balance() == PRICE
    entry = LedgerEntry.objects.get(account__user=client_user, kind=EntryKind.BOOKING_CHARGE)
    assert entry.amount == -PRICE
    assert entry.transaction.reference_type == "booking"
    assert entry.transaction.reference_id == data["id"]
    listed = as_client.get("/api/v1/wallet/transactions", {"kind": "booking_charge"}).json()
    assert [t["amount"] for t in listed["results"]] == [PRICE]


def test_the_slot_is_taken_afterwards(as_client, session_type, consultant):
    assert (
        as_client.post("/api/v1/bookings", book_body(session_type), format="json").status_code
        == 201
    )
    again = as_client.post("/api/v1/bookings", book_body(session_type), format="json")
    assert again.status_code == 409 and again.json()["code"] == "slot_unavailable"
    overlapping = book_body(session_type, start=SLOT + timedelta(minutes=30))
    assert as_client.post("/api/v1/bookings", overlapping, format="json").status_code == 409
    slots = as_client.get(
        f"/api/v1/consultants/{consultant.id}/slots",
        {"session_type": session_type.id, "from": "2026-03-03", "to": "2026-03-03"},
    ).json()["slots"]
    starts = [s["start_at"] for s in slots]
    assert "2026-03-03T04:30:00Z" not in starts and "2026-03-03T05:00:00Z" not in starts
    assert "2026-03-03T05:30:00Z" in starts  # 11:00 local, after the 10:00-10:45 session


@pytest.mark.parametrize(
    "start",
    [
        SLOT + timedelta(minutes=15),  # not on the half hour
        SLOT - timedelta(hours=4),  # 06:00 local: outside the hours
        SLOT - timedelta(hours=26),  # too soon (under 2 hours' notice)
        SLOT + timedelta(days=40),  # past the 30-day horizon
        SLOT + timedelta(hours=6, minutes=30),  # 16:30 local: 45 minutes do not fit
    ],
)
def test_a_time_that_is_not_a_free_slot_is_refused(as_client, session_type, start):
    answer = as_client.post("/api/v1/bookings", book_body(session_type, start=start), format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "slot_unavailable"
    assert not Booking.objects.exists()


def test_bad_bookings(as_client, session_type, client_user):
    cash = as_client.post("/api/v1/bookings", book_body(session_type, method="cash"), format="json")
    assert cash.status_code == 400 and "payment_method" in cash.json()["fields"]
    long_goals = book_body(session_type, goals="x" * 2001)
    assert as_client.post("/api/v1/bookings", long_goals, format="json").status_code == 400
    unknown = {**book_body(session_type), "session_type_id": "8d3c9a4e-0000-4000-8000-000000000000"}
    assert as_client.post("/api/v1/bookings", unknown, format="json").status_code == 404
    session_type.is_active = False
    session_type.save()
    assert (
        as_client.post("/api/v1/bookings", book_body(session_type), format="json").status_code
        == 404
    )


def test_the_price_must_be_available(api, clock, session_type):
    poor = ClientFactory()
    sign_in(api, poor)
    answer = api.post("/api/v1/bookings", book_body(session_type), format="json")
    assert answer.status_code == 402 and answer.json()["code"] == "insufficient_balance"


def test_a_frozen_wallet_cannot_book(as_client, client_user, session_type):
    freeze_wallet(user=client_user, reason="dispute")
    answer = as_client.post("/api/v1/bookings", book_body(session_type), format="json")
    assert answer.status_code == 423 and answer.json()["code"] == "wallet_frozen"


def test_consultants_cannot_book(api, clock, session_type, consultant):
    sign_in(api, consultant.user)
    assert api.post("/api/v1/bookings", book_body(session_type), format="json").status_code == 403


def test_an_idempotency_key_makes_a_retry_one_booking(as_client, client_user, session_type):
    headers = {"HTTP_IDEMPOTENCY_KEY": "book-1"}
    first = as_client.post("/api/v1/bookings", book_body(session_type), format="json", **headers)
    second = as_client.post("/api/v1/bookings", book_body(session_type), format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Booking.objects.count() == 1
    assert wallet_for(user=client_user).balance == 500_000 - PRICE
    other = as_client.post(
        "/api/v1/bookings", book_body(session_type, goals="changed"), format="json", **headers
    )
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def _gateway_booking(as_client, session_type):
    answer = as_client.post(
        "/api/v1/bookings", book_body(session_type, method="gateway"), format="json"
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_gateway_booking_waits_for_its_payment_then_the_verify_route_confirms_it(
    as_client, client_user, session_type
):
    data = _gateway_booking(as_client, session_type)
    assert data["status"] == "pending"
    payment = data["payment"]
    assert payment["amount"] == PRICE and payment["currency"] == "INR"
    assert payment["gateway"] == "razorpay" and payment["gateway_order_id"]
    assert set(payment) >= {
        "payment_id",
        "gateway",
        "gateway_order_id",
        "key_id",
        "amount",
        "currency",
    }
    assert wallet_for(user=client_user).balance == 500_000  # nothing taken yet
    gateway_payment_id, signature = LocalGateway.pay(payment["gateway_order_id"])
    verified = as_client.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": payment["gateway_order_id"],
            "razorpay_payment_id": gateway_payment_id,
            "razorpay_signature": signature,
        },
        format="json",
    )
    assert verified.status_code == 200, verified.content
    booking = as_client.get(f"/api/v1/bookings/{data['id']}").json()
    assert booking["status"] == "confirmed"
    # The payment was credited (a recharge) and the price moved on to the booking.
    assert wallet_for(user=client_user).balance == 500_000
    assert held_balance() == PRICE
    # The webhook arriving too changes nothing more.
    from wallets.models import Payment

    body = webhook_body(Payment.objects.get(id=payment["payment_id"]), gateway_payment_id)
    assert (
        as_client.post(
            "/api/v1/payments/razorpay/webhook",
            body,
            content_type="application/json",
            **webhook_headers(body),
        ).status_code
        == 200
    )
    assert held_balance() == PRICE
    assert Booking.objects.get(id=data["id"]).status == "confirmed"


def test_the_webhook_alone_confirms_a_gateway_booking(as_client, client_user, session_type):
    data = _gateway_booking(as_client, session_type)
    from wallets.models import Payment

    payment = Payment.objects.get(id=data["payment"]["payment_id"])
    gateway_payment_id, _signature = LocalGateway.pay(payment.gateway_order_id)
    body = webhook_body(payment, gateway_payment_id)
    answer = as_client.post(
        "/api/v1/payments/razorpay/webhook",
        body,
        content_type="application/json",
        **webhook_headers(body),
    )
    assert answer.status_code == 200
    assert Booking.objects.get(id=data["id"]).status == "confirmed"


def test_an_unpaid_gateway_booking_expires_and_frees_its_slot(
    as_client, client_user, session_type, clock
):
    from bookings.services import run_lifecycle
    from bookings.tests.conftest import later

    data = _gateway_booking(as_client, session_type)
    later(clock, minutes=14)
    assert run_lifecycle().expired == 0
    later(clock, minutes=2)
    assert run_lifecycle().expired == 1
    assert Booking.objects.get(id=data["id"]).status == "expired"
    sign_in(as_client, client_user)
    again = as_client.post("/api/v1/bookings", book_body(session_type), format="json")
    assert again.status_code == 201
    # A payment arriving after the expiry stays in the client's wallet.
    from wallets.tests.factories import paid_payment  # noqa: F401 (the flow below is the same)

    gateway_payment_id, signature = LocalGateway.pay(data["payment"]["gateway_order_id"])
    as_client.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": data["payment"]["gateway_order_id"],
            "razorpay_payment_id": gateway_payment_id,
            "razorpay_signature": signature,
        },
        format="json",
    )
    assert Booking.objects.get(id=data["id"]).status == "expired"
    assert wallet_for(user=client_user).balance == 500_000 - PRICE + PRICE


@pytest.mark.parametrize(
    ("before_start", "refund"),
    [
        (timedelta(hours=24), PRICE),
        (timedelta(hours=24) - timedelta(seconds=1), PRICE // 2),
        (timedelta(hours=2), PRICE // 2),
        (timedelta(hours=2) - timedelta(seconds=1), 0),
    ],
)
def test_a_client_cancelling_gets_the_policys_refund_at_each_boundary(
    as_client, client_user, consultant, session_type, clock, before_start, refund
):
    created = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    clock.move_to(SLOT - before_start)
    sign_in(as_client, client_user)
    answer = as_client.post(
        f"/api/v1/bookings/{created['id']}/cancel", {"reason": "ill"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["status"] == "cancelled" and data["cancelled_by"] == "client"
    assert data["refund_amount"] == refund and data["cancel_reason"] == "ill"
    assert wallet_for(user=client_user).balance == 500_000 - PRICE + refund
    kept = PRICE - refund
    assert wallet_for(user=consultant.user).balance == kept - kept * 20 // 100
    assert held_balance() == 0
    again = as_client.post(f"/api/v1/bookings/{created['id']}/cancel", format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"


def test_a_consultant_cancelling_refunds_everything(
    api, as_client, client_user, consultant, session_type, clock
):
    created = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    clock.move_to(SLOT - timedelta(minutes=30))
    sign_in(api, consultant.user)
    data = api.post(f"/api/v1/bookings/{created['id']}/cancel", format="json").json()
    assert data["cancelled_by"] == "consultant" and data["refund_amount"] == PRICE
    assert wallet_for(user=client_user).balance == 500_000


def test_strangers_see_nothing(api, as_client, session_type, clock):
    created = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    sign_in(api, ClientFactory())
    assert api.get(f"/api/v1/bookings/{created['id']}").status_code == 404
    assert api.post(f"/api/v1/bookings/{created['id']}/cancel").status_code == 404
    assert api.post(f"/api/v1/bookings/{created['id']}/join").status_code == 404
    assert api.get("/api/v1/bookings").json()["results"] == []


def test_lists_are_soonest_first_and_filter_by_role_and_status(
    api, as_client, consultant, session_type
):
    late = as_client.post(
        "/api/v1/bookings", book_body(session_type, start=SLOT + timedelta(days=1)), format="json"
    ).json()
    soon = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    ids = [b["id"] for b in as_client.get("/api/v1/bookings").json()["results"]]
    assert ids == [soon["id"], late["id"]]
    assert as_client.get("/api/v1/bookings", {"role": "consultant"}).json()["results"] == []
    assert len(as_client.get("/api/v1/bookings", {"status": "confirmed"}).json()["results"]) == 2
    sign_in(api, consultant.user)
    mine = api.get("/api/v1/bookings", {"role": "consultant"}).json()["results"]
    assert [b["id"] for b in mine] == [soon["id"], late["id"]]


def test_joining_opens_the_room_then_both_make_it_in_progress(
    api, as_client, client_user, consultant, session_type, clock
):
    created = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    url = f"/api/v1/bookings/{created['id']}/join"
    clock.move_to(SLOT - timedelta(minutes=5, seconds=1))
    sign_in(as_client, client_user)
    early = as_client.post(url)
    assert early.status_code == 409 and early.json()["code"] == "too_early"
    clock.move_to(SLOT - timedelta(minutes=5))
    sign_in(as_client, client_user)
    first = as_client.post(url)
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["booking"]["status"] == "confirmed"
    consultation = body["consultation"]
    assert consultation["kind"] == "booked" and consultation["booking_id"] == created["id"]
    assert consultation["status"] == "active" and consultation["rate_per_minute"] == 0
    assert body["booking"]["consultation_id"] == consultation["id"]
    again = as_client.post(url).json()
    assert again["consultation"]["id"] == consultation["id"]
    sign_in(api, consultant.user)
    both = api.post(url).json()
    assert both["booking"]["status"] == "in_progress"
    assert both["consultation"]["id"] == consultation["id"]
    assert Consultation.objects.count() == 1
    reasons = list(
        BookingEvent.objects.filter(booking_id=created["id"]).values_list("to_status", flat=True)
    )
    assert reasons == ["confirmed", "in_progress"]


def test_join_is_refused_outside_the_bookings_time(as_client, client_user, session_type, clock):
    created = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    as_client.post(f"/api/v1/bookings/{created['id']}/cancel")
    clock.move_to(SLOT)
    sign_in(as_client, client_user)
    answer = as_client.post(f"/api/v1/bookings/{created['id']}/join")
    assert answer.status_code == 409 and answer.json()["code"] == "invalid_state"
