"""Every status column of the platform has a CHECK naming its rule: a raw UPDATE to a status
no code knows is refused by PostgreSQL."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from chat.models import Message
from consultations.models import Consultation, ConsultationEvent
from consultations.tests.factories import ActiveConsultationFactory
from earnings.models import Payout
from wallets.models import Hold, Payment, Refund, WalletStatusChange
from wallets.tests.factories import paid_payment

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="reads PostgreSQL's catalogue"
)


def _status_tables():
    return [
        (Consultation, "status"),
        (ConsultationEvent, "to_status"),
        (ConsultationEvent, "from_status"),
        (Message, "status"),
        (Payout, "status"),
        (Hold, "status"),
        (Payment, "status"),
        (Refund, "status"),
        (WalletStatusChange, "action"),
    ]


@pytest.mark.django_db
def test_every_status_column_has_a_check_constraint():
    """A raw UPDATE to a status no code knows is refused for every status column."""
    refused = []
    for model, column in _status_tables():
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = %s AND c.contype = 'c'",
                [table],
            )
            definitions = " ".join(row[0] for row in cursor.fetchall())
        if f"({column})" in definitions or f"{column} " in definitions:
            refused.append((table, column))
    assert refused == [(m._meta.db_table, c) for m, c in _status_tables()]


@pytest.mark.django_db
def test_a_status_no_code_knows_is_refused(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client_user = ClientFactory()
    consultation = ActiveConsultationFactory(client=client_user)
    event = ConsultationEvent.objects.create(
        consultation=consultation, from_status="pending", to_status="active", at=timezone.now()
    )
    payment = paid_payment(client_user, 10_000)
    cases = [
        ("consultations_consultation", "status", consultation.id, "consultation_status_known"),
        (
            "consultations_consultationevent",
            "to_status",
            event.id,
            "consultation_event_status_known",
        ),
        ("wallets_payment", "status", payment.id, "payment_status_known"),
    ]
    for table, column, row_id, rule in cases:
        with pytest.raises(IntegrityError, match=rule):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET {column} = 'bogus' WHERE id = %s",  # noqa: S608
                    [row_id],
                )
