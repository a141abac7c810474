"""The room's recharge dialog with PAYMENT_GATEWAY=stripe, in a real browser (issue 15): Pay
opens a PaymentIntent and mounts Stripe.js's Payment Element in the dialog; Pay again confirms
it, the page posts verify with the payment's id, the server asks Stripe and credits once, and
the meter shows the new balance while the consultation goes on. Stripe is faked at the network
edge as in wallets/tests/test_browser_stripe.py."""

import pytest
from playwright.sync_api import expect

from consultations.models import Status
from wallets.models import EntryKind, LedgerEntry, Payment, PaymentStatus
from wallets.services import wallet_for
from wallets.tests.stripe_fakes import serve_stripe_js, stripe_http
from web.templatetags.site import format_rupees
from web.tests.test_room_browser import people as people  # noqa: F401 - the fixture
from web.tests.test_room_browser import room, start, tick

pytestmark = pytest.mark.browser


@pytest.fixture
def stripe_api(settings):
    with stripe_http(settings, intent_id="pi_room", amount=60_000) as mock:
        yield mock


def test_a_stripe_recharge_in_the_room_credits_once_and_the_meter_follows(
    live_site,
    page,
    sign_in,
    stripe_api,
    people,  # noqa: F811 - the fixture imported above
):
    client_user, _expert = people
    consultation = start(people, "chat")
    confirmations = serve_stripe_js(page, stripe_api, charge="ch_room")
    sign_in(page, client_user)
    room(page, live_site, consultation)
    before = wallet_for(user=client_user).balance

    page.get_by_role("button", name="Recharge").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Amount (₹)").fill("600")
    dialog.get_by_role("button", name="Pay").click()
    # The Payment Element, in the dialog itself, for the PaymentIntent just made.
    expect(dialog.get_by_test_id("fake-payment-element")).to_be_visible()
    expect(dialog.get_by_label("Amount (₹)")).not_to_be_editable()
    payment = Payment.objects.get(user=client_user)
    assert payment.gateway_order_id == "pi_room" and payment.status == PaymentStatus.CREATED
    assert page.evaluate("window.stripeCalls.map((c) => c.call)") == [
        "Stripe",
        "elements",
        "create",
        "mount",
    ]

    dialog.get_by_role("button", name="Pay").click()
    expect(dialog).to_be_hidden()
    after = before + 60_000
    expect(page.get_by_test_id("balance")).to_have_text(format_rupees(after))
    expect(page.locator("[data-nav-balance]")).to_have_text(format_rupees(after))
    assert confirmations == [
        {"intent": "pi_room", "return_url": live_site.url_for(f"/wallet/return/{payment.id}/")}
    ]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert wallet_for(user=client_user).balance == after
    recharges = LedgerEntry.objects.filter(account__user=client_user, kind=EntryKind.RECHARGE)
    assert [entry.amount for entry in recharges] == [60_000]
    # The consultation went on through it.
    assert tick(consultation, 30).status == Status.ACTIVE
    expect(page.get_by_test_id("consultation-status")).to_have_text("active")
