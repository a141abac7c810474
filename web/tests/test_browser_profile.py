"""A consultant sets up what they sell on their profile page, `/dashboard/profile/`, in a real
browser at a phone's width: a refused form opens at its errors (its section, far down the
page), a saved one at the page's top with its message."""

import pytest
from playwright.sync_api import expect

from bookings.models import Schedule, SessionType
from consultants.tests.factories import VerifiedConsultantFactory

pytestmark = pytest.mark.browser


def test_a_consultant_adds_a_session_type_turns_it_off_and_sets_hours_on_a_phone(
    live_site, new_page
):
    expert = VerifiedConsultantFactory(user__name="Kavya Menon")
    page = new_page(expert.user, viewport={"width": 375, "height": 812})
    page.goto(live_site.url_for("/dashboard/profile/"))

    page.get_by_label("Title").fill("Quick chat")
    page.get_by_label("Length (minutes)").fill("5")
    page.get_by_label("Price (₹)").fill("0.50")
    page.get_by_role("button", name="Add session type").click()
    length_error = page.locator("#id_duration_minutes_error")
    expect(length_error).to_be_in_viewport()
    expect(page.locator("#id_price_error")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Quick chat")

    page.get_by_label("Length (minutes)").fill("30")
    page.get_by_label("Price (₹)").fill("499")
    page.get_by_role("button", name="Add session type").click()
    saved = page.get_by_text("Session type added: clients can book it now.")
    expect(saved).to_be_in_viewport()
    expect(page.get_by_test_id("session-type")).to_contain_text("₹499.00")
    assert SessionType.objects.get(consultant=expert).price == 49_900

    page.get_by_role("button", name="Turn off Quick chat").click()
    expect(page.get_by_text("Session type turned off.")).to_be_in_viewport()
    expect(page.get_by_test_id("session-type")).to_have_count(0)

    page.get_by_label("Monday").fill("nine to five")
    page.get_by_role("button", name="Save hours").click()
    expect(page.locator("#id_mon_error")).to_be_in_viewport()
    expect(page.get_by_label("Monday")).to_have_value("nine to five")
    page.get_by_label("Monday").fill("09:00-17:00")
    page.get_by_role("button", name="Save hours").click()
    expect(page.get_by_text("Your hours are saved.")).to_be_in_viewport()
    assert Schedule.objects.get(consultant=expert).weekly == [
        {"weekday": 0, "start": "09:00", "end": "17:00"}
    ]
