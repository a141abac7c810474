"""`manage.py bench_discovery`: how fast is discovery with 10,000 consultants?

Seeds N consultants (default 10,000: varied categories, languages, specializations, rates,
ratings; most verified, some online) inside one transaction, runs typical filtered list
requests through the real view (validation, query, keyset pagination, serialization and JSON
rendering of one 20-row page; throttling off), prints p50/p95/max per request and overall, and
rolls everything back: the database is left as it was.

Meant for PostgreSQL (the target: p95 under 50 ms); it runs on SQLite too, for comparison.
"""

import os
import random
import statistics
import time
import uuid
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from rest_framework.test import APIRequestFactory

from accounts.models import Role, User
from consultants.api import ConsultantListView
from consultants.models import Category, ConsultantProfile
from consultants.views import discovery

FIRST = "Aarav Vivaan Aditya Ananya Diya Ishaan Kavya Meera Rohan Saanvi Arjun Priya Kabir Nisha"
LAST = "Sharma Iyer Rao Nair Gupta Reddy Menon Das Khan Singh Patel Joshi Bose Kulkarni Mehta"
LANGUAGES = ["Hindi", "English", "Tamil", "Telugu", "Bengali", "Marathi", "Kannada", "Gujarati"]
SPECIALIZATIONS = {
    "legal": ["Divorce", "Property", "Criminal", "Corporate", "Tax", "Cyber law", "Labour"],
    "astrology": ["Vedic", "Tarot", "Numerology", "Vastu", "Palmistry", "Kundli matching"],
    "coaching": ["Career", "Leadership", "Interview", "Relationships", "Fitness", "Study"],
    "health": ["Nutrition", "Mental health", "Ayurveda", "Yoga", "Paediatrics", "Dermatology"],
    "finance": ["Tax", "Investments", "Insurance", "Retirement", "Loans", "Budgeting"],
}
BIOS = [
    "Practising for {y} years; I explain options plainly and follow up in writing.",
    "Former {s} specialist at a national firm, now consulting independently.",
    "I help people with {s} questions, calmly and without jargon.",
    "{y} years of experience, thousands of sessions, focused on {s}.",
]

QUERIES = [
    ("default (-rating)", {}),
    ("category + online", {"category": "legal", "online": "true"}),
    ("language + rate order", {"language": "hindi", "ordering": "rate_per_minute"}),
    ("channel + max_rate", {"channel": "video", "max_rate": "5000", "ordering": "rate_per_minute"}),
    ("search", {"search": "divorce"}),
    ("min_rating + experience", {"min_rating": "4", "ordering": "-experience_years"}),
    ("category + specialization", {"category": "finance", "specialization": "tax"}),
    ("online + language + search", {"online": "true", "language": "tamil", "search": "career"}),
]


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Seeds N consultants in a rolled-back transaction and times discovery requests."

    def add_arguments(self, parser):
        parser.add_argument("--consultants", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=50, help="timed runs per query")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, consultants: int, runs: int, seed: int, **options):
        rng = random.Random(seed)
        try:
            with transaction.atomic():
                started = time.perf_counter()
                self._seed(rng, consultants)
                seeded = time.perf_counter() - started
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("ANALYZE accounts_user")
                        cursor.execute("ANALYZE consultants_consultantprofile")
                self.stdout.write(
                    f"{connection.vendor}: seeded {consultants} consultants in {seeded:.1f} s "
                    f"({ConsultantProfile.objects.filter(is_verified=True).count()} verified); "
                    f"{runs} runs per query, page of 20\n"
                )
                self._bench(runs)
                raise Rollback
        except Rollback:
            self.stdout.write("rolled back: nothing was kept")

    def _seed(self, rng: random.Random, count: int) -> None:
        categories = {c.slug: c for c in Category.objects.filter(slug__in=SPECIALIZATIONS)}
        first, last = FIRST.split(), LAST.split()
        users, profiles = [], []
        for i in range(count):
            user = User(
                id=uuid.uuid4(),
                email=f"bench-{i}-{uuid.uuid4().hex[:8]}@bench.invalid",
                name=f"{rng.choice(first)} {rng.choice(last)}",
                role=Role.CONSULTANT,
                password="!",  # unusable: no hashing cost
            )
            users.append(user)
            slug = rng.choice(list(categories))
            specs = rng.sample(SPECIALIZATIONS[slug], rng.randint(1, 3))
            years = rng.randint(0, 35)
            verified = rng.random() < 0.85
            rates = {
                channel: (rng.randrange(500, 20_000, 100) if rng.random() < offered else None)
                for channel, offered in (("chat", 0.9), ("voice", 0.7), ("video", 0.4))
            }
            count_reviews = rng.randint(0, 500)
            profile = ConsultantProfile(
                user=user,
                category=categories[slug],
                bio=rng.choice(BIOS).format(y=years, s=specs[0].lower()),
                specializations=specs,
                languages=rng.sample(LANGUAGES, rng.randint(1, 3)),
                experience_years=years,
                rate_chat=rates["chat"],
                rate_voice=rates["voice"],
                rate_video=rates["video"],
                is_verified=verified,
                is_online=verified and rng.random() < 0.3,
                rating=Decimal(rng.randint(250, 500)) / 100 if count_reviews else Decimal(0),
                rating_count=count_reviews,
                total_sessions=count_reviews * rng.randint(1, 4),
            )
            profile.refresh_derived_fields()  # bulk_create skips save()
            profiles.append(profile)
        User.objects.bulk_create(users, batch_size=2000)
        ConsultantProfile.objects.bulk_create(profiles, batch_size=2000)

    def _bench(self, runs: int) -> None:
        from django.contrib.auth.models import AnonymousUser
        from django.test import RequestFactory

        view = ConsultantListView.as_view(throttle_classes=[])
        factory = APIRequestFactory()
        page_factory = RequestFactory()

        def page(params: dict) -> tuple[float, int]:
            request = page_factory.get("/consultants/", params)
            request.user = AnonymousUser()
            start = time.perf_counter()
            response = discovery(request)
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.content[:300]
            return elapsed, response.content.count(b'data-testid="consultant-card"')

        def call(params: dict) -> tuple[float, dict]:
            request = factory.get("/api/v1/consultants", params)
            start = time.perf_counter()
            response = view(request)
            response.render()
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.content[:300]
            return elapsed, response.data

        # A deep page: follow `next` ten times, then time that page.
        _, data = call({})
        for _ in range(10):
            data = call({"cursor": data["next"].split("cursor=")[1]})[1]
        queries = [*QUERIES, ("page 11 (cursor)", {"cursor": data["next"].split("cursor=")[1]})]

        header = (
            f"{'query':<30} {'rows':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
            f" | {'page p50':>8} {'page p95':>8} {'page max':>8}"
        )
        self.stdout.write(header)
        everything: list[float] = []
        pages: list[float] = []
        for label, params in queries:
            for _ in range(3):
                call(params)  # warm-up
                page(params)
            timings, page_timings = [], []
            for _ in range(runs):
                elapsed, data = call(params)
                timings.append(elapsed)
                elapsed, cards = page(params)
                page_timings.append(elapsed)
            everything += timings
            pages += page_timings
            p50, p95 = _percentile(timings, 50), _percentile(timings, 95)
            rows = len(data["results"])
            assert cards == rows, (label, cards, rows)  # the page shows what the API lists
            self.stdout.write(
                f"{label:<30} {rows:>4} {p50:>8.2f} {p95:>8.2f} {max(timings):>8.2f}"
                f" | {_percentile(page_timings, 50):>8.2f} {_percentile(page_timings, 95):>8.2f}"
                f" {max(page_timings):>8.2f}"
            )
        p50, p95 = _percentile(everything, 50), _percentile(everything, 95)
        page_p50, page_p95 = _percentile(pages, 50), _percentile(pages, 95)
        verdict = "OK" if p95 < 50 else "OVER TARGET"
        page_verdict = "OK" if page_p95 < 50 else "OVER TARGET"
        self.stdout.write(
            f"{'all queries':<30} {'':>4} {p50:>8.2f} {p95:>8.2f} {max(everything):>8.2f}"
            f" | {page_p50:>8.2f} {page_p95:>8.2f} {max(pages):>8.2f}"
        )
        self.stdout.write(
            f"API  p95 {p95:.2f} ms (target p95 < 50 ms: {verdict}); "
            f"page p95 {page_p95:.2f} ms (target p95 < 50 ms: {page_verdict})"
        )
        self.stdout.write(
            f"mean {statistics.mean(everything):.2f} ms (API), "
            f"{statistics.mean(pages):.2f} ms (page) over {len(everything)} each"
        )
        # Timings are wall-clock: on a shared machine they carry everyone else's load.
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        self.stdout.write(f"load average {load} on {os.cpu_count()} CPUs")


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]
