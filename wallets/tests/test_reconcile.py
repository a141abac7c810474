"""`manage.py reconcile_ledger` and `reconcile_payments`."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from wallets import payments, services
from wallets.gateway import LocalGateway
from wallets.models import Account, AccountKind, Payment
from wallets.tests import factories as ledger
from wallets.tests.factories import fund, paid_payment

pytestmark = pytest.mark.django_db


def reconcile(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("reconcile_ledger", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue(), err.getvalue()


def some_books():
    client, consultant = ClientFactory(), ConsultantUserFactory()
    payment = paid_payment(client, 50_000)
    ledger.transfer(
        from_user=client,
        to_user=consultant,
        amount=12_345,
        commission=services.commission_for(12_345),
        idempotency_key="charge",
    )
    services.hold(user=client, amount=1000, idempotency_key="hold")
    payments.refund_payment(payment_id=payment.id, amount=5000)
    return client, consultant


def test_a_clean_ledger_exits_0_and_says_what_it_checked():
    some_books()
    code, out, err = reconcile()
    assert code == 0, err
    assert "checked: every transaction's legs sum to zero" in out
    assert "checked: platform revenue equals the commissions" in out
    assert "checked: captured payments equal recharges; refunds equal refund debits" in out
    assert "the ledger is clean" in out


def test_it_shows_progress_in_chunks():
    for _ in range(5):
        fund(ClientFactory(), 100)
    code, out, _ = reconcile("--chunk", "2")
    assert code == 0
    assert "accounts checked: 2/" in out and "accounts checked: 4/" in out


@pytest.mark.ledger_corrupted
@pytest.mark.parametrize(
    ("corruption", "says"),
    [
        ({"balance": 49_999}, "balance"),
        ({"held": 0}, "held"),
    ],
)
def test_a_corrupted_wallet_exits_non_zero(corruption, says):
    client, _ = some_books()
    Account.objects.filter(user=client).update(**corruption)
    code, _, err = reconcile()
    assert code == 1
    assert "VIOLATION" in err and says in err


@pytest.mark.ledger_corrupted
def test_a_payment_marked_captured_without_a_credit_is_a_violation():
    client = ClientFactory()
    payment = payments.create_recharge(user=client, amount=10_000)
    Payment.objects.filter(id=payment.id).update(status="captured")
    code, _, err = reconcile()
    assert code == 1
    assert "never credited" in err
    assert "captured payments 10000 != recharges 0" in err


@pytest.mark.ledger_corrupted
def test_revenue_that_is_not_commission_is_a_violation():
    client = ClientFactory()
    fund(client, 1000)
    services.post_transaction(
        kind="adjustment",
        legs=[
            services.Leg(services.system_account(AccountKind.PLATFORM_REVENUE), -10),
            services.Leg(services.wallet_for(user=client), 10),
        ],
        idempotency_key="odd",
    )
    code, _, err = reconcile()
    assert code == 1
    assert "not commissions" in err


def test_reconcile_payments_credits_what_the_gateway_captured_once():
    client = ClientFactory()
    captured = payments.create_recharge(user=client, amount=10_000)
    payments.create_recharge(user=client, amount=20_000)  # never paid
    LocalGateway.pay(captured.gateway_order_id)
    out = StringIO()
    call_command("reconcile_payments", stdout=out)
    assert "checked 2 orders, credited 1" in out.getvalue()
    call_command("reconcile_payments", stdout=StringIO())
    assert services.wallet_for(user=client).balance == 10_000
    assert reconcile()[0] == 0


def test_purge_idempotency_keys_runs():
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert "deleted 0" in out.getvalue()
