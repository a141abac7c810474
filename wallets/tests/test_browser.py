"""A client recharges through the offline checkout, in a real browser."""

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import ClientFactory
from wallets.services import wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.browser


def test_a_recharge_through_the_offline_checkout_updates_the_balance(live_site, page, sign_in):
    user = ClientFactory()
    fund(user, 12_000)
    sign_in(page, user)
    page.goto(live_site.url_for("/wallet/"))
    expect(page.get_by_test_id("balance")).to_have_text("₹120.00")

    page.get_by_label("Amount (₹)").fill("1500")
    page.get_by_role("button", name="Recharge").click()
    expect(page.get_by_test_id("checkout-amount")).to_have_text("₹1,500.00")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(live_site.url_for("/wallet/"))
    expect(page.get_by_test_id("balance")).to_have_text("₹1,620.00")
    expect(page.get_by_test_id("available")).to_have_text("₹1,620.00")
    expect(page.get_by_text("₹1,500.00 added to your wallet.")).to_be_visible()
    assert wallet_for(user=user).balance == 162_000


def test_a_preset_fills_the_amount(live_site, page, sign_in):
    sign_in(page, ClientFactory())
    page.goto(live_site.url_for("/wallet/"))
    page.get_by_role("button", name="₹500.00").click()
    expect(page.get_by_label("Amount (₹)")).to_have_value("500")
