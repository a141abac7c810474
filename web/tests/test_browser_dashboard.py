"""A consultant goes online from the dashboard and a client's request rings in, live."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import VerifiedConsultantFactory
from consultations.models import Consultation, Status
from consultations.services import cancel_consultation
from wallets.tests.factories import fund

pytestmark = pytest.mark.browser

# Counts the tones the page plays: Web Audio oscillators started.
COUNT_TONES = """
window.__tones = 0;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) {
  window.__tones += 1;
  return start.apply(this, args);
};
"""


def test_a_consultant_goes_online_and_a_request_rings_in(live_site, page, sign_in, new_page):
    profile = VerifiedConsultantFactory(user__name="Rohan Kapoor", rate_chat=3000)
    client = ClientFactory(name="Asha Verma")
    fund(client, 100_000)

    page.add_init_script(COUNT_TONES)
    sign_in(page, profile.user)
    page.goto(live_site.url_for("/dashboard/"))
    online = page.get_by_label("Online")
    expect(online).not_to_be_checked()
    online.check()
    expect(page.get_by_text("Clients can ask for you now.")).to_be_visible()
    profile.refresh_from_db()
    assert profile.is_online

    asha = new_page(client)
    asha.goto(live_site.url_for(f"/consultants/{profile.id}/"))
    asha.get_by_role("button", name="Start chat").click()
    expect(asha.get_by_test_id("consultation-status")).to_have_text("pending")

    ringing = page.get_by_test_id("incoming-request")
    expect(ringing).to_have_count(1)
    expect(ringing).to_contain_text("Asha Verma")
    expect(page.locator("[data-requests]")).to_have_attribute("data-ringing", "true")
    page.wait_for_function("window.__tones > 0")

    ringing.get_by_role("button", name="Accept").click()
    consultation = Consultation.objects.get(client=client)
    expect(page).to_have_url(live_site.url_for(f"/consultations/{consultation.id}/"))
    consultation.refresh_from_db()
    assert consultation.status == Status.ACTIVE


def test_the_ring_stops_when_the_client_cancels(live_site, page, sign_in, new_page):
    profile = VerifiedConsultantFactory(rate_chat=1000)
    client = ClientFactory()
    fund(client, 100_000)
    sign_in(page, profile.user)
    page.goto(live_site.url_for("/dashboard/"))
    page.get_by_label("Online").check()
    expect(page.get_by_text("Clients can ask for you now.")).to_be_visible()

    asha = new_page(client)
    asha.goto(live_site.url_for(f"/consultants/{profile.id}/"))
    asha.get_by_role("button", name="Start chat").click()
    expect(page.get_by_test_id("incoming-request")).to_have_count(1)

    consultation = Consultation.objects.get(client=client)
    cancel_consultation(consultation_id=consultation.id, actor=client)
    expect(page.get_by_test_id("incoming-request")).to_have_count(0)
    expect(page.locator("[data-requests]")).to_have_attribute("data-ringing", "false")


def test_someone_elses_room_is_a_404(live_site, page, sign_in):
    profile = VerifiedConsultantFactory()
    owner = ClientFactory()
    consultation = Consultation.objects.create(
        client=owner,
        consultant=profile,
        channel="chat",
        rate_per_minute=1000,
        requested_at=profile.created_at,
        status=Status.CANCELLED,
        ended_at=profile.created_at,
    )
    sign_in(page, ClientFactory())
    answer = page.goto(live_site.url_for(f"/consultations/{consultation.id}/"))
    assert answer.status == 404
    expect(page.get_by_role("heading", name="We could not find that page")).to_be_visible()
