"""`manage.py seed_demo_bookings` (run by `seed_demo`): session types and weekly hours for some
demo consultants, and a few bookings by the demo clients, made through the services (the money
moves as it would). Idempotent: a consultant who has session types is left alone."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from bookings import schedules, services
from bookings.models import Booking, SessionType
from bookings.slots import free_slots
from config import clock
from consultants.models import ConsultantProfile

DOMAIN = "demo.consult"
WEEKDAYS = range(0, 6)  # Monday to Saturday
# login -> (time zone, weekly hours, session types: (title, channel, minutes, price in paise))
OFFERS = {
    "coach.mehta": (
        "Asia/Kolkata",
        [("10:00", "13:00"), ("17:00", "21:00")],
        [
            ("Career review", "video", 45, 150_000),
            ("CV check", "chat", 30, 60_000),
        ],
    ),
    "jyotish.rao": (
        "Asia/Kolkata",
        [("18:00", "24:00")],
        [("Birth-chart reading", "voice", 60, 120_000)],
    ),
    "adv.kapoor": (
        "Asia/Kolkata",
        [("09:30", "12:30")],
        [("Tenancy consultation", "video", 30, 90_000)],
    ),
}
# (client login, consultant login, session title, days ahead)
BOOKINGS = [
    ("asha", "coach.mehta", "Career review", 2),
    ("rahul", "jyotish.rao", "Birth-chart reading", 3),
]


class Command(BaseCommand):
    help = "Demo session types, weekly hours and a few bookings (idempotent; DEBUG only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo_bookings runs only with DEBUG=1.")
        for login, (zone, hours, kinds) in OFFERS.items():
            profile = ConsultantProfile.objects.filter(user__email=f"{login}@{DOMAIN}").first()
            if profile is None or SessionType.objects.filter(consultant=profile).exists():
                continue
            with transaction.atomic():
                schedules.set_schedule(
                    consultant=profile,
                    values={
                        "timezone": zone,
                        "weekly": [
                            {"weekday": day, "start": start, "end": end}
                            for day in WEEKDAYS
                            for start, end in hours
                        ],
                        "min_notice_hours": 2,
                        "horizon_days": 60,
                    },
                )
                for title, channel, minutes, price in kinds:
                    schedules.create_session_type(
                        consultant=profile,
                        values={
                            "title": title,
                            "channel": channel,
                            "duration_minutes": minutes,
                            "price": price,
                        },
                    )
        made = 0
        for client_login, consultant_login, title, days in BOOKINGS:
            client = User.objects.filter(email=f"{client_login}@{DOMAIN}").first()
            kind = SessionType.objects.filter(
                consultant__user__email=f"{consultant_login}@{DOMAIN}", title=title
            ).first()
            if client is None or kind is None:
                continue
            if Booking.objects.filter(client=client, session_type=kind).exists():
                continue
            now = clock.now()
            day = (now + timedelta(days=days)).date()
            found = free_slots(
                schedule=kind.consultant.schedule,
                duration_minutes=kind.duration_minutes,
                first=day,
                last=day + timedelta(days=6),
                now=now,
            )
            if not found:
                continue
            services.book(
                client=client,
                session_type_id=kind.id,
                start_at=found[0].start_at,
                payment_method="wallet",
                goals="Demo booking.",
            )
            made += 1
        self.stdout.write(f"Demo bookings: session types and hours set, {made} booking(s) made.")
