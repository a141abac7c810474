"""Billing only while both sides are there (CONTRACT.md "Billing"): a participant who never
connected, a socket that died without a word, the second the money runs out, one clock."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from config import jobs
from consultants.tests.factories import OnlineConsultantFactory
from consultations import presence, services
from consultations.billing import bill_rows, plan_charge, read_locked_rows
from consultations.models import Consultation, Status
from consultations.tasks import bill_due_consultations as tick_task
from wallets.services import wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def embedded_store(settings):
    """The one-process socket store, on Python's clock (which time_machine moves)."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.PRESENCE_GRACE_SECONDS = 15
    settings.DISCONNECT_TIMEOUT_SECONDS = 120
    settings.WS_PRESENCE_TTL_SECONDS = 30
    presence.reset()
    yield
    presence.reset()


def request(*, rate=600, balance=100_000, client_socket=False, consultant_socket=False):
    client = ClientFactory()
    fund(client, balance)
    consultant = OnlineConsultantFactory(rate_chat=rate)
    if client_socket:
        presence.socket_opened(client.id, "client-socket")
    if consultant_socket:
        presence.socket_opened(consultant.user_id, "consultant-socket")
    pending = services.start_consultation(
        client=client, consultant_id=consultant.id, channel="chat"
    )
    return services.accept_consultation(consultation_id=pending.id, actor=consultant.user)


def reload(consultation):
    consultation.refresh_from_db()
    return consultation


# --- Gone from acceptance ---------------------------------------------------------------------


@pytest.mark.real_presence
def test_a_consultant_who_accepted_over_rest_and_never_connected_is_not_billed_past_the_grace(
    embedded_store,
):
    with time_machine.travel(START, tick=False) as traveller:
        consultation = request(client_socket=True)
        assert consultation.consultant_absent_since == START
        assert consultation.client_absent_since is None
        for _ in range(11):
            traveller.shift(10)
            presence.socket_heartbeat(consultation.client_id, "client-socket")
            services.bill_due_consultations()
        assert reload(consultation).status == Status.ACTIVE
        assert consultation.billed_seconds == 15  # the grace, then nothing
        traveller.shift(10)  # 120 s without a socket
        services.bill_due_consultations()
    consultation = reload(consultation)
    assert (consultation.status, consultation.end_reason) == (
        "force_ended",
        "consultant_disconnected",
    )
    assert consultation.billed_seconds == 15
    assert wallet_for(user=consultation.client).balance == 100_000 - 150


@pytest.mark.real_presence
def test_a_client_who_never_connected_ends_it_after_the_disconnect_timeout(embedded_store):
    with time_machine.travel(START, tick=False) as traveller:
        consultation = request(consultant_socket=True)
        assert consultation.client_absent_since == START
        for _ in range(17):
            traveller.shift(7)
            presence.socket_heartbeat(consultation.consultant.user_id, "consultant-socket")
            services.bill_due_consultations()
        assert reload(consultation).status == Status.ACTIVE
        assert consultation.billed_seconds == 119  # the client's absence does not stop the meter
        traveller.shift(1)
        services.end_due_consultations()  # its known end: the disconnect timeout
    consultation = reload(consultation)
    assert (consultation.status, consultation.end_reason) == ("force_ended", "client_disconnected")
    assert consultation.ended_at == START + timedelta(seconds=120)


@pytest.mark.real_presence
def test_a_participant_connected_when_accepting_is_there(embedded_store):
    with time_machine.travel(START, tick=False):
        consultation = request(client_socket=True, consultant_socket=True)
    assert consultation.client_absent_since is None
    assert consultation.consultant_absent_since is None


@pytest.mark.real_presence
def test_connecting_after_accepting_over_rest_resumes_billing(embedded_store):
    from chat import services as chat

    with time_machine.travel(START, tick=False) as traveller:
        consultation = request(client_socket=True)
        traveller.shift(40)  # 15 s of grace billed, 25 s paused
        chat.socket_connected(user_id=consultation.consultant.user_id, socket_id="late")
        traveller.shift(20)
        services.bill_due_consultations()
    assert reload(consultation).billed_seconds == 35


# --- Gone from the last heartbeat -------------------------------------------------------------


@pytest.mark.real_presence
def test_a_socket_that_dies_without_a_word_is_gone_from_its_last_heartbeat(embedded_store):
    """The consultant's daphne is killed 40 s in: their socket never closes. Ticks run every
    10 s as beat sends them; nothing past the last heartbeat plus the grace is billed, however
    late the store would have expired the socket (its TTL is 30 s, twice the grace)."""
    period = presence.heartbeat_seconds()
    assert period < 15  # a live socket always beats within the grace
    with time_machine.travel(START, tick=False) as traveller:
        consultation = request(client_socket=True, consultant_socket=True)
        client, consultant = consultation.client_id, consultation.consultant.user_id
        elapsed, last_consultant_beat = 0.0, 0.0
        while elapsed < 200:
            traveller.shift(2.5)
            elapsed += 2.5
            presence.socket_heartbeat(client, "client-socket")
            if elapsed <= 40 and elapsed - last_consultant_beat >= period:
                presence.socket_heartbeat(consultant, "consultant-socket")
                last_consultant_beat = elapsed
            if elapsed % 10 == 0:
                tick_task.apply()
                assert reload(consultation).billed_seconds <= last_consultant_beat + 15
    consultation = reload(consultation)
    assert consultation.consultant_absent_since == START + timedelta(seconds=last_consultant_beat)
    assert consultation.billed_seconds == int(last_consultant_beat + 15)
    assert (consultation.status, consultation.end_reason) == (
        "force_ended",
        "consultant_disconnected",
    )


@pytest.mark.real_presence
def test_the_redis_store_judges_by_its_own_clock():
    """Heartbeats and the sweep read the Redis server's clock, so daphne processes whose clocks
    disagree still agree on how long a socket has been quiet."""
    user = ClientFactory().id
    presence.socket_opened(user, "a")  # the server's clock
    assert presence.seen([user])[user].quiet_for < 1
    assert presence.seen([user])[user].state == presence.State.ONLINE
    server_now = presence.seen([user])[user].quiet_for  # ~0: same clock both ways
    assert server_now is not None
    presence.socket_opened(user, "b", now=time.time() - 100)  # a beat 100 s ago (expired)
    quiet = presence.seen([user])[user].quiet_for
    assert quiet < 1  # the latest heartbeat counts
    presence.socket_closed(user, "a")
    assert presence.seen([user])[user].quiet_for == pytest.approx(100, abs=2)
    assert presence.seen([user])[user].state == presence.State.OFFLINE


# --- The second the money runs out ------------------------------------------------------------


def test_the_consultation_ends_at_the_second_the_money_runs_out_not_a_tick_later(
    settings, monkeypatch
):
    """600 paise a minute and 755 paise: 75 s of talk. Beat runs the jobs list every second;
    the consultation ends at 75 s (the end sweep), not at the 80 s tick."""
    settings.MIN_MINUTES = 1
    monkeypatch.setattr(jobs, "close_old_connections", lambda: None)
    monotonic = [0.0]
    with time_machine.travel(START, tick=False) as traveller:
        consultation = request(balance=755)
        assert reload(consultation).ends_at == START + timedelta(seconds=75)
        ticker = jobs.Ticker(jobs.jobs(), clock=lambda: monotonic[0])
        for _ in range(90):
            traveller.shift(1)
            monotonic[0] += 1
            ticker.run_due()
            if reload(consultation).status != Status.ACTIVE:
                break
    consultation = reload(consultation)
    assert (consultation.status, consultation.end_reason) == (
        "force_ended",
        "insufficient_balance",
    )
    assert consultation.ended_at == START + timedelta(seconds=75)
    assert (consultation.billed_seconds, consultation.total_amount) == (75, 750)
    assert wallet_for(user=consultation.client).balance == 5


def test_a_top_up_moves_the_end_further_away(settings):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False) as traveller:
        consultation = request(balance=755)
        traveller.shift(30)
        fund(consultation.client, 600)  # one more minute
        traveller.shift(45)
        assert services.end_due_consultations() == 0  # billed, not ended
        assert reload(consultation).ends_at == START + timedelta(seconds=135)
        traveller.shift(60)
        assert services.end_due_consultations() == 1
    assert reload(consultation).billed_seconds == 135


# --- One clock, never backwards ---------------------------------------------------------------


@pytest.mark.database_clock
def test_a_worker_whose_clock_runs_fast_cannot_bill_seconds_that_have_not_happened():
    consultation = request()
    with time_machine.travel(timezone.now() + timedelta(seconds=5), tick=True):
        # This worker's clock is 5 s ahead of every other process and of the database.
        services.bill_due_consultations()
        result = services.end_consultation(
            consultation_id=consultation.id, actor=consultation.client
        )
    assert result.consultation.billed_seconds <= 1
    assert result.consultation.ended_at < timezone.now()


@pytest.mark.database_clock
def test_the_clock_is_the_databases():
    from django.db import connection

    from config import clock

    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        database = cursor.fetchone()[0]
    with time_machine.travel(START, tick=False):
        assert abs(clock.now() - database) < timedelta(seconds=5)


def test_last_billed_at_never_moves_backwards_when_ticks_overlap():
    with time_machine.travel(START, tick=False):
        consultation = request()
    later, earlier = START + timedelta(seconds=30), START + timedelta(seconds=20)
    services.bill_due_consultations(now=later)
    assert reload(consultation).last_billed_at == later
    # A tick that took its `now` before the one above billed, and reaches the row after it.
    with transaction.atomic():
        rows = read_locked_rows(Consultation.objects.select_for_update().filter(id=consultation.id))
        result = bill_rows(rows, now=earlier)
    consultation = reload(consultation)
    assert result.charges == 0
    assert (consultation.last_billed_at, consultation.billed_seconds) == (later, 30)


def test_the_plan_never_bills_before_the_last_billing():
    plan = plan_charge(
        kind="instant",
        rate=600,
        percent=20,
        started_at=START,
        paused=timedelta(0),
        consultant_absent_since=None,
        client_absent_since=None,
        billed_seconds=30,
        total_amount=300,
        commission_amount=60,
        last_billed_at=START + timedelta(seconds=30),
        ends_at=None,
        funds=10_000,
        now=START + timedelta(seconds=20),
        grace=timedelta(seconds=15),
        timeout=timedelta(seconds=120),
    )
    assert (plan.seconds, plan.charge, plan.billed_at) == (30, 0, START + timedelta(seconds=30))
