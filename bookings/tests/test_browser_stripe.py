"""A client books with Card / UPI with PAYMENT_GATEWAY=stripe, in a real browser: the booking's
page mounts Stripe.js's Payment Element (the wallet's own static/js/stripe-checkout.js) for the
booking's PaymentIntent, confirms it, and posts the payment's id to verify; the server asks
Stripe, and the booking is confirmed once. Stripe is faked at the network edge as in
wallets/tests/test_browser_stripe.py: Stripe.js by Playwright routes, its API by `responses`."""

from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import ClientFactory
from bookings.models import Booking, BookingEvent
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory, every_day
from consultants.tests.factories import VerifiedConsultantFactory
from wallets.models import EntryKind, LedgerEntry, PaymentStatus
from wallets.tests.stripe_fakes import PUBLISHABLE_KEY, serve_stripe_js, stripe_http

pytestmark = pytest.mark.browser

PRICE = 150_000


@pytest.fixture
def stripe_api(settings):
    # The page asks again for the client secret (never stored): the intent, still unpaid.
    with stripe_http(settings, intent_id="pi_booking", amount=PRICE) as mock:
        yield mock


@pytest.fixture
def offer(live_site):
    expert = VerifiedConsultantFactory(user__name="Kavya Menon")
    ScheduleFactory(consultant=expert, weekly=every_day("00:00", "24:00"))
    return SessionTypeFactory(consultant=expert, title="Career review", price=PRICE)


def test_card_upi_in_stripe_mode_pays_on_the_booking_page_and_confirms_it(
    live_site, page, sign_in, stripe_api, offer
):
    asha = ClientFactory(name="Asha Verma")  # nothing in the wallet
    confirmations = serve_stripe_js(page, stripe_api, charge="ch_booking")
    sign_in(page, asha)
    page.goto(live_site.url_for(f"/bookings/new/?session_type={offer.id}"))
    page.get_by_role("radiogroup", name="Slot").get_by_role("radio").first.check()
    page.get_by_role("radiogroup", name="Pay with").get_by_label("Card / UPI").check()
    page.get_by_role("button", name="Book").click()

    expect(page.get_by_test_id("fake-payment-element")).to_be_visible()
    booking = Booking.objects.select_related("payment").get(client=asha)
    expect(page).to_have_url(live_site.url_for(f"/bookings/{booking.id}/?pay=1"))
    expect(page.get_by_test_id("booking-status")).to_have_text("pending")
    calls = page.evaluate("window.stripeCalls")
    assert calls[:4] == [
        {"call": "Stripe", "key": PUBLISHABLE_KEY},
        {"call": "elements", "clientSecret": "pi_booking_secret_abc"},
        {"call": "create", "kind": "payment"},
        {"call": "mount", "target": "stripe-element"},
    ]
    assert booking.payment.gateway_order_id == "pi_booking"

    verifies = []
    page.on("request", lambda r: verifies.append(r) if r.url.endswith("/wallet/verify/") else None)
    page.get_by_role("button", name="Pay ₹1,500.00").click()

    expect(page).to_have_url(live_site.url_for(f"/bookings/{booking.id}/"))
    expect(page.get_by_test_id("booking-status")).to_have_text("confirmed")
    assert [r.method for r in verifies] == ["POST"]
    posted = parse_qs(verifies[0].post_data)
    assert posted["payment_id"] == [str(booking.payment_id)]
    assert not any(name.startswith("razorpay") for name in posted)
    # Stripe.js confirmed this intent once, with a way back (a redirecting method) that returns
    # to the booking.
    assert [c["intent"] for c in confirmations] == ["pi_booking"]
    back = confirmations[0]["return_url"]
    assert back.startswith(live_site.url_for(f"/wallet/return/{booking.payment_id}/?next="))
    assert parse_qs(back.split("?", 1)[1])["next"] == [f"/bookings/{booking.id}/"]
    booking.refresh_from_db()
    booking.payment.refresh_from_db()
    assert booking.status == "confirmed"
    assert booking.payment.status == PaymentStatus.CAPTURED
    assert BookingEvent.objects.filter(booking=booking, reason="paid").count() == 1
    charges = LedgerEntry.objects.filter(account__user=asha, kind=EntryKind.BOOKING_CHARGE)
    assert [entry.amount for entry in charges] == [-PRICE]
