"""The socket presence store (consultations.presence) and the sweep the billing tick runs."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from consultations import presence
from consultations.models import Consultation
from consultations.presence import State

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["redis", "embedded"])
def store(request, settings):
    if request.param == "embedded":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
        presence.reset()
    settings.WS_PRESENCE_TTL_SECONDS = 30
    yield request.param
    presence.reset()


def test_the_first_socket_brings_a_user_online_and_the_last_takes_them_off(store, session):
    user = session.client_id
    assert presence.presence_state(user) == (State.UNKNOWN, None)
    assert presence.socket_opened(user, "a").became_online
    assert not presence.socket_opened(user, "b").became_online
    assert presence.is_online(user)
    assert not presence.socket_closed(user, "a").became_offline
    assert presence.socket_closed(user, "b").became_offline
    assert not presence.is_online(user)
    assert not presence.socket_closed(user, "b").became_offline  # twice is harmless


def test_a_socket_without_heartbeats_expires(store, session):
    user = session.client_id
    now = time.time()
    presence.socket_opened(user, "a", now=now - 40)
    state, expired_at = presence.presence_state(user, now=now)
    assert state == State.OFFLINE
    assert expired_at == pytest.approx(now - 10)
    presence.socket_heartbeat(user, "a", now=now)
    assert presence.presence_state(user, now=now)[0] == State.ONLINE
    # a new socket after expiry counts as arriving again
    assert presence.socket_opened(user, "b", now=now + 100).became_online


def test_one_heartbeat_keeps_every_socket_of_a_process_counted(store, session):
    client, consultant = session.client_id, session.consultant.user_id
    then = time.time() - 25  # opened 25 s ago with a 30 s life: 5 s left
    presence.socket_opened(client, "a", now=then)
    presence.socket_opened(consultant, "b", now=then)
    presence.sockets_heartbeat([(client, "a"), (consultant, "b")])
    later = time.time() + 20  # the opening alone would have expired by then
    assert presence.presence_state(client, now=later)[0] == State.ONLINE
    assert presence.presence_state(consultant, now=later)[0] == State.ONLINE
    presence.sockets_heartbeat([])  # nothing to do


def test_the_sweep_records_a_crashed_socket_as_gone_from_its_last_heartbeat(store, session):
    user = session.consultant.user_id
    now = timezone.now()
    presence.socket_opened(user, "crashed", now=now.timestamp() - 50)  # last beat 50 s ago
    assert presence.sweep_presence(now=now) == 1
    row = Consultation.objects.get(id=session.id)
    assert abs(row.consultant_absent_since - (now - timedelta(seconds=50))) < timedelta(seconds=1)
    assert row.client_absent_since is None  # the client never had a socket: left alone
    assert presence.sweep_presence(now=now) == 0


def test_the_sweep_records_a_live_socket_as_back(store, session):
    user = session.client_id
    Consultation.objects.filter(id=session.id).update(client_absent_since=timezone.now())
    presence.socket_opened(user, "live")
    assert presence.sweep_presence() == 1
    assert Consultation.objects.get(id=session.id).client_absent_since is None


def test_the_sweep_leaves_users_who_never_connected_alone(store, session):
    assert presence.sweep_presence() == 0
    row = Consultation.objects.get(id=session.id)
    assert row.client_absent_since is None and row.consultant_absent_since is None


def test_the_billing_task_sweeps_presence_before_it_bills(settings, session):
    """A consultant whose server process died: the tick records them gone from their last
    heartbeat, and past the disconnect timeout the consultation is force-ended."""
    from consultations.tasks import bill_due_consultations
    from wallets.tests.factories import fund

    fund(session.client, 1_000_000)
    settings.DISCONNECT_TIMEOUT_SECONDS = 120
    start = timezone.now() - timedelta(seconds=300)
    Consultation.objects.filter(id=session.id).update(started_at=start, last_billed_at=start)
    user = session.consultant.user_id
    presence.socket_opened(user, "crashed", now=(start + timedelta(seconds=20)).timestamp())
    bill_due_consultations.apply()
    row = Consultation.objects.get(id=session.id)
    assert row.consultant_absent_since is not None
    assert abs(row.consultant_absent_since - (start + timedelta(seconds=20))) < timedelta(seconds=1)
    assert (row.status, row.end_reason) == ("force_ended", "consultant_disconnected")


def test_a_failing_presence_store_does_not_stop_billing(monkeypatch, session):
    from consultations.tasks import bill_due_consultations

    def broken(**kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(presence, "sweep_presence", broken)
    bill_due_consultations.apply().get()
