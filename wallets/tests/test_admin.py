"""The operator screens: read-only books, payments with the refund action, explain a balance."""

import pytest
from django.urls import reverse

from wallets import services
from wallets.models import Payment, Refund
from wallets.tests import factories as ledger
from wallets.tests.factories import fund, paid_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    "name",
    ["account", "ledgertransaction", "ledgerentry", "hold", "payment", "refund", "webhookevent"],
)
def test_every_screen_opens_and_searches(operator, client_user, name):
    paid_payment(client_user, 5000)
    url = reverse(f"admin:wallets_{name}_changelist")
    assert operator.get(url).status_code == 200
    assert operator.get(url, {"q": client_user.email}).status_code == 200


def test_the_books_cannot_be_edited_from_the_admin(operator, client_user):
    wallet = fund(client_user, 100)
    assert operator.get(reverse("admin:wallets_account_add")).status_code == 403
    response = operator.post(reverse("admin:wallets_account_delete", args=[wallet.id]))
    assert response.status_code == 403


def test_explain_lists_the_entries_with_running_totals(operator, client_user):
    fund(client_user, 700)
    fund(client_user, 300)
    ledger.debit(user=client_user, amount=250, kind="adjustment", idempotency_key="d")
    wallet = services.wallet_for(user=client_user)
    response = operator.get(reverse("admin:wallets_account_explain", args=[wallet.id]))
    assert response.status_code == 200
    assert [row["running"] for row in response.context["rows"]] == [700, 1000, 750]
    assert response.context["matches"] is True
    assert b"it matches the balance" in response.content


def test_the_refund_action_refunds_what_is_left(operator, client_user):
    payment = paid_payment(client_user, 8000)
    response = operator.post(
        reverse("admin:wallets_payment_changelist"),
        {"action": "refund_remaining", "_selected_action": [str(payment.id)]},
        follow=True,
    )
    assert response.status_code == 200
    assert Refund.objects.get().amount == 8000
    assert Payment.objects.get().status == "refunded"
    assert services.wallet_for(user=client_user).balance == 0


def test_explain_opens_with_the_sum_of_entries_it_does_not_show(operator, client_user, monkeypatch):
    monkeypatch.setattr("wallets.admin.EXPLAIN_ROWS", 2)
    for amount in (100, 200, 300, 400):
        fund(client_user, amount)
    wallet = services.wallet_for(user=client_user)
    response = operator.get(reverse("admin:wallets_account_explain", args=[wallet.id]))
    assert (response.context["earlier_count"], response.context["opening"]) == (2, 300)
    assert [row["running"] for row in response.context["rows"]] == [600, 1000]
    assert response.context["matches"] is True
