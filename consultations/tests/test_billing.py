import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations import services
from consultations.billing import affordable_seconds, total_for
from consultations.models import Consultation, ConsultationEvent, Status
from wallets.models import LedgerEntry, LedgerTransaction
from wallets.reconcile import check_ledger
from wallets.services import commission_for, wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def begin(*, rate=600, balance=100_000, channel="chat"):
    """An accepted consultation at `rate` paise a minute, started at the current (frozen) time."""
    client = ClientFactory()
    fund(client, balance)
    consultant = OnlineConsultantFactory(rate_chat=rate)
    consultation = services.start_consultation(
        client=client, consultant_id=consultant.id, channel=channel
    )
    return services.accept_consultation(consultation_id=consultation.id, actor=consultant.user)


def reload(consultation):
    consultation.refresh_from_db()
    return consultation


def charges_of(consultation):
    return LedgerTransaction.objects.filter(
        reference_type="consultation", reference_id=str(consultation.id)
    )


def test_the_arithmetic_is_floor_of_rate_times_seconds_over_sixty():
    assert total_for(rate_per_minute=600, seconds=37) == 370
    assert total_for(rate_per_minute=100, seconds=59) == 98
    assert total_for(rate_per_minute=7, seconds=8) == 0
    assert affordable_seconds(rate_per_minute=60, budget=5) == 5
    assert affordable_seconds(rate_per_minute=100, budget=98) == 59


@given(rate=st.integers(1, 1_000_000), budget=st.integers(0, 10**9))
def test_the_affordable_second_is_the_last_one_the_budget_pays_for(rate, budget):
    last = affordable_seconds(rate_per_minute=rate, budget=budget)
    assert total_for(rate_per_minute=rate, seconds=last) <= budget
    assert total_for(rate_per_minute=rate, seconds=last + 1) > budget


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rate=st.integers(1, 1_000_000),
    gaps=st.lists(st.floats(0, 95, allow_nan=False), min_size=1, max_size=6),
)
def test_every_tick_leaves_the_total_exact_to_the_second(rate, gaps):
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=rate, balance=rate * 20 + 1000)
        for gap in gaps:
            traveller.shift(gap)
            services.bill_due_consultations()
            reload(consultation)
            seconds = int((time.time() - START.timestamp()) // 1)
            if consultation.status == Status.ACTIVE:
                # Billed up to the last whole second, give or take a tick not yet due.
                assert consultation.billed_seconds <= seconds
                assert seconds - consultation.billed_seconds < 10
            expected = total_for(rate_per_minute=rate, seconds=consultation.billed_seconds)
            assert consultation.total_amount == expected
            assert consultation.commission_amount == commission_for(expected)
            assert consultation.consultant_amount == expected - commission_for(expected)
            paid = -sum(
                e.amount
                for e in LedgerEntry.objects.filter(
                    transaction__in=charges_of(consultation), kind="consultation_charge"
                )
            )
            assert paid == expected
        if consultation.status == Status.ACTIVE:
            services.end_consultation(consultation_id=consultation.id, actor=consultation.client)
    assert check_ledger().clean


def test_a_repeated_tick_charges_nothing():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin()
        traveller.shift(10)
        first = services.bill_due_consultations()
        again = services.bill_due_consultations()
    assert (first.charges, again.charges) == (1, 0)
    assert reload(consultation).total_amount == 100
    assert charges_of(consultation).count() == 1


def test_a_tick_replayed_at_the_same_moment_by_another_worker_charges_nothing():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin()
        traveller.shift(10)
        now = datetime.fromtimestamp(time.time(), tz=UTC)
        services.bill_due_consultations(now=now)
        Consultation.objects.filter(id=consultation.id).update(last_billed_at=START)
        replay = services.bill_due_consultations(now=now)
    assert replay.billed == 1 and replay.charges == 0
    assert reload(consultation).total_amount == 100


def test_a_missed_tick_is_caught_up_exactly():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=7)
        traveller.shift(10)
        services.bill_due_consultations()
        traveller.shift(43.9)  # two ticks missed
        services.bill_due_consultations()
    consultation = reload(consultation)
    assert consultation.billed_seconds == 53
    assert consultation.total_amount == 7 * 53 // 60


def test_the_hold_pays_the_first_tick_and_the_rest_is_released_at_the_end():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        assert wallet_for(user=consultation.client).held == 100
        traveller.shift(4)
        services.bill_due_consultations()  # not due yet: half a tick has not passed
        traveller.shift(2)
        services.bill_due_consultations()  # 6 s: 60 paise, paid from the hold
        assert wallet_for(user=consultation.client).held == 40
        traveller.shift(3)
        services.end_consultation(consultation_id=consultation.id, actor=consultation.client)
    wallet = wallet_for(user=consultation.client)
    assert (wallet.balance, wallet.held) == (100_000 - 90, 0)


def test_it_force_ends_at_the_last_second_the_money_lasts(settings):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=700, balance=1000)  # 1000 paise pays 85 s (991 paise)
        for _ in range(12):
            traveller.shift(10)
            services.bill_due_consultations()
    consultation = reload(consultation)
    assert consultation.status == Status.FORCE_ENDED
    assert consultation.end_reason == "insufficient_balance"
    assert consultation.billed_seconds == 85
    assert consultation.total_amount == 991
    wallet = wallet_for(user=consultation.client)
    assert (wallet.balance, wallet.held) == (9, 0)
    consultation.consultant.refresh_from_db()
    assert not consultation.consultant.is_busy
    assert ConsultationEvent.objects.filter(
        consultation=consultation, to_status="force_ended", reason="insufficient_balance"
    ).exists()
    assert check_ledger().clean


@hypothesis_settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rate=st.integers(1, 100_000), minutes=st.integers(1, 3), extra=st.integers(0, 999))
def test_it_always_force_ends_at_the_second_the_money_runs_out(settings, rate, minutes, extra):
    settings.MIN_MINUTES = 1
    balance = rate * minutes + extra % rate
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=rate, balance=balance)
        while reload(consultation).status == Status.ACTIVE:
            traveller.shift(10)
            services.bill_due_consultations()
    last = affordable_seconds(rate_per_minute=rate, budget=balance)
    assert (consultation.status, consultation.end_reason) == ("force_ended", "insufficient_balance")
    assert consultation.billed_seconds == last
    assert wallet_for(user=consultation.client).balance == balance - total_for(
        rate_per_minute=rate, seconds=last
    )
    assert wallet_for(user=consultation.client).held == 0


def test_the_balance_never_goes_below_zero_even_after_a_long_outage(settings):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600, balance=600)
        traveller.shift(3600)
        services.bill_due_consultations()
    consultation = reload(consultation)
    assert consultation.status == Status.FORCE_ENDED
    assert consultation.billed_seconds == 60
    assert wallet_for(user=consultation.client).balance == 0


def test_the_commission_goes_to_the_platform_once_per_batch_and_last(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from wallets.models import Account

    settings.BILLING_BATCH_SIZE = 50
    counts = []
    with time_machine.travel(START, tick=False) as traveller:
        for sessions in (2, 6):
            while Consultation.objects.filter(status=Status.ACTIVE).count() < sessions:
                begin(rate=600)
            traveller.shift(10)
            services.bill_due_consultations()  # the first tick also closes the holds
            traveller.shift(10)
            with CaptureQueriesContext(connection) as queries:
                report = services.bill_due_consultations()
            assert (report.billed, report.charges, report.batches) == (sessions, sessions, 1)
            counts.append(len(queries))
            statements = [q["sql"].replace('"', "") for q in queries]
            accounts = [
                ("lock" if sql.endswith("FOR UPDATE") else "update")
                for sql in statements
                if sql.startswith("UPDATE wallets_account")
                or ("FROM wallets_account" in sql and sql.endswith("FOR UPDATE"))
            ]
            # The batch's wallets locked and written once; platform revenue locked and written
            # once, last: after the consultations' billing state (concurrent batches overlap).
            assert accounts == ["lock", "update", "lock", "update"]
            billing_state = max(
                i for i, sql in enumerate(statements) if sql.startswith("UPDATE consultations")
            )
            platform_lock = max(
                i
                for i, sql in enumerate(statements)
                if "FROM wallets_account" in sql and sql.endswith("FOR UPDATE")
            )
            assert platform_lock > billing_state
    # A batch costs a fixed number of queries, whatever the number of consultations in it.
    assert counts[0] == counts[1]
    platform = Account.objects.get(kind="platform_revenue")
    commissions = sum(c.commission_amount for c in Consultation.objects.all())
    assert platform.balance == commissions
    assert check_ledger().clean


def test_billing_ticks_and_one_balance_low_are_announced(
    settings, listen, django_capture_on_commit_callbacks
):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600, balance=1500)  # 150 s of talk
        client_listener = listen(consultation.client)
        consultant_listener = listen(consultation.consultant.user)
        for _ in range(5):
            traveller.shift(10)
            with django_capture_on_commit_callbacks(execute=True):
                services.bill_due_consultations()
    frames = client_listener.frames()
    ticks = [f for f in frames if f["type"] == "billing_tick"]
    assert [t["billed_seconds"] for t in ticks] == [10, 20, 30, 40, 50]
    assert ticks[-1] == {
        "type": "billing_tick",
        "session_id": str(consultation.id),
        "billed_seconds": 50,
        "total_amount": 500,
        "balance": 1000,
        "remaining_seconds": 100,
    }
    lows = [f for f in frames if f["type"] == "balance_low"]
    assert lows == [
        {"type": "balance_low", "session_id": str(consultation.id), "remaining_seconds": 110}
    ]
    assert [f["type"] for f in consultant_listener.frames()] == ["billing_tick"] * 5


def test_the_final_figures_are_announced_when_it_is_force_ended(
    settings, listen, django_capture_on_commit_callbacks
):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600, balance=600)
        listener = listen(consultation.consultant.user)
        traveller.shift(70)
        with django_capture_on_commit_callbacks(execute=True):
            services.bill_due_consultations()
    updates = [f for f in listener.frames() if f["type"] == "consultation_updated"]
    assert updates[0]["consultation"]["status"] == "force_ended"
    assert updates[0]["consultation"]["billed_seconds"] == 60


def test_stale_requests_expire_and_free_the_consultant(settings):
    client = ClientFactory()
    fund(client, 100_000)
    consultant = OnlineConsultantFactory()
    with time_machine.travel(START, tick=False) as traveller:
        consultation = services.start_consultation(
            client=client, consultant_id=consultant.id, channel="chat"
        )
        traveller.shift(59)
        assert services.bill_due_consultations().expired == 0
        traveller.shift(1)
        assert services.bill_due_consultations().expired == 1
    assert reload(consultation).status == Status.EXPIRED
    consultant.refresh_from_db()
    assert not consultant.is_busy


def test_the_ended_signal_is_sent_once_with_the_final_row():
    from consultations.signals import consultation_ended

    seen = []

    def receiver(sender, consultation, **kwargs):
        seen.append((consultation.status, consultation.total_amount))

    consultation_ended.connect(receiver)
    try:
        with time_machine.travel(START, tick=False) as traveller:
            consultation = begin()
            traveller.shift(12)
            services.end_consultation(consultation_id=consultation.id, actor=consultation.client)
    finally:
        consultation_ended.disconnect(receiver)
    assert seen == [("ended", 120)]


# --- presence ---------------------------------------------------------------------------------


def test_the_consultants_absence_past_the_grace_is_not_billed(settings):
    settings.PRESENCE_GRACE_SECONDS = 15
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        consultant_user = consultation.consultant.user
        traveller.shift(10)
        services.record_presence(user_id=consultant_user.id, online=False)
        traveller.shift(50)  # 15 s of grace billed, 35 s paused
        services.bill_due_consultations()
        assert reload(consultation).billed_seconds == 25
        traveller.shift(20)
        services.record_presence(user_id=consultant_user.id, online=True)
        traveller.shift(10)
        services.bill_due_consultations()
    assert reload(consultation).billed_seconds == 35  # 90 s of which 55 s paused


def test_a_consultant_gone_past_the_timeout_is_force_ended(settings):
    settings.PRESENCE_GRACE_SECONDS = 15
    settings.DISCONNECT_TIMEOUT_SECONDS = 120
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        services.record_presence(user_id=consultation.consultant.user_id, online=False)
        traveller.shift(119)
        services.bill_due_consultations()
        assert reload(consultation).status == Status.ACTIVE
        traveller.shift(1)
        services.bill_due_consultations()
    consultation = reload(consultation)
    assert consultation.status == Status.FORCE_ENDED
    assert consultation.end_reason == "consultant_disconnected"
    assert consultation.billed_seconds == 15


def test_the_clients_absence_does_not_stop_the_meter_but_ends_it_in_the_end(settings):
    settings.DISCONNECT_TIMEOUT_SECONDS = 120
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        services.record_presence(user_id=consultation.client_id, online=False)
        traveller.shift(60)
        services.bill_due_consultations()
        assert reload(consultation).billed_seconds == 60
        traveller.shift(60)
        services.bill_due_consultations()
    consultation = reload(consultation)
    assert (consultation.status, consultation.end_reason) == ("force_ended", "client_disconnected")
    assert consultation.billed_seconds == 120


def test_a_client_back_in_time_keeps_the_consultation_going(settings):
    settings.DISCONNECT_TIMEOUT_SECONDS = 120
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        services.record_presence(user_id=consultation.client_id, online=False)
        traveller.shift(100)
        services.record_presence(user_id=consultation.client_id, online=True)
        traveller.shift(100)
        services.bill_due_consultations()
    assert reload(consultation).status == Status.ACTIVE


def test_presence_without_an_open_consultation_records_nothing():
    assert services.record_presence(user_id=ClientFactory().id, online=False) is None


def test_admins_can_force_end_with_the_final_charge(admin_user):
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin(rate=600)
        traveller.shift(5)
        result = services.force_end_consultation(consultation_id=consultation.id, actor=admin_user)
    assert result.consultation.status == Status.FORCE_ENDED
    assert result.consultation.end_reason == "admin"
    assert result.consultation.total_amount == 50
    assert result.remaining_balance == 100_000 - 50


def test_timestamps_move_with_the_clock():
    with time_machine.travel(START, tick=False) as traveller:
        consultation = begin()
        traveller.shift(timedelta(minutes=3).total_seconds())
        services.bill_due_consultations()
    assert reload(consultation).last_billed_at == START + timedelta(minutes=3)
