"""`manage.py screenshots`: every page of the site at 1280 and 375 px, with the demo data.

Meant for a scratch SQLite database (`make screenshots` sets one up: migrate, `seed_demo`, then
this): it adds a little history through the services (finished consultations with reviews, a
ringing request, a pending payment), serves the site in this process (uvicorn in a thread),
signs the demo people in with real session cookies and saves full-page PNGs under
`docs/screenshots/` (`<page>-1280.png`, `<page>-375.png`).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

WIDTHS = (1280, 375)
DOMAIN = "demo.consult"


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
        self.shoot(url, pages, out_dir)

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
                                client_msg_id=f"00000000-0000-4000-8000-{n:04d}{len(body):08d}",
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
        return {
            "profile": profile("jyotish.rao").id,
            "consultation": Consultation.objects.filter(status=Status.ENDED).first().id,
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

    def shoot(self, url: str, pages, out_dir: Path) -> None:
        from web.testing import CHROMIUM, CHROMIUM_ARGS, session_cookie, start_playwright

        cookies = {}
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
            browser.close()
        finally:
            playwright.stop()
