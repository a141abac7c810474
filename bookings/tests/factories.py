"""Bookings test data: session types and schedules as a consultant would set them."""

import factory

from bookings.models import Schedule, SessionType
from consultants.tests.factories import VerifiedConsultantFactory


class SessionTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SessionType

    consultant = factory.SubFactory(VerifiedConsultantFactory)
    title = "Career review"
    description = "A look at your CV and your next step."
    channel = "chat"
    duration_minutes = 45
    price = 150_000


def every_day(start: str = "09:00", end: str = "17:00") -> list[dict]:
    return [{"weekday": day, "start": start, "end": end} for day in range(7)]


class ScheduleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Schedule

    consultant = factory.SubFactory(VerifiedConsultantFactory)
    timezone = "Asia/Kolkata"
    weekly = factory.LazyFunction(every_day)
    unavailable_dates = factory.LazyFunction(list)
    min_notice_hours = 2
    horizon_days = 30


def booking_row(session_type: SessionType, *, client, start_at, status="confirmed", **more):
    """A booking row written directly (no money moved): for tests of the slots and the
    database's own rules only."""
    from datetime import timedelta

    from bookings.models import Booking

    return Booking.objects.create(
        client=client,
        consultant=session_type.consultant,
        session_type=session_type,
        title=session_type.title,
        channel=session_type.channel,
        duration_minutes=session_type.duration_minutes,
        price=session_type.price,
        commission_percent=20,
        start_at=start_at,
        end_at=start_at + timedelta(minutes=session_type.duration_minutes),
        status=status,
        payment_method="wallet",
        created_at=start_at - timedelta(days=1),
        **more,
    )
