"""`manage.py seed_demo`: a living platform for a first look, loaded through the services.

Categories come from their migration; this adds an admin, consultants across categories (some
verified and online), and clients whose wallets are funded by real recharges through the
configured (local) gateway, so the ledger holds every rupee. Running it again changes nothing.
"""

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Role, User
from accounts.services import register_user
from consultants.models import Category, ConsultantProfile
from consultants.services import decide_verification, set_availability, update_profile
from wallets.models import Payment, PaymentStatus
from wallets.payments import capture_payment, create_recharge

PASSWORD = "demo-pass-123"
DOMAIN = "demo.consult"

ADMIN = ("admin", "Priya Operator")

CLIENTS = [
    ("asha", "Asha Verma", 500_000),  # Rs 5,000
    ("rahul", "Rahul Nair", 200_000),
    ("meera", "Meera Iyer", 50_000),
]

# (login, name, category, bio, specializations, languages, years, rates, verified, online)
CONSULTANTS = [
    (
        "adv.kapoor",
        "Adv. Rohan Kapoor",
        "legal",
        "Property and tenancy disputes, 15 years at the Delhi High Court.",
        ["property law", "tenancy"],
        ["English", "Hindi"],
        15,
        {"chat": 3000, "voice": 5000, "video": 8000},
        True,
        True,
    ),
    (
        "adv.sen",
        "Adv. Ishita Sen",
        "legal",
        "Family law and mediation; calm, practical advice.",
        ["family law", "divorce", "mediation"],
        ["English", "Bengali"],
        9,
        {"chat": 2500, "voice": 4000},
        True,
        False,
    ),
    (
        "jyotish.rao",
        "Pandit Suresh Rao",
        "astrology",
        "Vedic astrology, kundli matching and muhurat.",
        ["vedic astrology", "kundli"],
        ["Hindi", "Telugu", "English"],
        22,
        {"chat": 1500, "voice": 2500, "video": 4000},
        True,
        True,
    ),
    (
        "tarot.anya",
        "Anya D'Souza",
        "astrology",
        "Tarot readings for career and relationships.",
        ["tarot", "numerology"],
        ["English", "Konkani"],
        6,
        {"chat": 1000, "voice": 1800},
        True,
        True,
    ),
    (
        "coach.mehta",
        "Karan Mehta",
        "coaching",
        "Career coach for engineers moving into management.",
        ["career", "leadership"],
        ["English", "Hindi"],
        11,
        {"chat": 2000, "video": 6000},
        True,
        True,
    ),
    (
        "coach.fit",
        "Neha Gill",
        "coaching",
        "Fitness and habit coaching, plans you can keep.",
        ["fitness", "habits"],
        ["English", "Punjabi"],
        7,
        {"chat": 1200, "voice": 2000, "video": 3000},
        True,
        False,
    ),
    (
        "dr.pillai",
        "Dr. Anil Pillai",
        "health",
        "General physician; second opinions and lab reports explained.",
        ["general medicine", "diabetes"],
        ["English", "Malayalam", "Tamil"],
        18,
        {"chat": 4000, "voice": 6000, "video": 9000},
        True,
        True,
    ),
    (
        "diet.rhea",
        "Rhea Kulkarni",
        "health",
        "Clinical dietitian: PCOS, thyroid and weight management.",
        ["nutrition", "pcos"],
        ["English", "Marathi", "Hindi"],
        8,
        {"chat": 1500, "video": 3500},
        True,
        False,
    ),
    (
        "ca.agarwal",
        "CA Vikram Agarwal",
        "finance",
        "Chartered accountant: income tax, GST and small business books.",
        ["income tax", "gst"],
        ["English", "Hindi"],
        13,
        {"chat": 2500, "voice": 4500},
        True,
        True,
    ),
    (
        "fin.joseph",
        "Maria Joseph",
        "finance",
        "SEBI-registered adviser for personal investing.",
        ["mutual funds", "retirement"],
        ["English", "Malayalam"],
        10,
        {"chat": 3000, "voice": 5000, "video": 7000},
        True,
        False,
    ),
    (
        "new.lawyer",
        "Adv. Tanvi Shah",
        "legal",
        "Consumer protection and cheque bounce cases (awaiting verification).",
        ["consumer law"],
        ["English", "Gujarati"],
        3,
        {"chat": 800},
        False,
        False,
    ),
    (
        "new.coach",
        "Arjun Das",
        "coaching",
        "Public speaking coach (awaiting verification).",
        ["public speaking"],
        ["English", "Assamese"],
        2,
        {"voice": 1500, "video": 2500},
        False,
        False,
    ),
]


def email(login: str) -> str:
    return f"{login}@{DOMAIN}"


class Command(BaseCommand):
    help = "Load demo users, consultants and funded wallets (idempotent)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            # It makes an admin whose password is in the README: never on a real deployment.
            raise CommandError(
                "seed_demo makes an admin with a known password: it runs only with DEBUG=1."
            )
        if not Category.objects.exists():
            raise CommandError("No categories: run `manage.py migrate` first.")
        admin = self._admin()
        for login, name, balance in CLIENTS:
            client = self._user(login, name, Role.CLIENT)
            self._fund(client, balance)
        for row in CONSULTANTS:
            self._consultant(admin, *row)
        if apps.is_installed("bookings"):
            # Session types, hours and a few bookings (by name: this app sits below bookings).
            call_command("seed_demo_bookings", stdout=self.stdout)
        self._print()

    def _admin(self) -> User:
        login, name = ADMIN
        admin = User.objects.filter(email=email(login)).first()
        if admin is None:
            admin = User.objects.create_superuser(email=email(login), password=PASSWORD, name=name)
        return admin

    def _user(self, login: str, name: str, role: str, category: str | None = None) -> User:
        user = User.objects.filter(email=email(login)).first()
        if user is None:
            user = register_user(
                email=email(login), password=PASSWORD, name=name, role=role, category=category
            )
        return user

    def _fund(self, user: User, amount: int) -> None:
        """A real recharge through the configured gateway, once per demo client."""
        if Payment.objects.filter(user=user, status=PaymentStatus.CAPTURED).exists():
            return
        payment = create_recharge(user=user, amount=amount)
        capture_payment(payment=payment, gateway_payment_id=f"pay_demo{payment.id.hex[:14]}")

    @transaction.atomic
    def _consultant(
        self, admin, login, name, category, bio, specs, langs, years, rates, verified, online
    ) -> None:
        user = self._user(login, name, Role.CONSULTANT, category)
        profile = ConsultantProfile.objects.get(user=user)
        if profile.bio:
            return  # loaded before
        profile = update_profile(
            profile=profile,
            changes={
                "category": Category.objects.get(slug=category),
                "bio": bio,
                "specializations": specs,
                "languages": langs,
                "experience_years": years,
                "rates": rates,
            },
        )
        if verified:
            profile = decide_verification(
                profile=profile,
                decided_by=admin,
                is_verified=True,
                reason="Demo data",
                via="seed",
            )
        if online:
            set_availability(profile=profile, is_online=True)

    def _print(self) -> None:
        self.stdout.write(f"Demo data ready. Every password is {PASSWORD!r}.")
        self.stdout.write(f"  admin       {email(ADMIN[0])}")
        for login, _, balance in CLIENTS:
            self.stdout.write(f"  client      {email(login)}  (recharged Rs {balance // 100:,})")
        for login, name, category, *_, verified, online in CONSULTANTS:
            state = ("verified" if verified else "unverified") + (", online" if online else "")
            self.stdout.write(f"  consultant  {email(login)}  {category}: {name} ({state})")
