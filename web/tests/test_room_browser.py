"""The consultation room in real browsers: a client and a consultant, each in a Chromium
context of their own, against the live site (HTTP and WebSocket).

Billing is driven from the test: `tick(consultation, seconds)` moves the consultation's clock
back by `seconds` and runs the billing tick, so a minute of talk takes no minute of test. Every
figure the pages show is compared with the database's.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations import services
from consultations.models import Consultation, EndReason, Status
from reviews.models import Review
from wallets.services import wallet_for
from wallets.tests.factories import fund
from web.templatetags.site import format_rupees
from web.tests.test_browser_pages import violations, watch_policy

pytestmark = [pytest.mark.browser]

RATE = 6000  # paise a minute: ₹60.00, one rupee a second
CLOCK = re.compile(r"^\d{2}:\d{2}$")
# A call connects in ~0.2 s on an idle machine; encoding the fake camera on two cores shared
# with other suites can take many seconds.
CALL_TIMEOUT_MS = 45_000


@pytest.fixture(autouse=True)
def _quick(settings):
    settings.MIN_MINUTES = 1
    settings.RING_TIMEOUT_SECONDS = 60
    settings.PAYMENT_GATEWAY = "local"
    settings.STUN_URLS = []  # loopback candidates only: no lookup of an outside host


@pytest.fixture
def people(live_site):
    client_user = ClientFactory(name="Asha Verma")
    fund(client_user, 100_000)
    expert = OnlineConsultantFactory(
        user__name="Rohan Kapoor", rate_chat=RATE, rate_voice=RATE, rate_video=RATE
    )
    return client_user, expert


def start(people, channel="chat", *, accept=True) -> Consultation:
    client_user, expert = people
    consultation = services.start_consultation(
        client=client_user, consultant_id=expert.id, channel=channel
    )
    if accept:
        services.accept_consultation(consultation_id=consultation.id, actor=expert.user)
    return consultation


def tick(consultation, seconds: int) -> Consultation:
    """`seconds` of talk pass, then the billing tick runs (as Celery beat would)."""
    back = timedelta(seconds=seconds)
    row = Consultation.objects.get(id=consultation.id)
    assert row.started_at is not None and row.last_billed_at is not None  # it is active
    Consultation.objects.filter(id=row.id).update(
        started_at=row.started_at - back, last_billed_at=row.last_billed_at - back
    )
    services.bill_due_consultations()
    return Consultation.objects.get(id=consultation.id)


def room(page, live_site, consultation):
    page.goto(live_site.url_for(f"/consultations/{consultation.id}/"))
    return joined(page)


def joined(page):
    """The page's socket is in the consultation and the page up to date: what the server
    announces from now on reaches it."""
    expect(page.locator("[data-room][data-live=joined]")).to_be_attached(timeout=15_000)
    return page


def mine(page, body):
    return page.get_by_test_id("message").filter(has_text=body)


def remote_plays(page, testid="remote-video") -> None:
    """The other person's picture arrives and moves: videoWidth > 0 and currentTime advancing."""
    selector = f"[data-testid={testid}]"
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('{selector}');"
        " return v && v.videoWidth > 0 && v.currentTime > 0; }",
        timeout=CALL_TIMEOUT_MS,
    )
    before = page.evaluate(f"document.querySelector('{selector}').currentTime")
    page.wait_for_function(
        f"(t) => document.querySelector('{selector}').currentTime > t + 0.3",
        arg=before,
        timeout=10_000,
    )


# --- A chat from the profile to the review -------------------------------------------------------


def test_a_chat_consultation_from_start_to_review(live_site, page, new_page, sign_in, people):
    client_user, expert = people
    # The consultant waits on the dashboard, on a phone.
    theirs = new_page(expert.user, viewport={"width": 375, "height": 740})
    policed = {side: watch_policy(side) for side in (page, theirs)}
    theirs.goto(live_site.url_for("/dashboard/"))
    sign_in(page, client_user)
    page.goto(live_site.url_for(f"/consultants/{expert.id}/"))
    page.get_by_role("button", name="Start chat").click()
    expect(page.get_by_test_id("consultation-status")).to_have_text("pending")
    expect(page.get_by_role("button", name="Cancel request")).to_be_visible()
    expect(page.locator("[data-ring-left]")).to_have_text(re.compile(r"^00:[0-5]\d$"))
    consultation = Consultation.objects.get(client=client_user)

    # It rings there; Accept leads into the room.
    ringing = theirs.get_by_test_id("incoming-request")
    ringing.get_by_role("button", name="Accept").click()
    expect(theirs).to_have_url(live_site.url_for(f"/consultations/{consultation.id}/"))
    for side in (page, theirs):
        expect(side.get_by_test_id("consultation-status")).to_have_text("active")
        expect(side.get_by_test_id("peer-online")).to_have_text("online")

    # Messages both ways, by button and by Enter, with ticks up to "seen".
    page.get_by_label("Message").fill("Hello, I have a question about my lease.")
    page.get_by_role("button", name="Send").click()
    expect(mine(theirs, "Hello, I have a question about my lease.")).to_be_visible()
    expect(mine(page, "Hello, I have a question about my lease.")).to_have_attribute(
        "data-status", "seen"
    )
    theirs.get_by_label("Message").press_sequentially("Of course", delay=20)
    expect(page.get_by_test_id("typing")).to_be_visible()
    theirs.get_by_label("Message").press(" ")
    theirs.get_by_label("Message").press_sequentially("- tell me more.", delay=5)
    theirs.get_by_label("Message").press("Enter")
    expect(mine(page, "Of course - tell me more.")).to_be_visible()
    expect(page.get_by_test_id("typing")).to_be_hidden()
    expect(mine(theirs, "Of course - tell me more.")).to_have_attribute("data-status", "seen")
    expect(theirs.get_by_label("Message")).to_have_value("")

    # The meter moves on each tick, on both pages, to the database's figures.
    billed = tick(consultation, 42)
    wallet = wallet_for(user=client_user)
    for side in (page, theirs):
        expect(side.get_by_test_id("meter-seconds")).to_have_text(str(billed.billed_seconds))
        expect(side.get_by_test_id("meter-amount")).to_have_text(format_rupees(billed.total_amount))
    expect(page.get_by_test_id("balance")).to_have_text(format_rupees(wallet.balance))
    expect(page.get_by_test_id("available")).to_have_text(format_rupees(wallet.available))
    expect(page.get_by_test_id("time-left")).to_have_text(CLOCK)
    expect(page.locator("[data-meter]")).to_have_css("display", "flex")  # the room's CSS holds
    assert theirs.get_by_test_id("balance").count() == 0  # the client's wallet is theirs

    # A phone shows the room without sideways scrolling, the composer on screen.
    assert theirs.evaluate("document.documentElement.scrollWidth") <= 375
    expect(theirs.get_by_label("Message")).to_be_in_viewport()

    # The end, the receipt on both sides, the client's review.
    page.get_by_role("button", name="End consultation").click()
    for side in (page, theirs):
        expect(side.get_by_test_id("receipt")).to_be_visible()
        expect(side.get_by_test_id("consultation-status")).to_have_text("ended")
    ended = Consultation.objects.get(id=consultation.id)
    receipt = page.get_by_test_id("receipt")
    expect(receipt).to_contain_text("You ended the consultation.")
    expect(receipt).to_contain_text(format_rupees(ended.total_amount))
    expect(receipt).to_contain_text(format_rupees(wallet_for(user=client_user).balance))
    expect(theirs.get_by_test_id("receipt")).to_contain_text("Asha Verma ended the consultation.")
    expect(theirs.get_by_role("button", name="Submit review")).to_have_count(0)

    page.get_by_role("radiogroup", name="Rating").get_by_label("4").check()
    page.get_by_label("Comment").fill("Clear and kind.")
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("heading", name="Your review")).to_be_visible()
    expect(page.get_by_role("button", name="Submit review")).to_have_count(0)
    review = Review.objects.get(consultation=consultation)
    assert (review.rating, review.comment) == (4, "Clear and kind.")
    # The conversation stays readable under the receipt, each message once.
    expect(mine(page, "Hello, I have a question about my lease.")).to_have_count(1)
    # Nothing the dashboard, the profile or the room did broke the Content-Security-Policy.
    assert [violations(side, found) for side, found in policed.items()] == [[], []]


# --- The chat's finer points ---------------------------------------------------------------------


def test_older_messages_load_on_scroll_up_and_seen_waits_for_a_visible_tab(
    live_site, page, new_page, sign_in, people
):
    from chat.models import MessageStatus
    from chat.tests.factories import MessageFactory

    client_user, expert = people
    consultation = start(people)
    first = timezone.now() - timedelta(minutes=10)
    for n in range(45):
        at = first + timedelta(seconds=n)
        MessageFactory(
            consultation=consultation,
            body=f"Earlier note {n}",
            status=MessageStatus.SEEN,
            created_at=at,
            delivered_at=at,
            seen_at=at,
        )
    sign_in(page, client_user)
    room(page, live_site, consultation)
    # The consultant's tab is in the background (another tab in front) until it comes back.
    theirs = new_page(expert.user)
    theirs.add_init_script(
        """window.tabHidden = true;
        Object.defineProperty(Document.prototype, "visibilityState", {
            configurable: true, get: () => (window.tabHidden ? "hidden" : "visible") });"""
    )
    room(theirs, live_site, consultation)

    # The newest page first; scrolling up brings the older ones, in order, each once.
    expect(page.get_by_test_id("message")).to_have_count(30)
    page.locator("[data-chat-scroll]").evaluate("(s) => { s.scrollTop = 0; }")
    expect(page.get_by_test_id("message")).to_have_count(45)
    bodies = page.get_by_test_id("message").all_text_contents()
    assert bodies == [f"Earlier note {n}" for n in range(45)]
    expect(page.locator("[data-chat-start]")).to_be_visible()

    # Delivered as soon as their page has it; seen only once their tab is in front.
    page.get_by_label("Message").fill("Are you there?")
    page.get_by_label("Message").press("Enter")
    expect(mine(theirs, "Are you there?")).to_be_attached()
    expect(mine(page, "Are you there?")).to_have_attribute("data-status", "delivered")
    time.sleep(1)
    expect(mine(page, "Are you there?")).to_have_attribute("data-status", "delivered")
    theirs.evaluate(
        "() => { window.tabHidden = false; document.dispatchEvent(new Event('visibilitychange')); }"
    )
    expect(mine(page, "Are you there?")).to_have_attribute("data-status", "seen")

    # The time left counts down between ticks; the consultant reads what they earn.
    billed = tick(consultation, 60)
    expect(page.get_by_test_id("meter-seconds")).to_have_text(str(billed.billed_seconds))
    expect(theirs.locator("[data-earned]")).to_have_text(format_rupees(billed.consultant_amount))
    left = _seconds(page.get_by_test_id("time-left").text_content())
    expect(page.get_by_test_id("time-left")).not_to_have_text(clock_text(left))
    assert _seconds(page.get_by_test_id("time-left").text_content()) < left

    # The consultant closes their page: the client sees them go offline.
    expect(page.get_by_test_id("peer-online")).to_have_text("online")
    theirs.close()
    expect(page.get_by_test_id("peer-online")).to_have_text("offline")


def clock_text(seconds: int) -> str:
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


# --- A video call ---------------------------------------------------------------------------------


def test_a_video_call_plays_both_ways_and_the_end_stops_every_track(
    live_site, page, new_page, sign_in, people
):
    client_user, expert = people
    consultation = start(people, "video")
    sign_in(page, client_user)
    theirs = new_page(expert.user)
    policed = {side: watch_policy(side) for side in (page, theirs)}
    assets = []
    page.on(
        "response",
        lambda r: r.request.resource_type in ("stylesheet", "script") and assets.append(r),
    )
    room(page, live_site, consultation)
    room(theirs, live_site, consultation)
    for side in (page, theirs):
        remote_plays(side)
    # The heaviest page of the site (the client's side of a live video call, every module of
    # the room loaded) keeps to the pages' budget: CSS and JS under 100 KB uncompressed.
    weight = sum(len(response.body()) for response in assets)
    assert {a.url.rsplit("/", 1)[1] for a in assets} >= {"call.js", "recharge.js", "site.css"}
    assert weight < 100 * 1024, f"{weight} bytes of CSS and JS"
    # The consultant reloads mid-call: the call comes back on a fresh connection, both ways.
    theirs.reload()
    for side in (page, theirs):
        remote_plays(side)
        expect(side.get_by_test_id("local-video")).to_be_visible()
        expect(side.locator("[data-call-state]")).to_have_text("Connected")
        side.evaluate(
            """() => { window.tracksSeen = ['remote-video', 'local-video'].flatMap(
                (id) => document.querySelector(`[data-testid=${id}]`).srcObject.getTracks()); }"""
        )
    # Mute and camera switches act on one's own tracks.
    page.get_by_role("button", name="Mute").click()
    expect(page.get_by_role("button", name="Mute")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(
        "document.querySelector('[data-testid=local-video]').srcObject"
        ".getAudioTracks().every((t) => !t.enabled)"
    )
    page.get_by_role("button", name="Camera off").click()
    assert page.evaluate(
        "document.querySelector('[data-testid=local-video]').srcObject"
        ".getVideoTracks().every((t) => !t.enabled)"
    )
    expect(page.locator("[data-call-timer]")).not_to_have_text("00:00")

    theirs.get_by_role("button", name="End consultation").click()
    for side in (page, theirs):
        expect(side.get_by_test_id("receipt")).to_be_visible()
        side.wait_for_function(
            "() => window.tracksSeen.length >= 4"
            " && window.tracksSeen.every((t) => t.readyState === 'ended')"
        )
    expect(page.get_by_test_id("receipt")).to_contain_text("Rohan Kapoor ended the consultation.")
    # The call's media and the room's scripts kept to the Content-Security-Policy.
    assert [violations(side, found) for side, found in policed.items()] == [[], []]


def test_without_camera_or_microphone_the_room_says_so_and_the_chat_works(
    live_site, page, new_page, sign_in, people
):
    client_user, expert = people
    consultation = start(people, "video")
    page.context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException("blocked", "NotAllowedError"));"""
    )
    sign_in(page, client_user)
    room(page, live_site, consultation)
    theirs = room(new_page(expert.user), live_site, consultation)
    expect(page.locator("[data-call-error]")).to_contain_text(
        "Your browser blocked the camera and microphone"
    )
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    # The call still reaches them one way: the client sees the consultant.
    remote_plays(page)
    page.get_by_label("Message").fill("My camera is blocked, can we chat?")
    page.get_by_label("Message").press("Enter")
    expect(mine(theirs, "My camera is blocked, can we chat?")).to_be_visible()


# --- Money ----------------------------------------------------------------------------------------


def test_when_the_money_runs_out_both_are_warned_then_see_the_receipt(
    live_site, page, new_page, sign_in, people
):
    client_user, expert = people
    wallet = wallet_for(user=client_user)
    consultation = start(people)
    sign_in(page, client_user)
    room(page, live_site, consultation)
    theirs = room(new_page(expert.user), live_site, consultation)
    expect(page.locator("[data-low-balance]")).to_be_hidden()

    # ₹1,000 at ₹60 a minute lasts 1,000 s: after 900 s, less than two minutes are left.
    tick(consultation, 900)
    warning = page.locator("[data-low-balance]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Less than 2 minutes of talk time left")
    expect(warning.get_by_role("button", name="Recharge")).to_be_visible()
    expect(page.get_by_role("button", name="Recharge")).to_have_count(1)  # one at a time
    expect(page.get_by_test_id("time-left")).to_have_text(re.compile(r"^01:[0-4]\d$"))
    page.get_by_label("Message").fill("Still typing while warned")  # the warning blocks nothing
    page.get_by_label("Message").press("Enter")
    expect(mine(theirs, "Still typing while warned")).to_be_visible()
    assert theirs.locator("[data-low-balance]").count() == 0

    ended = tick(consultation, 200)
    assert ended.status == Status.FORCE_ENDED
    assert ended.end_reason == EndReason.INSUFFICIENT_BALANCE
    assert ended.total_amount == wallet.balance  # every paisa, never more
    for side in (page, theirs):
        expect(side.get_by_test_id("receipt")).to_be_visible()
        expect(side.get_by_test_id("consultation-status")).to_have_text("force_ended")
    expect(page.get_by_test_id("receipt")).to_contain_text("Your balance ran out")
    expect(page.get_by_test_id("receipt")).to_contain_text("₹0.00")
    expect(theirs.get_by_test_id("receipt")).to_contain_text("The client's balance ran out")


def test_a_recharge_in_the_room_keeps_the_call_going(live_site, page, new_page, sign_in, people):
    client_user, expert = people
    consultation = start(people, "voice")
    sign_in(page, client_user)
    room(page, live_site, consultation)
    theirs = room(new_page(expert.user), live_site, consultation)
    for side in (page, theirs):
        expect(side.locator("[data-call-state]")).to_have_text("Connected", timeout=CALL_TIMEOUT_MS)
    page.evaluate(
        """() => { window.heard = document.querySelector('[data-testid=remote-audio]')
            .srcObject.getAudioTracks()[0]; }"""
    )
    tick(consultation, 900)
    warned_balance = wallet_for(user=client_user).balance
    expect(page.locator("[data-low-balance]")).to_be_visible()
    left_before = page.get_by_test_id("time-left").text_content()
    page.get_by_role("button", name="Recharge").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Amount (₹)").fill("600")
    dialog.get_by_role("button", name="Pay").click()
    expect(dialog).to_be_hidden()

    wallet = wallet_for(user=client_user)
    assert wallet.balance == warned_balance + 60_000
    expect(page.get_by_test_id("balance")).to_have_text(format_rupees(wallet.balance))
    expect(page.locator("[data-nav-balance]")).to_have_text(format_rupees(wallet.balance))
    expect(page.locator("[data-low-balance]")).to_be_hidden()
    left_after = page.get_by_test_id("time-left").text_content()
    assert _seconds(left_after) >= _seconds(left_before) + 590  # ₹600 buys 600 s more
    # The call never dropped: the same track still plays, the consultation goes on.
    assert page.evaluate("window.heard.readyState") == "live"
    expect(page.locator("[data-call-state]")).to_have_text("Connected")
    assert tick(consultation, 60).status == Status.ACTIVE
    expect(page.get_by_test_id("consultation-status")).to_have_text("active")


def _seconds(clock: str) -> int:
    minutes, seconds = clock.split(":")[-2:]
    hours = int(clock.split(":")[0]) if clock.count(":") == 2 else 0
    return hours * 3600 + int(minutes) * 60 + int(seconds)


# --- The network drops --------------------------------------------------------------------------


def test_messages_typed_offline_arrive_once_and_the_meter_resumes(
    live_site, page, new_page, sign_in, people
):
    client_user, expert = people
    consultation = start(people)
    sign_in(page, client_user)
    room(page, live_site, consultation)
    theirs = room(new_page(expert.user), live_site, consultation)
    page.get_by_label("Message").fill("Before the tunnel")
    page.get_by_label("Message").press("Enter")
    expect(mine(theirs, "Before the tunnel")).to_be_visible()

    page.context.set_offline(True)
    expect(page.locator("[data-connection]")).to_contain_text("Reconnecting")
    for text in ("In the tunnel, one", "In the tunnel, two"):
        page.get_by_label("Message").fill(text)
        page.get_by_label("Message").press("Enter")
        expect(mine(page, text)).to_have_attribute("data-status", "queued")
    billed = tick(consultation, 30)  # billing goes on meanwhile
    time.sleep(0.5)
    expect(mine(theirs, "In the tunnel, one")).to_have_count(0)

    page.context.set_offline(False)
    for text in ("In the tunnel, one", "In the tunnel, two"):
        expect(mine(theirs, text)).to_have_count(1)
        expect(mine(page, text)).to_have_attribute("data-status", "seen")
    expect(page.get_by_test_id("meter-seconds")).to_have_text(str(billed.billed_seconds))
    billed = tick(consultation, 10)
    expect(page.get_by_test_id("meter-seconds")).to_have_text(str(billed.billed_seconds))

    # A reload finds the same conversation, each message once, in order.
    page.reload()
    bodies = page.get_by_test_id("message").all_text_contents()
    assert bodies == ["Before the tunnel", "In the tunnel, one", "In the tunnel, two"]
    expect(theirs.get_by_test_id("message")).to_have_count(3)
    assert Consultation.objects.get(id=consultation.id).messages.count() == 3


# --- Ringing ------------------------------------------------------------------------------------


def test_a_ring_nobody_answers_expires_on_both_pages(
    live_site, page, new_page, sign_in, people, settings
):
    settings.RING_TIMEOUT_SECONDS = 2
    client_user, expert = people
    consultation = start(people, accept=False)
    sign_in(page, client_user)
    room(page, live_site, consultation)
    theirs = room(new_page(expert.user), live_site, consultation)
    expect(page.get_by_test_id("consultation-status")).to_have_text("pending")
    expect(theirs.get_by_role("button", name="Accept")).to_be_visible()
    time.sleep(2.1)
    assert services.expire_stale_requests() == 1
    for side in (page, theirs):
        expect(side.get_by_test_id("consultation-status")).to_have_text("expired")
    expect(page.get_by_text("Rohan Kapoor did not answer in time")).to_be_visible()
    expect(theirs.get_by_role("button", name="Accept")).to_have_count(0)


def test_the_client_cancels_while_it_rings(live_site, page, new_page, sign_in, people):
    client_user, expert = people
    consultation = start(people, "voice", accept=False)
    sign_in(page, client_user)
    room(page, live_site, consultation)
    theirs = room(new_page(expert.user), live_site, consultation)
    page.get_by_role("button", name="Cancel request").click()
    for side in (page, theirs):
        expect(side.get_by_test_id("consultation-status")).to_have_text("cancelled")
    expect(page.get_by_text("You cancelled the request. You were not charged.")).to_be_visible()
    expect(theirs.get_by_text("Asha Verma cancelled the request")).to_be_visible()
    assert Consultation.objects.get(id=consultation.id).status == Status.CANCELLED


# --- Signed out -----------------------------------------------------------------------------------


def test_a_socket_closed_as_signed_out_comes_back_or_says_so(live_site, page, sign_in, people):
    from config.events import close_user_sockets

    client_user, _ = people
    consultation = start(people)
    sign_in(page, client_user)
    room(page, live_site, consultation)

    # Closed 4401 while the session is still good (a socket's own credential ran out): the page
    # connects again by itself and carries on.
    close_user_sockets(client_user.id)
    joined(page)
    page.get_by_label("Message").fill("Still here")
    page.get_by_label("Message").press("Enter")
    expect(mine(page, "Still here")).to_have_attribute("data-status", "sent")

    # A new password ends every session: the page says so, with the way back.
    from accounts.models import User

    again = User.objects.get(id=client_user.id)  # as the account page reads it
    again.set_password("a brand new passphrase 42")
    again.save()
    banner = page.locator("[data-connection]")
    expect(banner).to_contain_text("You were signed out.")
    expect(banner.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", re.compile(r"^/login/\?next=/consultations/")
    )
