"""The ledger services: postings, holds, batches (credits, debits and charges are built
from balanced postings by the test factories)."""

import pytest

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from wallets import services
from wallets.errors import InsufficientFunds
from wallets.models import AccountKind, EntryKind, Hold, HoldStatus, LedgerEntry, LedgerTransaction
from wallets.reconcile import check_ledger
from wallets.services import Leg, Posting, wallet_for
from wallets.tests import factories as ledger
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db


def debit(user, amount, key, **kwargs):
    return ledger.debit(
        user=user, amount=amount, kind=EntryKind.ADJUSTMENT, idempotency_key=key, **kwargs
    )


def test_a_wallet_is_made_once_per_user(client_user):
    assert services.wallet_for(user=client_user) == services.wallet_for(user=client_user)
    assert services.wallet_for(user=client_user).balance == 0


def test_a_credit_moves_money_from_a_system_account(client_user):
    txn = ledger.credit(
        user=client_user, amount=5000, kind=EntryKind.ADJUSTMENT, idempotency_key="c1"
    )
    assert services.wallet_for(user=client_user).balance == 5000
    assert services.system_account(AccountKind.PLATFORM_ADJUSTMENTS).balance == -5000
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-5000, 5000]


def test_a_repeated_key_moves_nothing_more(client_user):
    first = ledger.credit(
        user=client_user, amount=5000, kind=EntryKind.ADJUSTMENT, idempotency_key="same"
    )
    again = ledger.credit(
        user=client_user, amount=5000, kind=EntryKind.ADJUSTMENT, idempotency_key="same"
    )
    assert first.pk == again.pk
    assert services.wallet_for(user=client_user).balance == 5000


def test_a_debit_beyond_the_balance_is_refused_and_moves_nothing(client_user):
    fund(client_user, 1000)
    with pytest.raises(InsufficientFunds):
        debit(client_user, 1001, "d1")
    assert services.wallet_for(user=client_user).balance == 1000


def test_unbalanced_or_float_legs_are_refused_before_the_database(client_user):
    wallet = services.wallet_for(user=client_user)
    revenue = services.system_account(AccountKind.PLATFORM_REVENUE)
    for legs in (
        [Leg(wallet, 100), Leg(revenue, -99)],
        [Leg(wallet, 100.0), Leg(revenue, -100.0)],
        [Leg(wallet, True), Leg(revenue, -1)],
        [Leg(wallet, 0), Leg(revenue, 0)],
        [Leg(wallet, 100)],
    ):
        with pytest.raises(ValueError):
            services.post_transaction(kind="adjustment", legs=legs, idempotency_key="x")
    assert not LedgerTransaction.objects.exists()


def test_a_transfer_splits_the_charge_with_the_platform():
    client, consultant = ClientFactory(), ConsultantUserFactory()
    fund(client, 10_000)
    txn = ledger.transfer(
        from_user=client,
        to_user=consultant,
        amount=1001,
        commission=services.commission_for(1001),
        idempotency_key="charge-1",
        reference_type="consultation",
        reference_id="abc",
    )
    assert services.commission_for(1001) == 200  # 20 % rounded down
    assert services.wallet_for(user=client).balance == 8999
    assert services.wallet_for(user=consultant).balance == 801
    assert services.system_account(AccountKind.PLATFORM_REVENUE).balance == 200
    kinds = dict(txn.entries.values_list("kind", "amount"))
    assert kinds == {"consultation_charge": -1001, "consultation_earning": 801, "commission": 200}
    assert check_ledger().clean


def test_a_hold_reserves_the_available_balance(client_user):
    fund(client_user, 10_000)
    hold = services.hold(user=client_user, amount=7000, idempotency_key="h1")
    wallet = services.wallet_for(user=client_user)
    assert (wallet.balance, wallet.held, wallet.available) == (10_000, 7000, 3000)
    with pytest.raises(InsufficientFunds):
        services.hold(user=client_user, amount=3001, idempotency_key="h2")
    with pytest.raises(InsufficientFunds):
        debit(client_user, 3001, "over-the-hold")
    assert services.hold(user=client_user, amount=7000, idempotency_key="h1") == hold


def test_a_release_is_idempotent_and_may_be_partial(client_user):
    fund(client_user, 10_000)
    hold = services.hold(user=client_user, amount=6000, idempotency_key="h1")
    services.release(hold=hold, amount=1000)
    assert services.wallet_for(user=client_user).held == 5000
    services.release(hold_id=hold.id)
    services.release(idempotency_key="h1")
    hold.refresh_from_db()
    assert (hold.remaining, hold.status) == (0, HoldStatus.CLOSED)
    assert services.wallet_for(user=client_user).held == 0


def test_a_charge_consumes_the_hold_it_was_reserved_by():
    client, consultant = ClientFactory(), ConsultantUserFactory()
    fund(client, 10_000)
    hold = services.hold(user=client, amount=6000, idempotency_key="h")
    ledger.transfer(
        from_user=client,
        to_user=consultant,
        amount=8000,
        commission=1600,
        idempotency_key="charge",
        consume_hold=hold,
    )
    wallet = services.wallet_for(user=client)
    assert (wallet.balance, wallet.held) == (2000, 0)
    assert Hold.objects.get().status == HoldStatus.CLOSED
    assert check_ledger().clean


def test_a_charge_beyond_hold_and_available_is_refused():
    client, consultant = ClientFactory(), ConsultantUserFactory()
    fund(client, 10_000)
    hold = services.hold(user=client, amount=6000, idempotency_key="h")
    with pytest.raises(InsufficientFunds):
        ledger.transfer(
            from_user=client,
            to_user=consultant,
            amount=10_001,
            commission=0,
            idempotency_key="too-much",
            consume_hold=hold,
        )
    assert Hold.objects.get().remaining == 6000


def test_a_batch_writes_each_account_once_and_keeps_running_balances(django_assert_max_num_queries):
    clients = [ClientFactory() for _ in range(3)]
    consultants = [ConsultantUserFactory() for _ in range(3)]
    for client in clients:
        fund(client, 10_000)
    revenue = services.system_account(AccountKind.PLATFORM_REVENUE)
    postings = []
    for i, (client, consultant) in enumerate(zip(clients, consultants, strict=True)):
        for tick in range(2):
            postings.append(
                Posting(
                    kind=EntryKind.CONSULTATION_CHARGE,
                    legs=[
                        Leg(services.wallet_for(user=client), -1000),
                        Leg(services.wallet_for(user=consultant), 800, "consultation_earning"),
                        Leg(revenue, 200, EntryKind.COMMISSION),
                    ],
                    idempotency_key=f"batch:{i}:{tick}",
                )
            )
    postings.append(postings[0])  # a repeat within the batch is skipped
    with django_assert_max_num_queries(8):
        posted = services.post_transactions_batch(postings=postings)
    assert len(posted) == 6
    assert services.system_account(AccountKind.PLATFORM_REVENUE).balance == 1200
    afters = list(
        LedgerEntry.objects.filter(account=revenue)
        .order_by("id")
        .values_list("balance_after", flat=True)
    )
    assert afters == [200, 400, 600, 800, 1000, 1200]
    assert services.post_transactions_batch(postings=postings) == []
    assert check_ledger().clean


def test_a_batch_that_would_overdraw_posts_nothing():
    client, consultant = ClientFactory(), ConsultantUserFactory()
    fund(client, 1000)
    legs = [
        Leg(services.wallet_for(user=client), -600),
        Leg(services.wallet_for(user=consultant), 600),
    ]
    with pytest.raises(InsufficientFunds):
        services.post_transactions_batch(
            postings=[
                Posting(kind="adjustment", legs=legs, idempotency_key="a"),
                Posting(kind="adjustment", legs=legs, idempotency_key="b"),
            ]
        )
    assert services.wallet_for(user=client).balance == 1000


def test_a_wallet_cannot_be_locked_late():
    """`LateCredits` is for system accounts: a wallet's balance must be locked, and checked
    against what it holds, when its legs are posted."""
    from django.db import transaction

    from wallets.services import LateCredits, LockedAccount, lock_account_values, post_locked_batch

    payer, payee = ClientFactory(), ClientFactory()
    fund(payer, 1_000)
    source, target = wallet_for(user=payer), wallet_for(user=payee)
    with transaction.atomic():
        late = LateCredits([LockedAccount(target.id, payee.id, True, 0, 0)])
        post_locked_batch(
            postings=[
                Posting(
                    kind=EntryKind.ADJUSTMENT,
                    legs=[Leg(source, -10), Leg(target, 10)],
                    idempotency_key="test:late-wallet",
                )
            ],
            accounts=lock_account_values([source.id]),
            late=late,
        )
        with pytest.raises(ValueError, match="cannot be locked late"):
            late.write(None)
        transaction.set_rollback(True)
