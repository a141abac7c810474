"""Every page (UI.md, the room aside), in a real browser at a phone's width: every form
field has a label, nothing scrolls sideways, no request leaves the site, nothing breaks the
Content-Security-Policy (config/csp.py), and the page's CSS and JavaScript weigh under 100 KB
uncompressed (ISSUE 11 "Speed")."""

import pytest
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from bookings.pages import free_times, today_of
from bookings.services import book
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory, every_day
from consultants.tests.factories import OnlineConsultantFactory
from consultations.tests.factories import ConsultationFactory
from earnings.tests.factories import ended_consultation
from wallets.payments import create_recharge
from wallets.tests.factories import fund

pytestmark = pytest.mark.browser

PAGES = [
    ("/", None),
    ("/consultants/", None),
    ("/consultants/{consultant}/", "client"),
    ("/consultants/{consultant}/", None),
    ("/signup/", None),
    ("/login/", None),
    ("/account/", "client"),
    ("/wallet/", "client"),
    ("/wallet/checkout/{payment}/", "client"),
    ("/consultations/", "client"),
    ("/consultations/{consultation}/", "client"),
    ("/bookings/new/?session_type={session_type}", "client"),
    ("/bookings/{booking}/", "client"),
    ("/dashboard/", "consultant"),
    ("/dashboard/profile/", "consultant"),
    ("/dashboard/bookings/", "consultant"),
    ("/earnings/", "consultant"),
    ("/no-such-page/", None),
    ("/logout/", "client"),  # last: what it does to the session touches no other page
]

# Fields without a label: inputs a person fills that no <label>, aria-label or aria-labelledby
# names.
UNLABELLED = """
() => [...document.querySelectorAll("input, select, textarea")]
  .filter((f) => !["hidden", "submit", "button"].includes(f.type))
  .filter((f) => !(f.labels && f.labels.length) && !f.getAttribute("aria-label")
                 && !f.getAttribute("aria-labelledby"))
  .map((f) => f.name || f.id || f.outerHTML)
"""

# The stylesheets and scripts (modules' imports too) a page loaded, as the browser timed them:
# a file from the cache is here though the network saw no request, or only a 304, for it.
FILES_FETCHED = """
() => performance.getEntriesByType("resource").map((e) => e.name)
  .filter((url) => /\\.(css|m?js)$/.test(new URL(url).pathname))
"""

# Every `securitypolicyviolation` event of a page, kept where the test reads it. Playwright adds
# this before the page's own scripts, and the policy does not apply to it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(
  `${e.effectiveDirective} ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));
"""


def watch_policy(page) -> list[str]:
    """Records `page`'s Content-Security-Policy violations: its events, and Chromium's console
    messages about them (returned; `violations` reads both)."""
    found: list[str] = []

    def on_console(message):
        if "Content Security Policy" in message.text:
            found.append(message.text)

    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", on_console)
    return found


def violations(page, console: list[str]) -> list[str]:
    found = page.evaluate("window.cspViolations || []") + console
    console.clear()
    return found


@pytest.fixture
def people(db):
    client = ClientFactory(name="Asha Verma")
    fund(client, 250_000)
    consultant = OnlineConsultantFactory(user__name="Rohan Kapoor", rate_video=8000)
    ended_consultation(client=client, consultant=consultant, rate=3000, seconds=300)
    ConsultationFactory(consultant=consultant, client=ClientFactory(name="Meera Iyer"))
    offer = SessionTypeFactory(consultant=consultant)
    schedule = ScheduleFactory(consultant=consultant, weekly=every_day("00:00", "24:00"))
    now = timezone.now()
    first = free_times(
        schedule=schedule, session_types=[offer], first=today_of(schedule, now), now=now
    )[offer.id][0]
    booking = book(
        client=client, session_type_id=offer.id, start_at=first.start_at, payment_method="wallet"
    )
    return {
        "client": client,
        "consultant": consultant.user,
        "ids": {
            "consultant": consultant.id,
            "payment": create_recharge(user=client, amount=50_000).id,
            "consultation": client.consultations.first().id,
            "session_type": offer.id,
            "booking": booking.id,
        },
    }


def test_every_page_is_labelled_fits_a_phone_and_asks_no_other_host(live_site, new_page, people):
    """One visit a page, in one browser context a person (a visitor, the client, the
    consultant), so the whole site costs one database and a few contexts; every page's
    problems are gathered and reported together."""
    pages = {}
    consoles = {}
    problems = {}
    for path, who in PAGES:
        if who not in pages:
            pages[who] = new_page(
                people[who] if who else None, viewport={"width": 375, "height": 812}
            )
            consoles[who] = watch_policy(pages[who])
        found = check_page(pages[who], live_site, path.format(**people["ids"]))
        if broken := violations(pages[who], consoles[who]):
            found.append(f"Content-Security-Policy violations: {broken}")
        if found:
            problems[f"{path} ({who or 'visitor'})"] = found
    assert problems == {}


def check_page(page, live_site, path: str) -> list[str]:
    foreign = []
    assets = []

    def on_response(response):
        # A page visited after another in the same context may get its files revalidated
        # (304, no body) or from the memory cache: the URL is what counts, weighed below.
        if response.request.resource_type in ("stylesheet", "script") and response.status < 400:
            assets.append(response.url)

    def on_request(request):
        if not request.url.startswith((live_site.url, "data:", "blob:")):
            foreign.append(request.url)

    page.on("response", on_response)
    page.on("request", on_request)
    try:
        answer = page.goto(live_site.url_for(path), wait_until="networkidle")
        found = []
        if answer.status != (404 if path == "/no-such-page/" else 200):
            found.append(f"status {answer.status}")
        if "script-src 'self'" not in (answer.headers.get("content-security-policy") or ""):
            found.append("no Content-Security-Policy")
        if not page.title().endswith("· Consult"):
            found.append(f"title {page.title()!r}")
        if page.evaluate("document.documentElement.lang") != "en":
            found.append("<html lang> is not en")
        if unlabelled := page.evaluate(UNLABELLED):
            found.append(f"fields without a label: {unlabelled}")
        if not page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        ):
            found.append("the page scrolls sideways at 375 px")
        if foreign:
            found.append(f"requests to other hosts: {foreign}")
        assets.extend(page.evaluate(FILES_FETCHED))
        weight = sum(len(page.request.get(url).body()) for url in set(assets))
        if not assets or weight >= 100 * 1024:
            found.append(f"{weight} bytes of CSS and JS")
        return found
    finally:
        page.remove_listener("response", on_response)
        page.remove_listener("request", on_request)
