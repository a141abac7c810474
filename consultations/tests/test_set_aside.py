"""One consultation that cannot be billed never stops the tick: it is set aside (savepoint),
logged with its id and counted, and the others are billed."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from consultations import billing, services
from consultations.models import Consultation, Status
from consultations.signals import consultation_ended
from consultations.tests.test_billing import begin, reload
from wallets import keys
from wallets.models import LedgerTransaction
from wallets.reconcile import check_ledger
from wallets.tests import factories as ledger

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def five(settings):
    settings.BILLING_BATCH_SIZE = 50
    with time_machine.travel(START, tick=False):
        return [begin(rate=600) for _ in range(5)]


def charged(consultation) -> int:
    return reload(consultation).total_amount


def test_a_constraint_failing_for_one_consultation_sets_it_aside_and_bills_the_rest(five, caplog):
    broken = five[2]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_refuse_one() RETURNS trigger AS $$
            BEGIN
                IF NEW.reference_id = %s THEN
                    RAISE EXCEPTION 'test: this consultation cannot be billed';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_refuse_one BEFORE INSERT ON wallets_ledgertransaction
                FOR EACH ROW EXECUTE FUNCTION test_refuse_one();
            """,
            [str(broken.id)],
        )
    before = billing.set_aside_total["consultations"]
    with time_machine.travel(START + timedelta(seconds=10), tick=False):
        report = services.bill_due_consultations()
    assert (report.billed, report.charges, report.set_aside) == (4, 4, 1)
    assert [charged(c) for c in five] == [100, 100, 0, 100, 100]
    assert reload(broken).billed_seconds == 0 and reload(broken).status == Status.ACTIVE
    assert billing.set_aside_total["consultations"] == before + 1
    assert str(broken.id) in caplog.text and "set aside" in caplog.text
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse_one ON wallets_ledgertransaction")
    with time_machine.travel(START + timedelta(seconds=20), tick=False):
        services.bill_due_consultations()  # once mended, it is billed in full
    assert charged(broken) == 200
    assert check_ledger().clean


def test_a_python_bug_for_one_consultation_sets_it_aside(five, monkeypatch, caplog):
    broken = five[3]
    real = billing._plan_row

    def plan_row(row, *args):
        if row[0] == broken.id:
            raise ZeroDivisionError("a bug")
        return real(row, *args)

    monkeypatch.setattr(billing, "_plan_row", plan_row)
    with time_machine.travel(START + timedelta(seconds=10), tick=False):
        report = services.bill_due_consultations()
    assert (report.billed, report.set_aside) == (4, 1)
    assert [charged(c) for c in five] == [100, 100, 100, 0, 100]
    assert str(broken.id) in caplog.text


def test_a_consultation_whose_closing_fails_is_set_aside_whole(settings, monkeypatch):
    """Ending is part of the unit: a row whose closing fails keeps neither its final charge nor
    its end (it stays active, and is tried again next time); the others end."""
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False):
        rows = [begin(rate=600, balance=650) for _ in range(3)]  # 65 s of talk each
    broken = rows[1]
    real = services.close_consultations

    def close(consultations, **kwargs):
        consultations = list(consultations)
        if any(c.id == broken.id for c in consultations):
            raise RuntimeError("closing failed")
        return real(consultations, **kwargs)

    monkeypatch.setattr(services, "close_consultations", close)
    with time_machine.travel(START + timedelta(seconds=70), tick=False):
        report = services.bill_due_consultations()
    assert report.set_aside == 1
    assert [reload(c).status for c in rows] == ["force_ended", "active", "force_ended"]
    assert reload(broken).total_amount == 0
    assert check_ledger().clean


def test_a_failing_receiver_never_stops_the_tick(settings):
    settings.MIN_MINUTES = 1
    with time_machine.travel(START, tick=False):
        rows = [begin(rate=600, balance=650) for _ in range(3)]

    def broken(sender, consultation, **kwargs):
        raise RuntimeError("earnings bug")

    consultation_ended.connect(broken, dispatch_uid="test.broken-receiver")
    try:
        with time_machine.travel(START + timedelta(seconds=70), tick=False):
            report = services.bill_due_consultations()
    finally:
        consultation_ended.disconnect(dispatch_uid="test.broken-receiver")
    assert (report.ended, report.set_aside) == (3, 0)
    assert all(reload(c).status == "force_ended" for c in rows)


def test_a_charge_key_already_taken_is_an_error_not_a_silent_skip(five, caplog):
    """The key of the charge the tick is about to post exists already: the consultation and the
    ledger disagree. Skipping it would write the consultation's totals without the money."""
    broken = five[0]
    ledger.credit(
        user=broken.client, amount=1, idempotency_key=keys.consultation_charge(broken.id, 10)
    )
    with time_machine.travel(START + timedelta(seconds=10), tick=False):
        report = services.bill_due_consultations()
    assert report.set_aside == 1
    assert (reload(broken).billed_seconds, reload(broken).total_amount) == (0, 0)
    assert [charged(c) for c in five[1:]] == [100, 100, 100, 100]
    assert "DuplicatePosting" in caplog.text
    assert LedgerTransaction.objects.filter(reference_id=str(broken.id)).count() == 0
    assert check_ledger().clean
    assert Consultation.objects.filter(status="active").count() == 5
