"""A client recharges with PAYMENT_GATEWAY=stripe, in a real browser (issue 15): the wallet page
mounts Stripe.js's Payment Element for the PaymentIntent, confirms it, and posts the payment's
id to verify, where the server asks Stripe and credits once.

The test machine cannot reach Stripe, so Stripe is faked at the network edge on both sides:
Stripe.js and its confirmation call by Playwright routes (`serve_stripe_js`), Stripe's server
API by `responses`, which patches `requests` for the whole process and so for the live server's
thread too."""

from urllib.parse import parse_qs

import pytest
from django.test import Client
from playwright.sync_api import expect

from accounts.tests.factories import ClientFactory
from wallets.models import EntryKind, LedgerEntry, Payment, PaymentStatus
from wallets.services import wallet_for
from wallets.tests.factories import fund
from wallets.tests.stripe_fakes import (
    PUBLISHABLE_KEY,
    serve_stripe_js,
    stripe_http,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def stripe_api(settings):
    with stripe_http(settings, intent_id="pi_wallet", amount=50_000) as mock:
        yield mock


@pytest.fixture
def asha(db):
    user = ClientFactory(name="Asha Verma")
    fund(user, 12_000)
    return user


def open_payment_element(page, live_site):
    """₹500 typed and Recharge pressed: the wallet page comes back with the Payment Element."""
    page.goto(live_site.url_for("/wallet/"))
    expect(page.get_by_test_id("balance")).to_have_text("₹120.00")
    page.get_by_label("Amount (₹)").fill("500")
    page.get_by_role("button", name="Recharge").click()
    expect(page.get_by_test_id("fake-payment-element")).to_be_visible()


def test_a_client_tops_up_500_through_stripe_and_is_credited_once(
    live_site, page, sign_in, stripe_api, asha
):
    confirmations = serve_stripe_js(page, stripe_api, charge="ch_wallet")
    sign_in(page, asha)
    open_payment_element(page, live_site)
    payment = Payment.objects.get(user=asha)
    # Stripe.js got the platform's publishable key and this PaymentIntent's client secret.
    calls = page.evaluate("window.stripeCalls")
    assert calls[:4] == [
        {"call": "Stripe", "key": PUBLISHABLE_KEY},
        {"call": "elements", "clientSecret": "pi_wallet_secret_abc"},
        {"call": "create", "kind": "payment"},
        {"call": "mount", "target": "stripe-element"},
    ]
    # Before Stripe.js confirms, Stripe's API says the intent is unpaid.
    assert payment.status == PaymentStatus.CREATED and payment.gateway_order_id == "pi_wallet"

    # (page.on, not page.expect_request: web/testing.py marks Playwright's loop as running only
    # during its calls, and expect_request starts waiting outside one.)
    verifies = []
    page.on("request", lambda r: verifies.append(r) if r.url.endswith("/wallet/verify/") else None)
    page.get_by_role("button", name="Pay ₹500.00").click()

    expect(page).to_have_url(live_site.url_for("/wallet/"))
    expect(page.get_by_text("₹500.00 added to your wallet.")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("₹620.00")
    expect(page.get_by_test_id("available")).to_have_text("₹620.00")
    # The page posted the payment's id to verify, once, and nothing of Razorpay's.
    assert [r.method for r in verifies] == ["POST"]
    posted = parse_qs(verifies[0].post_data)
    assert posted["payment_id"] == [str(payment.id)]
    assert not any(name.startswith("razorpay") for name in posted)
    # Stripe.js confirmed this intent once, with the page to come back to after a redirect.
    assert confirmations == [
        {
            "intent": "pi_wallet",
            "return_url": live_site.url_for(f"/wallet/return/{payment.id}/"),
        }
    ]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and payment.gateway_payment_id == "ch_wallet"

    # Verify again (a double submit, the return page after it): nothing is credited twice.
    again = Client()
    again.force_login(asha)
    assert again.post("/wallet/verify/", {"payment_id": str(payment.id)}).status_code == 302
    assert again.get(f"/wallet/return/{payment.id}/").status_code == 302
    assert wallet_for(user=asha).balance == 62_000
    recharges = LedgerEntry.objects.filter(account__user=asha, kind=EntryKind.RECHARGE)
    assert [entry.amount for entry in recharges] == [50_000]


def test_a_declined_card_says_so_keeps_the_payment_open_and_credits_nothing(
    live_site, new_page, stripe_api, asha
):
    page = new_page(asha, viewport={"width": 375, "height": 812})  # a phone
    serve_stripe_js(page, stripe_api, outcome="declined")
    open_payment_element(page, live_site)
    # The page comes back at the Payment Element, below the transactions on a phone.
    expect(page.get_by_test_id("fake-payment-element")).to_be_in_viewport()
    pay = page.get_by_role("button", name="Pay ₹500.00")
    pay.click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(pay).to_be_enabled()  # another card can be tried
    expect(page).to_have_url(live_site.url_for("/wallet/#recharge"))
    expect(page.get_by_test_id("fake-payment-element")).to_be_visible()  # still on the form
    assert page.evaluate("window.stripeCalls.at(-1)") == {
        "call": "confirmPayment",
        "redirect": "if_required",
    }
    assert Payment.objects.get(user=asha).status == PaymentStatus.CREATED
    assert wallet_for(user=asha).balance == 12_000
    assert not LedgerEntry.objects.filter(account__user=asha, kind=EntryKind.RECHARGE).exists()
