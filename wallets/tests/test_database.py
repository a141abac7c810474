"""What PostgreSQL enforces by itself, whatever the code does."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from wallets import services
from wallets.models import Account, AccountKind, LedgerEntry, LedgerTransaction
from wallets.tests.factories import fund

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"
)


def _insert_unbalanced(account_a, account_b):
    txn_id = uuid.uuid4()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_ledgertransaction (id, kind, idempotency_key, reference_type, "
            "reference_id, description, created_at) VALUES (%s, 'adjustment', %s, '', '', '', %s)",
            [txn_id, f"raw:{txn_id}", now],
        )
        for account, amount in ((account_a, 500), (account_b, -400)):
            cursor.execute(
                "INSERT INTO wallets_ledgerentry (public_id, transaction_id, account_id, kind, "
                "amount, balance_after, created_at) VALUES (%s, %s, %s, 'adjustment', %s, 0, %s)",
                [uuid.uuid4(), txn_id, account.id, amount, now],
            )


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_transaction_fails_at_commit(client_user):
    wallet = services.wallet_for(user=client_user)
    other = services.system_account(AccountKind.PLATFORM_ADJUSTMENTS)
    with pytest.raises(DatabaseError, match="ledger_transaction_balanced"):
        with transaction.atomic():
            _insert_unbalanced(wallet, other)
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db
def test_an_unbalanced_transaction_fails_when_checked_immediately(client_user):
    wallet = services.wallet_for(user=client_user)
    other = services.system_account(AccountKind.PLATFORM_ADJUSTMENTS)
    with pytest.raises(DatabaseError, match="ledger_transaction_balanced"):
        with transaction.atomic():
            _insert_unbalanced(wallet, other)
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ledger_transaction_balanced IMMEDIATE")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallets_ledgerentry SET amount = amount + 1",
        "UPDATE wallets_ledgerentry SET kind = 'refund'",
        "DELETE FROM wallets_ledgerentry",
    ],
)
def test_an_entry_can_be_neither_updated_nor_deleted(client_user, sql):
    fund(client_user, 1000)
    with pytest.raises(IntegrityError, match="ledger_entry_immutable"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert LedgerEntry.objects.count() == 2


@pytest.mark.django_db
def test_the_orm_cannot_delete_an_entry_either(client_user):
    fund(client_user, 1000)
    with pytest.raises(IntegrityError, match="ledger_entry_immutable"):
        with transaction.atomic():
            LedgerEntry.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "rule"),
    [
        ({"balance": -1}, "wallet_balance_non_negative"),
        ({"held": -1}, "wallet_held_non_negative"),
        ({"held": 1001}, "wallet_held_within_balance"),
    ],
)
def test_a_wallet_row_cannot_break_its_rules(client_user, values, rule):
    wallet = fund(client_user, 1000)
    with pytest.raises(IntegrityError, match=rule):
        with transaction.atomic():
            Account.objects.filter(id=wallet.id).update(**values)


@pytest.mark.ledger_corrupted
@pytest.mark.django_db
def test_a_system_account_may_go_negative():
    clearing = services.system_account(AccountKind.GATEWAY_CLEARING)
    Account.objects.filter(id=clearing.id).update(balance=-5)


@pytest.mark.django_db
def test_idempotency_keys_are_unique(client_user):
    now = timezone.now()
    fund(client_user, 100, key="k")  # a whole (balanced, two-legged) transaction
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            LedgerTransaction.objects.create(kind="adjustment", idempotency_key="k", created_at=now)


@pytest.mark.django_db
def test_an_idempotency_key_is_written_into_one_index_only():
    """Every posting inserts its key: one unique index, no `varchar_pattern_ops` twin (0012)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'wallets_ledgertransaction' "
            "AND indexdef LIKE '%%idempotency_key%%'"
        )
        indexes = [row[0] for row in cursor.fetchall()]
    assert len(indexes) == 1, indexes
    assert indexes[0].startswith("CREATE UNIQUE INDEX")


# --- Ledger transactions, legs, status columns -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallets_ledgertransaction SET description = 'rewritten'",
        "UPDATE wallets_ledgertransaction SET idempotency_key = idempotency_key || 'x'",
        "DELETE FROM wallets_ledgertransaction",
    ],
)
def test_a_transaction_can_be_neither_updated_nor_deleted(client_user, sql):
    fund(client_user, 1000)
    with pytest.raises(IntegrityError, match="ledger_transaction_immutable"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert LedgerTransaction.objects.get().description == ""


@pytest.mark.django_db
def test_the_orm_cannot_rewrite_a_transaction_either(client_user):
    fund(client_user, 1000)
    with pytest.raises(IntegrityError, match="ledger_transaction_immutable"):
        with transaction.atomic():
            LedgerTransaction.objects.update(kind="refund")


@pytest.mark.django_db(transaction=True)
def test_a_transaction_without_entries_fails_at_commit():
    with pytest.raises(DatabaseError, match="ledger_transaction_two_legs"):
        with transaction.atomic():
            LedgerTransaction.objects.create(
                kind="adjustment", idempotency_key="raw:empty", created_at=timezone.now()
            )
    assert not LedgerTransaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_of_one_leg_fails_at_commit(client_user):
    wallet = services.wallet_for(user=client_user)
    now = timezone.now()
    with pytest.raises(DatabaseError, match="ledger_transaction_two_legs"):
        with transaction.atomic():
            txn = LedgerTransaction.objects.create(
                kind="adjustment", idempotency_key="raw:one-leg", created_at=now
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO wallets_ledgerentry (public_id, transaction_id, account_id, "
                    "kind, amount, balance_after, created_at) "
                    "VALUES (%s, %s, %s, 'adjustment', 500, 500, %s)",
                    [uuid.uuid4(), txn.id, wallet.id, now],
                )
    assert not LedgerEntry.objects.exists()
