"""A tick's batches on several connections at once (`BILLING_WORKERS`), under forced races:
threads on PostgreSQL, each step held until the other side is where the test wants it."""

import threading
import time

import pytest
from django.db import connection

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations import billing, services
from consultations.models import Consultation
from consultations.tests.test_races import race, skip_unless_postgres
from wallets import services as wallet_services
from wallets.models import AccountKind, EntryKind, LedgerTransaction
from wallets.reconcile import check_ledger
from wallets.services import Leg, post_transaction, system_account, wallet_for
from wallets.tests.factories import fund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

RATE = 600  # paise a minute: 100 paise after 10 s


def active_sessions(count):
    made = []
    for _ in range(count):
        client = ClientFactory()
        fund(client, 100_000)
        consultant = OnlineConsultantFactory(rate_chat=RATE)
        started = services.start_consultation(
            client=client, consultant_id=consultant.id, channel="chat"
        )
        made.append(services.accept_consultation(consultation_id=started.id, actor=consultant.user))
    return made


def waiting_on_a_lock() -> int:
    """Backends of this database waiting for a row or transaction lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def in_thread(call) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run():
        try:
            outcome.append(call())
        except Exception as exc:  # noqa: BLE001 - the test reads it
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def books_are_clean_and_each_charged_once(sessions: int) -> None:
    assert LedgerTransaction.objects.filter(kind="consultation_charge").count() == sessions
    for consultation in Consultation.objects.all():
        assert consultation.total_amount == RATE * 10 // 60
    ledger = check_ledger()
    assert ledger.clean, ledger.violations


def test_two_workers_bill_batches_at_the_same_time(time_machine, monkeypatch):
    """Each of two batches waits inside `bill_rows` until the other is there too: only two
    connections billing at once get past it (one after the other would time out)."""
    skip_unless_postgres()
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    active_sessions(4)
    time_machine.shift(10)
    both_in = threading.Barrier(2, timeout=20)
    backends = set()
    original = billing.bill_rows

    def meeting(rows, **kwargs):
        backends.add(connection.connection.info.backend_pid)
        if len(backends) <= 2:
            both_in.wait()
        return original(rows, **kwargs)

    monkeypatch.setattr(services, "bill_rows", meeting)

    report = services.bill_due_consultations(batch_size=2, workers=2)

    assert (report.billed, report.batches) == (4, 2)
    assert len(backends) == 2
    books_are_clean_and_each_charged_once(4)


def test_a_posting_on_a_batch_wallet_and_the_platform_waits_without_deadlock(
    time_machine, monkeypatch
):
    """The batch holds its wallets and wants platform revenue last; a posting over one of those
    wallets and platform revenue (a refund of the client's earlier consultation) comes in
    between. In the
    lock order (wallets first, then system accounts) the posting waits for the wallet holding
    nothing, the batch takes platform revenue, commits, and the posting goes on. Locking by id
    alone (platform revenue first) would deadlock here: PostgreSQL would abort one of them."""
    skip_unless_postgres()
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    # Made first, as on a live platform: its id is below every wallet's, so id order alone
    # would lock it before them.
    platform = system_account(AccountKind.PLATFORM_REVENUE)
    (session,) = active_sessions(1)
    time_machine.shift(10)
    at_platform, go_on = threading.Event(), threading.Event()
    original = wallet_services.LateCredits.write

    def held_before_platform(self, now):
        at_platform.set()
        assert go_on.wait(20)
        return original(self, now)

    monkeypatch.setattr(wallet_services.LateCredits, "write", held_before_platform)
    client_wallet = wallet_for(user=session.client)
    assert platform.id < client_wallet.id

    tick, ticked = in_thread(lambda: services.bill_due_consultations(workers=1))
    assert at_platform.wait(20)
    adjust, adjusted = in_thread(
        lambda: post_transaction(
            kind=EntryKind.REFUND,  # a refund's legs: the client, the platform's commission
            legs=[
                Leg(client_wallet, 500, EntryKind.REFUND),
                Leg(platform, -500, EntryKind.COMMISSION),
            ],
            idempotency_key="test:refund:during-a-batch",
        )
    )
    until(lambda: waiting_on_a_lock() >= 1)  # the posting waits for the batch's wallet
    go_on.set()
    tick.join(30)
    adjust.join(30)

    assert not isinstance(ticked[0], Exception), ticked
    assert not isinstance(adjusted[0], Exception), adjusted
    assert ticked[0].billed == 1
    books_are_clean_and_each_charged_once(1)
    client_wallet.refresh_from_db()
    assert client_wallet.balance == 100_000 - 100 + 500


def test_two_ticks_of_two_workers_and_postings_on_their_wallets_race_harmlessly(time_machine):
    skip_unless_postgres()
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    platform = system_account(AccountKind.PLATFORM_REVENUE)  # first, as on a live platform
    sessions = active_sessions(12)
    time_machine.shift(10)

    def refunds():
        for index, session in enumerate(sessions):
            post_transaction(
                kind=EntryKind.REFUND,
                legs=[
                    Leg(wallet_for(user=session.client), 7, EntryKind.REFUND),
                    Leg(platform, -7, EntryKind.COMMISSION),
                ],
                idempotency_key=f"test:refund:{index}",
            )
        return "refunded"

    def tick():
        return services.bill_due_consultations(batch_size=2, workers=2)

    results = race([tick, tick, refunds])

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.billed for r in results[:2]) == 12, results
    books_are_clean_and_each_charged_once(12)
    for session in sessions:
        assert wallet_for(user=session.client).balance == 100_000 - 100 + 7


def test_an_interrupted_tick_s_workers_finish_their_batch_and_claim_no_other(
    time_machine, monkeypatch
):
    """Celery's soft time limit raises in the thread that waits for the workers: they finish
    the batch in hand (each its own transaction) and stop; what is left waits for the next
    tick, and the interruption reaches the caller."""
    skip_unless_postgres()
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    active_sessions(8)
    time_machine.shift(10)
    original = billing.bill_rows

    def slow(rows, **kwargs):
        time.sleep(0.3)  # the interruption lands while every worker holds a batch
        return original(rows, **kwargs)

    def interrupted(futures):
        time.sleep(0.1)
        raise TimeoutError("soft time limit")

    monkeypatch.setattr(services, "bill_rows", slow)
    monkeypatch.setattr(services, "wait", interrupted)

    with pytest.raises(TimeoutError):
        services.bill_due_consultations(batch_size=1, workers=2)

    billed = Consultation.objects.filter(total_amount__gt=0).count()
    assert billed == 2  # one batch of one each
    assert LedgerTransaction.objects.filter(kind="consultation_charge").count() == 2
    assert check_ledger().clean
    monkeypatch.undo()
    report = services.bill_due_consultations(batch_size=1, workers=2)  # the next tick
    assert report.billed == 6
    books_are_clean_and_each_charged_once(8)
