"""Every page (UI.md, the room aside), in a real browser at a phone's width: every form
field has a label, nothing scrolls sideways, no request leaves the site, and the page's CSS
and JavaScript weigh under 100 KB uncompressed (ISSUE 11 "Speed")."""

import pytest

from accounts.tests.factories import ClientFactory
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
    ("/logout/", "client"),
    ("/account/", "client"),
    ("/wallet/", "client"),
    ("/wallet/checkout/{payment}/", "client"),
    ("/consultations/", "client"),
    ("/consultations/{consultation}/", "client"),
    ("/dashboard/", "consultant"),
    ("/dashboard/profile/", "consultant"),
    ("/earnings/", "consultant"),
    ("/no-such-page/", None),
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


@pytest.fixture
def people(db):
    client = ClientFactory(name="Asha Verma")
    fund(client, 250_000)
    consultant = OnlineConsultantFactory(user__name="Rohan Kapoor", rate_video=8000)
    ended_consultation(client=client, consultant=consultant, rate=3000, seconds=300)
    ConsultationFactory(consultant=consultant, client=ClientFactory(name="Meera Iyer"))
    return {
        "client": client,
        "consultant": consultant.user,
        "ids": {
            "consultant": consultant.id,
            "payment": create_recharge(user=client, amount=50_000).id,
            "consultation": client.consultations.first().id,
        },
    }


@pytest.mark.parametrize(("path", "who"), PAGES)
def test_every_page_is_labelled_fits_a_phone_and_asks_no_other_host(
    live_site, new_page, people, path, who
):
    page = new_page(people[who] if who else None, viewport={"width": 375, "height": 812})
    foreign = []
    assets = []
    page.on(
        "response",
        lambda response: (
            assets.append(response)
            if response.request.resource_type in ("stylesheet", "script")
            else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            foreign.append(request.url)
            if not request.url.startswith((live_site.url, "data:", "blob:"))
            else None
        ),
    )
    answer = page.goto(live_site.url_for(path.format(**people["ids"])), wait_until="networkidle")
    assert answer.status == (404 if path == "/no-such-page/" else 200)
    assert page.title().endswith("· Consult")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate(UNLABELLED) == []
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways at 375 px"
    assert foreign == []
    weight = sum(len(response.body()) for response in assets)
    assert assets and weight < 100 * 1024, f"{weight} bytes of CSS and JS"
