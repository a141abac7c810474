"""`manage.py screenshots`: every page of the site at 1280 and 375 px, with the demo data.

Meant for a scratch SQLite database (`make screenshots` sets one up: migrate, `seed_demo`, then
this): it adds a little history through the services (finished consultations with reviews, a
ringing request, a pending payment), serves the site in this process (uvicorn in a thread),
signs the demo people in with real session cookies and saves full-page PNGs under
`docs/screenshots/` (`<page>-1280.png`, `<page>-375.png`). `wallet-stripe` is the wallet in
Stripe mode with the Payment Element mounted, Stripe faked as the browser tests fake it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

WIDTHS = (1280, 375)
DOMAIN = "demo.consult"
# The consultation room, live between two people (RoomShots): ringing, a chat, its receipt and
# review form, a video call.
ROOMS = ("room-ring", "room-chat", "room-receipt", "room-video")


def user_exists(login: str) -> bool:
    from accounts.models import User

    return User.objects.filter(email=f"{login}@{DOMAIN}").exists()


def user(login: str):
    from accounts.models import User

    return User.objects.get(email=f"{login}@{DOMAIN}")


class Command(BaseCommand):
    help = "Screenshots of every page at 1280 and 375 px (docs/screenshots/)."

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "screenshots"))
        parser.add_argument("--only", default="", help="comma-separated page names")

    def handle(self, *args, out: str, only: str, **options):
        if not settings.DEBUG or not settings.EMBEDDED:
            raise CommandError("Run it on a scratch embedded site: `make screenshots`.")
        from accounts.models import User

        if not User.objects.filter(email=f"asha@{DOMAIN}").exists():
            raise CommandError("No demo data: run `manage.py seed_demo` first.")
        history = self.history()
        url = self.serve()
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        wanted = {name for name in only.split(",") if name}
        pages = [p for p in self.pages(history) if not wanted or p[0] in wanted]
        rooms = [r for r in ROOMS if not wanted or r in wanted]
        self.shoot(url, pages, out_dir, rooms, stripe=not wanted or "wallet-stripe" in wanted)

    # --- Demo history, through the services -----------------------------------------------------

    def history(self) -> dict:
        import time_machine

        from chat.services import send_message, socket_connected, socket_disconnected
        from consultants.models import ConsultantProfile
        from consultations.models import Consultation, Status
        from consultations.services import (
            accept_consultation,
            end_consultation,
            start_consultation,
        )
        from reviews.services import create_review
        from wallets.models import Payment, PaymentStatus
        from wallets.payments import create_recharge

        def profile(login):
            return ConsultantProfile.objects.get(user=user(login))

        done = Consultation.objects.filter(status=Status.ENDED).exists()
        past = [
            ("asha", "adv.kapoor", "chat", 14, 5, "Clear, practical advice on my rent dispute."),
            ("asha", "jyotish.rao", "voice", 22, 5, "Patient and precise. Highly recommended."),
            ("rahul", "adv.kapoor", "video", 9, 4, "Helpful; a little rushed at the end."),
            ("meera", "coach.mehta", "chat", 17, 5, "Gave me a 90-day plan I can follow."),
            ("rahul", "jyotish.rao", "chat", 6, 4, ""),
        ]
        if not done:
            start = timezone.now() - timedelta(days=3)
            for n, (client, expert, channel, minutes, stars, comment) in enumerate(past):
                at = start + timedelta(hours=5 * n)
                with time_machine.travel(at, tick=False) as clock:
                    c = start_consultation(
                        client=user(client), consultant_id=profile(expert).id, channel=channel
                    )
                    socket_connected(user_id=user(expert).id, socket_id=f"demo-{n}-c")
                    socket_connected(user_id=user(client).id, socket_id=f"demo-{n}-k")
                    clock.shift(timedelta(seconds=12))
                    accept_consultation(consultation_id=c.id, actor=user(expert))
                    if channel == "chat":
                        for sender, body in [
                            (client, "Hello, thank you for taking my question."),
                            (expert, "Of course. Tell me what happened."),
                        ]:
                            clock.shift(timedelta(seconds=20))
                            send_message(
                                session_id=c.id,
                                sender_id=user(sender).id,
                                client_msg_id=uuid.UUID(
                                    f"00000000-0000-4000-8000-{n:04d}{len(body):08d}"
                                ),
                                body=body,
                            )
                    clock.shift(timedelta(minutes=minutes, seconds=17))
                    end_consultation(consultation_id=c.id, actor=user(client))
                    socket_disconnected(user_id=user(expert).id, socket_id=f"demo-{n}-c")
                    socket_disconnected(user_id=user(client).id, socket_id=f"demo-{n}-k")
                    create_review(
                        client=user(client), consultation_id=c.id, rating=stars, comment=comment
                    )
        # A recharge waiting at the offline checkout.
        # A wallet an operator froze (its page says why).
        from wallets.freezes import freeze_wallet

        freeze_wallet(
            user=user("meera"),
            reason="Card payments disputed with the bank: under review",
            actor=user("admin") if user_exists("admin") else None,
        )
        payment = Payment.objects.filter(user=user("rahul"), status=PaymentStatus.CREATED).first()
        if payment is None:
            payment = create_recharge(user=user("rahul"), amount=100_000)
        # Bookings (seed_demo_bookings): Asha's session with the coach, the coach's offer.
        from bookings.models import Booking, SessionType

        booking = Booking.objects.filter(client=user("asha")).order_by("start_at").first()
        offer = SessionType.objects.filter(consultant=profile("coach.mehta"), is_active=True)
        return {
            "booking": booking.id if booking else None,
            "session_type": offer.order_by("-price").values_list("id", flat=True).first(),
            "profile": profile("jyotish.rao").id,
            "consultation": Consultation.objects.filter(status=Status.ENDED)
            .values_list("id", flat=True)
            .first(),
            "payment": payment.id,
        }

    # --- Pages ------------------------------------------------------------------------------------

    def ring(self) -> None:
        """A fresh request ringing on Rohan Kapoor's dashboard (a stale one is cancelled)."""
        from consultants.models import ConsultantProfile
        from consultations.models import Consultation, Status
        from consultations.services import cancel_consultation, start_consultation

        for stale in Consultation.objects.filter(status=Status.PENDING):
            cancel_consultation(consultation_id=stale.id, actor=stale.client)
        start_consultation(
            client=user("rahul"),
            consultant_id=ConsultantProfile.objects.get(user=user("adv.kapoor")).id,
            channel="voice",
        )

    def pages(self, history: dict) -> list[tuple[str, str, str | None]]:
        """(name, path, who is signed in)."""
        return [
            ("home", "/", None),
            ("discovery", "/consultants/?online=on", None),
            ("profile", f"/consultants/{history['profile']}/", "asha"),
            ("signup", "/signup/", None),
            ("login", "/login/", None),
            ("account", "/account/", "asha"),
            ("wallet", "/wallet/", "asha"),
            ("checkout", f"/wallet/checkout/{history['payment']}/", "rahul"),
            ("consultations", "/consultations/", "asha"),
            ("dashboard", "/dashboard/", "adv.kapoor"),
            ("dashboard-profile", "/dashboard/profile/", "jyotish.rao"),
            ("earnings", "/earnings/", "jyotish.rao"),
            ("not-found", "/no-such-page/", None),
            # Bookings
            ("book-new", f"/bookings/new/?session_type={history['session_type']}", "asha"),
            ("booking", f"/bookings/{history['booking']}/", "asha"),
            ("booking-consultant", f"/bookings/{history['booking']}/", "coach.mehta"),
            ("dashboard-bookings", "/dashboard/bookings/", "coach.mehta"),
            ("wallet-frozen", "/wallet/", "meera"),
            # In Hindi (a name ending in -hi: the language switcher's cookie is set)
            ("home-hi", "/", None),
            ("profile-hi", f"/consultants/{history['profile']}/", "asha"),
            ("wallet-hi", "/wallet/", "asha"),
            ("account-hi", "/account/", "asha"),
            ("dashboard-hi", "/dashboard/", "adv.kapoor"),
        ]

    def serve(self) -> str:
        import socket

        import uvicorn

        from config.asgi import application

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    def shoot(self, url: str, pages, out_dir: Path, rooms=(), *, stripe: bool = False) -> None:
        from web.testing import CHROMIUM, CHROMIUM_ARGS, session_cookie, start_playwright

        cookies = {"asha": session_cookie(user("asha"), url)}
        for _name, _path, who in pages:
            if who and who not in cookies:
                cookies[who] = session_cookie(user(who), url)
        playwright = start_playwright()
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path, who in pages:
                if name.startswith("dashboard") and name != "dashboard-profile":
                    self.ring()
                hindi = name.endswith("-hi")
                for width in WIDTHS:
                    context = browser.new_context(
                        viewport={"width": width, "height": 900 if width > 500 else 812},
                        locale="hi-IN" if hindi else "en-IN",
                        timezone_id="Asia/Kolkata",
                        device_scale_factor=1,
                    )
                    if who:
                        context.add_cookies([cookies[who]])
                    if hindi:
                        context.add_cookies(
                            [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "hi", "url": url}]
                        )
                    page = context.new_page()
                    # The site's own 404 page, not Django's DEBUG one.
                    settings.DEBUG = name != "not-found"
                    page.goto(url + path, wait_until="networkidle")
                    settings.DEBUG = True
                    target = out_dir / f"{name}-{width}.png"
                    page.screenshot(path=str(target), full_page=True)
                    context.close()
                    self.stdout.write(f"{target}")
            if stripe:
                self.stripe_wallet(browser, url, out_dir, cookies["asha"])
            if rooms:
                RoomShots(browser, url, out_dir, self.stdout).take(rooms)
            browser.close()
        finally:
            playwright.stop()

    def stripe_wallet(self, browser, url: str, out_dir: Path, cookie) -> None:
        """`wallet-stripe`: the wallet with PAYMENT_GATEWAY=stripe, ₹500 typed and Recharge
        pressed, Stripe's Payment Element mounted. Stripe cannot be reached from here: its API
        is answered with `responses` and Stripe.js is the browser tests' fake (a route)."""
        import itertools

        import responses

        from wallets.tests.stripe_fakes import API, intent, serve_stripe_js, use_stripe

        numbers = itertools.count(1)

        def new_intent(request):
            made = intent(f"pi_demo_{timezone.now():%H%M%S}_{next(numbers)}", 50_000)
            return 200, {}, json.dumps(made)

        saved = {
            name: getattr(settings, name)
            for name in (
                "PAYMENT_GATEWAY",
                "STRIPE_SECRET_KEY",
                "STRIPE_PUBLISHABLE_KEY",
                "STRIPE_WEBHOOK_SECRET",
            )
        }
        use_stripe(settings)
        try:
            with responses.RequestsMock(assert_all_requests_are_fired=False) as stripe_api:
                stripe_api.add_callback(responses.POST, f"{API}/payment_intents", new_intent)
                for width in WIDTHS:
                    context = browser.new_context(
                        viewport={"width": width, "height": 900 if width > 500 else 812},
                        locale="en-IN",
                        timezone_id="Asia/Kolkata",
                        device_scale_factor=1,
                    )
                    context.add_cookies([cookie])
                    page = context.new_page()
                    serve_stripe_js(page, stripe_api)
                    page.goto(url + "/wallet/", wait_until="networkidle")
                    page.get_by_label("Amount (₹)").fill("500")
                    page.get_by_role("button", name="Recharge").click()
                    page.get_by_test_id("fake-payment-element").wait_for()
                    target = out_dir / f"wallet-stripe-{width}.png"
                    page.screenshot(path=str(target), full_page=True)
                    context.close()
                    self.stdout.write(f"{target}")
        finally:
            for name, value in saved.items():
                setattr(settings, name, value)


class RoomShots:
    """The consultation room as two people live it: the client (Asha) and Pandit Suresh Rao,
    each in a browser context of their own, the call on Chromium's fake camera. Billing is
    moved on by the tick service with the consultation's clock set back (no waiting)."""

    CHAT = [
        ("client", "Namaste Panditji. I have an offer for a new job in Pune; is this a good time?"),
        ("expert", "Namaste Asha. Share your date, time and place of birth, and I will look."),
        ("client", "12 March 1994, 6:40 am, Nagpur."),
        (
            "expert",
            "Thank you. Jupiter moves into your tenth house this autumn: a good time for a "
            "change of work. Let me check the dates for you.",
        ),
    ]

    def __init__(self, browser, url: str, out_dir: Path, stdout):
        self.browser = browser
        self.url = url
        self.out_dir = out_dir
        self.stdout = stdout

    def take(self, rooms) -> None:
        from consultants.models import ConsultantProfile

        self.expert = ConsultantProfile.objects.get(user=user("jyotish.rao"))
        for width in WIDTHS:
            if {"room-ring", "room-chat", "room-receipt"} & set(rooms):
                self.chat(width, rooms)
            if "room-video" in rooms:
                self.video(width)

    def pages(self, consultation, width: int):
        from web.testing import session_cookie

        pages = []
        for person in (user("asha"), user("jyotish.rao")):
            context = self.browser.new_context(
                viewport={"width": width, "height": 900 if width > 500 else 812},
                locale="en-IN",
                timezone_id="Asia/Kolkata",
                device_scale_factor=1,
            )
            context.add_cookies([session_cookie(person, self.url)])
            page = context.new_page()
            page.goto(f"{self.url}/consultations/{consultation.id}/", wait_until="networkidle")
            pages.append(page)
        return pages

    def open(self, channel: str):
        from django.db.models import Q

        from consultations.models import OPEN_STATUSES, Consultation
        from consultations.services import (
            cancel_consultation,
            end_consultation,
            start_consultation,
        )

        open_ones = Consultation.objects.filter(
            Q(client=user("asha")) | Q(consultant=self.expert), status__in=OPEN_STATUSES
        )
        for stale in open_ones:
            if stale.status == "pending":
                cancel_consultation(consultation_id=stale.id, actor=stale.client)
            else:
                end_consultation(consultation_id=stale.id, actor=stale.client)
        return start_consultation(
            client=user("asha"), consultant_id=self.expert.id, channel=channel
        )

    def talk(self, consultation, seconds: int) -> None:
        from consultations.models import Consultation
        from consultations.services import bill_due_consultations

        back = timedelta(seconds=seconds)
        row = Consultation.objects.get(id=consultation.id)
        assert row.started_at is not None and row.last_billed_at is not None  # it is active
        Consultation.objects.filter(id=row.id).update(
            started_at=row.started_at - back, last_billed_at=row.last_billed_at - back
        )
        bill_due_consultations()

    def save(self, page, name: str, width: int) -> None:
        page.wait_for_timeout(400)
        target = self.out_dir / f"{name}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
        self.stdout.write(f"{target}")

    def chat(self, width: int, rooms) -> None:
        consultation = self.open("chat")
        client, expert = self.pages(consultation, width)
        if "room-ring" in rooms:
            self.save(client, "room-ring", width)
        expert.get_by_role("button", name="Accept").click()
        client.get_by_test_id("consultation-status").filter(has_text="active").wait_for(
            state="attached"
        )
        for who, text in self.CHAT:
            page = client if who == "client" else expert
            page.get_by_label("Message").fill(text)
            page.get_by_label("Message").press("Enter")
            page.wait_for_timeout(250)
        client.get_by_test_id("message").last.wait_for()
        expert.get_by_label("Message").press_sequentially("The best window", delay=15)
        self.talk(consultation, 6 * 60 + 23)
        if "room-chat" in rooms:
            self.save(client, "room-chat", width)
        client.get_by_role("button", name="End consultation").click()
        client.get_by_test_id("receipt").wait_for()
        client.evaluate("window.scrollTo(0, 0)")
        if "room-receipt" in rooms:
            self.save(client, "room-receipt", width)
        for page in (client, expert):
            page.context.close()

    def video(self, width: int) -> None:
        from consultations.services import accept_consultation

        consultation = self.open("video")
        accept_consultation(consultation_id=consultation.id, actor=user("jyotish.rao"))
        client, expert = self.pages(consultation, width)
        client.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=remote-video]');"
            " return v && v.videoWidth > 0 && v.currentTime > 1; }",
            timeout=30_000,
        )
        client.get_by_label("Message").fill("Can you see the chart I am holding up?")
        client.get_by_label("Message").press("Enter")
        self.talk(consultation, 4 * 60 + 8)
        client.wait_for_timeout(1500)
        self.save(client, "room-video", width)
        client.get_by_role("button", name="End consultation").click()
        client.get_by_test_id("receipt").wait_for()
        for page in (client, expert):
            page.context.close()
