"""A visitor finds a consultant through discovery's filters and reads the profile."""

import pytest
from playwright.sync_api import expect

from consultants.tests.factories import (
    CategoryFactory,
    OnlineConsultantFactory,
    VerifiedConsultantFactory,
)

pytestmark = pytest.mark.browser


def test_a_visitor_finds_a_consultant_through_filters_and_reads_the_profile(live_site, page):
    astrology = CategoryFactory(slug="astrology")
    OnlineConsultantFactory(user__name="Rohan Kapoor", languages=["English"], rate_chat=3000)
    VerifiedConsultantFactory(
        user__name="Meena Joshi", category=astrology, languages=["Marathi"], rate_chat=2000
    )
    OnlineConsultantFactory(
        user__name="Suresh Rao",
        category=astrology,
        languages=["Hindi", "Telugu"],
        rate_chat=1500,
        rate_video=6000,
        bio="Vedic astrology, kundli matching.",
    )

    page.goto(live_site.url_for("/"))
    page.get_by_role("link", name="Astrology").click()
    cards = page.get_by_test_id("consultant-card")
    expect(cards).to_have_count(2)

    page.get_by_label("Language").fill("telugu")
    page.get_by_label("Online now").check()
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(
        live_site.url_for(
            "/consultants/?category=astrology&language=telugu&online=on&ordering=-rating"
        )
    )
    expect(cards).to_have_count(1)
    cards.first.get_by_role("link", name="Suresh Rao", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Suresh Rao")
    expect(page.get_by_test_id("consultant-status")).to_have_text("Online")
    expect(page.get_by_test_id("rate-chat")).to_have_text("₹15.00/min")
    expect(page.get_by_test_id("rate-video")).to_have_text("₹60.00/min")
    expect(page.get_by_text("Vedic astrology, kundli matching.")).to_be_visible()
    expect(page.get_by_role("link", name="Log in to start")).to_be_visible()
