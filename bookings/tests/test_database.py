"""The database's own rules for bookings (PostgreSQL: the exclusion constraint)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import ClientFactory
from bookings.tests.factories import SessionTypeFactory, booking_row

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="an exclusion constraint")
def test_two_holding_bookings_of_one_consultant_never_overlap():
    kind = SessionTypeFactory(duration_minutes=60)
    client = ClientFactory()
    booking_row(kind, client=client, start_at=START)
    with pytest.raises(IntegrityError, match="booking_no_overlap_per_consultant"):
        with transaction.atomic():
            booking_row(kind, client=client, start_at=START + timedelta(minutes=30))
    # Back to back is fine, and so is an overlap with a cancelled or expired one.
    booking_row(kind, client=client, start_at=START + timedelta(hours=1))
    booking_row(kind, client=client, start_at=START + timedelta(minutes=30), status="cancelled")
    booking_row(kind, client=client, start_at=START, status="expired")
    # Another consultant's time is their own.
    booking_row(SessionTypeFactory(), client=client, start_at=START)


def test_a_booking_ends_after_it_starts_and_refunds_at_most_its_price():
    kind = SessionTypeFactory()
    client = ClientFactory()
    row = booking_row(kind, client=client, start_at=START)
    with pytest.raises(IntegrityError, match="booking_refund_within_price"):
        with transaction.atomic():
            type(row).objects.filter(id=row.id).update(refund_amount=row.price + 1)
