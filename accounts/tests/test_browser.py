"""Journeys of the account pages in a real browser (web/testing.py)."""

from datetime import timedelta

import pyotp
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.factories import PASSWORD, ClientFactory

pytestmark = pytest.mark.browser


def test_sign_up_log_out_then_log_in_with_mfa(live_site, page):
    page.goto(live_site.url_for("/signup/"))
    page.get_by_label("Name").fill("Asha Verma")
    page.get_by_label("Email").fill("asha@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("radiogroup", name="I am a").get_by_label("Client").check()
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(live_site.url_for("/consultants/"))

    # Two-step login on, from the account page: the secret is on the page with its QR code.
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Set up two-step login").click()
    secret = page.get_by_test_id("mfa-secret").inner_text()
    totp = pyotp.TOTP(secret)
    # The previous step's code (still accepted), so the current one is fresh for the login.
    page.get_by_label("Code").fill(totp.at(timezone.now() - timedelta(seconds=30)))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Two-step login is on.")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill("asha@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_label("Code").fill(totp.now())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    assert User.objects.get(email="asha@example.com").mfa_enabled


def test_a_wrong_password_is_told_in_words_and_the_email_kept(live_site, page):
    ClientFactory(email="meera@example.com")
    page.goto(live_site.url_for("/login/"))
    page.get_by_label("Email").fill("meera@example.com")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or password is wrong.")
    expect(page.get_by_label("Email")).to_have_value("meera@example.com")
    expect(page.get_by_label("Password")).to_have_value("")
