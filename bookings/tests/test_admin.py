"""The operators' bookings: filters, the timeline, cancelling with a full refund."""

import pytest

from accounts.tests.factories import AdminFactory
from bookings.models import Booking
from bookings.tests.conftest import PRICE, book_body
from wallets.services import wallet_for

pytestmark = pytest.mark.django_db


def test_an_operator_cancels_with_a_full_refund_and_sees_the_timeline(
    client, as_client, client_user, session_type, clock
):
    created = as_client.post("/api/v1/bookings", book_body(session_type), format="json").json()
    client.force_login(AdminFactory())
    listing = client.get("/admin/bookings/booking/", {"status__exact": "confirmed"})
    assert listing.status_code == 200 and created["id"] in listing.content.decode()
    answer = client.post(
        "/admin/bookings/booking/",
        {"action": "cancel_with_full_refund", "_selected_action": [created["id"]]},
    )
    assert answer.status_code == 302
    booking = Booking.objects.get(id=created["id"])
    assert booking.status == "cancelled" and booking.cancelled_by is None
    assert booking.refund_amount == PRICE
    assert wallet_for(user=client_user).balance == 500_000
    page = client.get(f"/admin/bookings/booking/{booking.id}/change/").content.decode()
    assert "booking_charge" in page and "booking_refund" in page and "cancelled" in page
