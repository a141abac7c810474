"""Fixtures of the bookings tests: a consultant selling a 45-minute session (Rs 1,500) every day
09:00-17:00 in Kolkata, a funded client, and a clock stopped on a Monday morning."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.tests.factories import ClientFactory, sign_in
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
from consultants.tests.factories import OnlineConsultantFactory
from wallets.tests.factories import fund

# Monday 2 March 2026, 08:00 in Kolkata (02:30 UTC).
NOW = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
# Tuesday 3 March 2026, 10:00 in Kolkata: a free slot 27.5 hours ahead.
SLOT = datetime(2026, 3, 3, 4, 30, tzinfo=UTC)
PRICE = 150_000


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def consultant(db):
    profile = OnlineConsultantFactory()
    ScheduleFactory(consultant=profile, min_notice_hours=2, horizon_days=30)
    return profile


@pytest.fixture
def session_type(consultant):
    return SessionTypeFactory(consultant=consultant, duration_minutes=45, price=PRICE)


@pytest.fixture
def client_user(db):
    user = ClientFactory()
    fund(user, 500_000)
    return user


@pytest.fixture
def as_client(api, client_user, clock):
    return sign_in(api, client_user)


@pytest.fixture
def emails_eager(settings):
    """Celery runs the email tasks in the process (as `make run` does), so `mail.outbox` has
    them once the transaction commits."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def book_body(session_type, start=SLOT, method="wallet", **more):
    return {
        "session_type_id": str(session_type.id),
        "start_at": start.isoformat().replace("+00:00", "Z"),
        "payment_method": method,
        **more,
    }


def later(traveller, **delta):
    traveller.move_to(datetime.now(UTC) + timedelta(**delta))
