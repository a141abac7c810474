"""Booking and cancelling in real browsers (web/testing.py): a client books from the
consultant's profile and pays from the wallet or through the checkout; a cancellation shows its
refund first, and the consultant's open page follows."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import ClientFactory
from bookings import services
from bookings.models import Booking
from bookings.pages import free_times, today_of
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory, every_day
from consultants.tests.factories import VerifiedConsultantFactory
from wallets.services import wallet_for
from wallets.tests.factories import fund
from web.templatetags.site import format_rupees

pytestmark = [pytest.mark.browser]


@pytest.fixture(autouse=True)
def _offline_gateway(settings):
    settings.PAYMENT_GATEWAY = "local"


@pytest.fixture
def offer(live_site):
    expert = VerifiedConsultantFactory(user__name="Kavya Menon")
    ScheduleFactory(consultant=expert, weekly=every_day("00:00", "24:00"))
    return SessionTypeFactory(consultant=expert, title="Career review", price=150_000)


@pytest.fixture
def asha(live_site):
    person = ClientFactory(name="Asha Verma")
    fund(person, 500_000)
    return person


def next_slots(offer):
    schedule = offer.consultant.schedule
    now = timezone.now()
    return free_times(
        schedule=schedule, session_types=[offer], first=today_of(schedule, now), now=now
    )[offer.id]


def test_a_client_books_from_the_profile_and_pays_from_the_wallet(
    live_site, page, new_page, sign_in, offer, asha
):
    sign_in(page, asha)
    page.goto(live_site.url_for(f"/consultants/{offer.consultant_id}/"))
    section = page.get_by_role("region", name="Book a session")
    expect(section.get_by_role("heading", name="Career review")).to_be_visible()
    section.get_by_role("link", name="Choose a time").click()
    expect(page).to_have_url(re.compile(r"/bookings/new/\?session_type="))

    slots = page.get_by_role("radiogroup", name="Slot").get_by_role("radio")
    expect(slots.first).to_be_visible()
    chosen = slots.nth(1)
    chosen.check()
    start = chosen.get_attribute("value")
    page.get_by_label("Goals").fill("Move from QA to product management.")
    page.get_by_role("radiogroup", name="Pay with").get_by_label("Wallet").check()
    page.get_by_role("button", name="Book").click()

    expect(page.get_by_test_id("booking-status")).to_have_text("confirmed")
    booking = Booking.objects.get(client=asha)
    assert booking.start_at.isoformat() == start
    assert booking.goals == "Move from QA to product management."
    expect(page).to_have_url(live_site.url_for(f"/bookings/{booking.id}/"))
    balance = wallet_for(user=asha).balance
    assert balance == 500_000 - 150_000
    expect(page.locator("[data-nav-balance]")).to_have_text(format_rupees(balance))

    # The consultant sees it among their upcoming bookings; the time is gone from the profile.
    theirs = new_page(offer.consultant.user)
    theirs.goto(live_site.url_for("/dashboard/"))
    expect(theirs.get_by_test_id("upcoming-booking").filter(has_text="Asha Verma")).to_be_visible()
    page.goto(live_site.url_for(f"/bookings/new/?session_type={offer.id}"))
    expect(page.locator(f"input[value='{start}']")).to_have_count(0)


def test_card_upi_goes_through_the_checkout_and_back(live_site, page, sign_in, offer, asha):
    sign_in(page, asha)
    page.goto(live_site.url_for(f"/bookings/new/?session_type={offer.id}"))
    page.get_by_role("radiogroup", name="Slot").get_by_role("radio").first.check()
    page.get_by_role("radiogroup", name="Pay with").get_by_label("Card / UPI").check()
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_test_id("checkout-amount")).to_have_text("₹1,500.00")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("confirmed")
    assert Booking.objects.get(client=asha).status == "confirmed"


def test_cancelling_shows_the_refund_first_and_both_pages_follow(
    live_site, page, new_page, sign_in, offer, asha
):
    # The first free time is within 24 hours: cancelling gives half back.
    booking = services.book(
        client=asha,
        session_type_id=offer.id,
        start_at=next_slots(offer)[0].start_at,
        payment_method="wallet",
    )
    refund = services.refund_for(booking=booking, cancelled_by="client", now=timezone.now())
    assert refund == 75_000
    theirs = new_page(offer.consultant.user)
    theirs.goto(live_site.url_for(f"/bookings/{booking.id}/"))
    expect(theirs.get_by_test_id("booking-status")).to_have_text("confirmed")

    sign_in(page, asha)
    page.goto(live_site.url_for(f"/bookings/{booking.id}/"))
    expect(page.get_by_test_id("refund-preview")).to_have_text(
        "Cancelling now gives you back ₹750.00 of ₹1,500.00."
    )
    before = wallet_for(user=asha).balance
    page.get_by_label("Reason (optional)").fill("A clash with work")
    page.get_by_role("button", name="Cancel booking").click()
    expect(page.get_by_test_id("booking-status")).to_have_text("cancelled")
    expect(page.get_by_role("button", name="Cancel booking")).to_have_count(0)
    expect(page.get_by_text("Cancelled by the client: A clash with work")).to_be_visible()
    assert wallet_for(user=asha).balance == before + refund
    # The consultant's open page reads the change by itself.
    expect(theirs.get_by_test_id("booking-status")).to_have_text("cancelled")
