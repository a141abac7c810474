"""`manage.py bench_slots`: how long a month of free slots takes for one consultant with 500
bookings (the target: under 20 ms), beside its anchor measured in the same run: the one query
the computation makes, alone. Everything it writes is rolled back."""

import random
import statistics
import time
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

TARGET_MS = 20.0


class _Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Times a month of free slots at N bookings (p50/p95, target 20 ms) and its query."

    def add_arguments(self, parser):
        parser.add_argument("--bookings", type=int, default=500)
        parser.add_argument("--runs", type=int, default=50)
        parser.add_argument("--days", type=int, default=31)

    def handle(self, *args, bookings: int, runs: int, days: int, **options):
        try:
            with transaction.atomic():
                self._run(bookings=bookings, runs=runs, days=days)
                raise _Rollback
        except _Rollback:
            pass

    def _run(self, *, bookings: int, runs: int, days: int) -> None:
        from accounts.models import Role, User
        from bookings.models import Booking, PaymentMethod, Schedule, SessionType, Status
        from bookings.slots import busy_ranges, free_slots
        from consultants.models import Category, ConsultantProfile

        tag = uuid.uuid4().hex[:8]
        client = User.objects.create(email=f"bench-client-{tag}@example.com", role=Role.CLIENT)
        user = User.objects.create(
            email=f"bench-consultant-{tag}@example.com", role=Role.CONSULTANT
        )
        category = Category.objects.order_by("id").first()
        profile = ConsultantProfile.objects.create(user=user, category=category, is_verified=True)
        schedule = Schedule.objects.create(
            consultant=profile,
            timezone="Asia/Kolkata",
            weekly=[{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)],
            min_notice_hours=0,
            horizon_days=365,
        )
        kind = SessionType.objects.create(
            consultant=profile, title="Bench", channel="chat", duration_minutes=30, price=10_000
        )
        now = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        halves = random.Random(7).sample(range(days * 48), min(bookings, days * 48))
        Booking.objects.bulk_create(
            Booking(
                client=client,
                consultant=profile,
                session_type=kind,
                title=kind.title,
                channel=kind.channel,
                duration_minutes=30,
                price=kind.price,
                commission_percent=20,
                start_at=now + timedelta(minutes=30 * half),
                end_at=now + timedelta(minutes=30 * half + 30),
                status=Status.CONFIRMED,
                payment_method=PaymentMethod.WALLET,
                created_at=now,
            )
            for half in halves
        )
        first = timezone.localdate(now)
        last = first + timedelta(days=days - 1)
        slot_ms, query_ms, count = [], [], 0
        for _ in range(runs):
            started = time.perf_counter()
            count = len(
                free_slots(schedule=schedule, duration_minutes=45, first=first, last=last, now=now)
            )
            slot_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            busy_ranges(profile.id, now - timedelta(days=1), now + timedelta(days=days + 1))
            query_ms.append((time.perf_counter() - started) * 1000)

        def p(values, q):
            return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]

        self.stdout.write(
            f"slots for {days} days at {len(halves)} bookings ({count} free 45-minute slots), "
            f"{runs} runs"
        )
        self.stdout.write(
            f"  free_slots: p50 {p(slot_ms, 50):.2f} ms, p95 {p(slot_ms, 95):.2f} ms "
            f"(target: under {TARGET_MS:.0f} ms)"
        )
        self.stdout.write(
            f"  anchor, its one query alone: p50 {p(query_ms, 50):.2f} ms, "
            f"p95 {p(query_ms, 95):.2f} ms"
        )
        verdict = "within" if p(slot_ms, 95) < TARGET_MS else "OVER"
        self.stdout.write(f"  p95 is {verdict} the target")
