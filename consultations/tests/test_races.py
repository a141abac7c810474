"""Never two at once, under real concurrency: threads on PostgreSQL, released together."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations.models import Consultation, Status
from wallets.tests.factories import fund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def race(calls):
    """Runs every call in its own thread, all released at once; returns their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # a crash is a result too: the test shows it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def starter(user, consultant):
    def call():
        api = APIClient()
        api.force_authenticate(user=user)
        response = api.post(
            "/api/v1/consultations", {"consultant_id": str(consultant.id), "channel": "chat"}
        )
        return response.status_code, response.json().get("code", "")

    return call


def skip_unless_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("races need PostgreSQL's row locks")


def test_thirty_clients_racing_for_one_consultant_get_exactly_one_consultation():
    skip_unless_postgres()
    consultant = OnlineConsultantFactory()
    clients = [ClientFactory() for _ in range(30)]
    for client in clients:
        fund(client, 100_000)

    results = race([starter(client, consultant) for client in clients])

    assert Counter(results) == {(201, ""): 1, (409, "consultant_busy"): 29}, results
    assert Consultation.objects.filter(consultant=consultant, status=Status.PENDING).count() == 1


def test_one_client_racing_to_five_consultants_gets_exactly_one():
    skip_unless_postgres()
    client = ClientFactory()
    fund(client, 100_000)
    consultants = [OnlineConsultantFactory() for _ in range(5)]

    results = race([starter(client, consultant) for consultant in consultants])

    assert Counter(results) == {(201, ""): 1, (409, "client_busy"): 4}, results
    assert Consultation.objects.filter(client=client).count() == 1
    busy = [c for c in consultants if (c.refresh_from_db() or c.is_busy)]
    assert len(busy) == 1


def test_without_the_redis_locks_the_constraints_still_hold(monkeypatch):
    """The locks are only the fast path: with them gone, the database turns the race away."""
    skip_unless_postgres()
    from contextlib import contextmanager

    from consultations import services

    @contextmanager
    def always_free(name):
        yield True

    monkeypatch.setattr(services, "try_lock", always_free)
    consultant = OnlineConsultantFactory()
    clients = [ClientFactory() for _ in range(10)]
    for client in clients:
        fund(client, 100_000)

    results = race([starter(client, consultant) for client in clients])

    assert Counter(code for _, code in results) == {"": 1, "consultant_busy": 9}, results


def test_two_workers_sharing_a_tick_never_bill_twice(time_machine):
    skip_unless_postgres()
    from consultations import services
    from wallets.models import LedgerTransaction
    from wallets.reconcile import check_ledger

    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    for _ in range(12):
        client = ClientFactory()
        fund(client, 100_000)
        consultant = OnlineConsultantFactory()
        started = services.start_consultation(
            client=client, consultant_id=consultant.id, channel="chat"
        )
        services.accept_consultation(consultation_id=started.id, actor=consultant.user)
    time_machine.shift(10)

    reports = race([lambda: services.bill_due_consultations(batch_size=3) for _ in range(3)])

    assert sum(r.billed for r in reports) == 12, reports
    assert LedgerTransaction.objects.filter(kind="consultation_charge").count() == 12
    assert all(c.total_amount == c.rate_per_minute * 10 // 60 for c in Consultation.objects.all())
    assert check_ledger().clean
