"""`ledger_transaction_balanced` is checked once per transaction, and still holds for raw SQL."""

import uuid

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError, IntegrityError
from django.utils import timezone

from accounts.tests.factories import ClientFactory
from wallets import services
from wallets.models import Account, AccountKind, LedgerEntry, LedgerTransaction
from wallets.reconcile import check_ledger
from wallets.tests import factories as ledger
from wallets.tests.factories import fund

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the triggers exist on PostgreSQL only"
    ),
    # Raw SQL entries that no wallet balance follows: the books are not meant to reconcile.
    pytest.mark.ledger_corrupted,
]


def insert_transaction():
    txn_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallets_ledgertransaction (id, kind, idempotency_key, reference_type, "
            "reference_id, description, created_at) VALUES (%s, 'adjustment', %s, '', '', '', %s)",
            [txn_id, f"raw:{txn_id}", timezone.now()],
        )
    return txn_id


def insert_entries(txn_id, *legs):
    with connection.cursor() as cursor:
        for account, amount in legs:
            cursor.execute(
                "INSERT INTO wallets_ledgerentry (public_id, transaction_id, account_id, kind, "
                "amount, balance_after, created_at) VALUES (%s, %s, %s, 'adjustment', %s, 0, %s)",
                [uuid.uuid4(), txn_id, account.id, amount, timezone.now()],
            )


@pytest.fixture
def accounts(db):
    return (
        services.wallet_for(user=ClientFactory()),
        services.system_account(AccountKind.PLATFORM_ADJUSTMENTS),
    )


@pytest.mark.django_db(transaction=True)
def test_balanced_legs_inserted_one_statement_at_a_time_commit(accounts):
    wallet, other = accounts
    with transaction.atomic():
        txn_id = insert_transaction()
        insert_entries(txn_id, (wallet, 500))
        insert_entries(txn_id, (other, -500))
    assert LedgerEntry.objects.filter(transaction_id=txn_id).count() == 2


@pytest.mark.django_db(transaction=True)
def test_balanced_inserts_inside_savepoints_commit(accounts):
    wallet, other = accounts
    with transaction.atomic():
        with transaction.atomic():
            txn_id = insert_transaction()
        with transaction.atomic():
            insert_entries(txn_id, (wallet, 300))
            with transaction.atomic():
                insert_entries(txn_id, (other, -300))
    assert LedgerEntry.objects.filter(transaction_id=txn_id).count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_transaction_made_in_savepoints_fails_at_commit(accounts):
    wallet, other = accounts
    with pytest.raises(DatabaseError, match="ledger_transaction_balanced"):
        with transaction.atomic():
            with transaction.atomic():
                txn_id = insert_transaction()
            with transaction.atomic():
                insert_entries(txn_id, (wallet, 300), (other, -200))
    assert not LedgerTransaction.objects.filter(id=txn_id).exists()


@pytest.mark.django_db(transaction=True)
def test_an_entry_added_to_a_committed_transaction_is_refused(accounts):
    wallet, other = accounts
    with transaction.atomic():
        txn_id = insert_transaction()
        insert_entries(txn_id, (wallet, 500), (other, -500))
    # Even a balanced pair added later is refused: the old transaction is closed for good.
    with pytest.raises(DatabaseError, match="ledger_transaction_balanced"):
        with transaction.atomic():
            insert_entries(txn_id, (wallet, 100), (other, -100))
    with pytest.raises(DatabaseError, match="ledger_transaction_balanced"):
        with transaction.atomic():
            insert_entries(txn_id, (wallet, 100))
    assert LedgerEntry.objects.filter(transaction_id=txn_id).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_batch_posted_by_the_services_passes_the_check(accounts):
    client = ClientFactory()
    fund(client, 10_000)
    ledger.debit(user=client, amount=2_500, kind="adjustment", idempotency_key="d")
    assert services.wallet_for(user=client).balance == 7_500
    assert check_ledger().clean


# --- The entries' references, checked once per statement (migration 0010) --------------------


class Gone:
    """An account id no row has."""

    id = 2**62


@pytest.mark.django_db(transaction=True)
def test_an_entry_of_an_account_that_does_not_exist_is_refused(accounts):
    wallet, _ = accounts
    with pytest.raises(IntegrityError, match="ledger_entry_account_exists"):
        with transaction.atomic():
            txn_id = insert_transaction()
            insert_entries(txn_id, (wallet, 500), (Gone, -500))
    assert not LedgerTransaction.objects.filter(id=txn_id).exists()


@pytest.mark.django_db(transaction=True)
def test_an_entry_of_a_transaction_that_does_not_exist_is_refused(accounts):
    wallet, other = accounts
    with pytest.raises(IntegrityError, match="ledger_entry_transaction_exists"):
        with transaction.atomic():
            insert_entries(uuid.uuid4(), (wallet, 500), (other, -500))
    assert not LedgerEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_account_with_entries_cannot_be_deleted_and_one_without_can(accounts):
    wallet, other = accounts
    with transaction.atomic():
        txn_id = insert_transaction()
        insert_entries(txn_id, (wallet, 500), (other, -500))
    with pytest.raises(IntegrityError, match="ledger_account_keeps_its_entries"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM wallets_account WHERE id = %s", [wallet.id])
    assert LedgerEntry.objects.filter(account_id=wallet.id).count() == 1
    empty = services.wallet_for(user=ClientFactory())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM wallets_account WHERE id = %s", [empty.id])
    assert not Account.objects.filter(id=empty.id).exists()
