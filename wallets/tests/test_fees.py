"""Gateway fees in the books: recorded as the gateway reports them, posted once as the platform's
expense, and shown net in the reconciliation and the operators' figures."""

import json
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from threading import Barrier

import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.tests.factories import AdminFactory, ClientFactory, ConsultantUserFactory
from wallets import fees, payments, services
from wallets.gateway import LocalGateway, RazorpayGateway, local_fee
from wallets.models import Account, AccountKind, EntryKind, LedgerTransaction, Payment
from wallets.reconcile import check_ledger
from wallets.tests import factories as ledger
from wallets.tests.factories import paid_payment, webhook_body, webhook_headers
from wallets.tests.stripe_fakes import API as STRIPE_API
from wallets.tests.stripe_fakes import intent, post_event, use_stripe

pytestmark = pytest.mark.django_db


def balance(kind: str) -> int:
    account = Account.objects.filter(kind=kind, user__isnull=True).first()
    return account.balance if account else 0


def razorpay_webhook(api, payment, gateway_payment_id, *, fee, tax, event_id="evt_fee"):
    event = json.loads(webhook_body(payment, gateway_payment_id))
    event["payload"]["payment"]["entity"].update(fee=fee, tax=tax)
    body = json.dumps(event).encode()
    return api.generic(
        "POST",
        "/api/v1/payments/razorpay/webhook",
        body,
        content_type="application/json",
        **webhook_headers(body, event_id),
    )


def test_the_razorpay_webhook_posts_the_reported_fee_as_the_platforms_expense(api):
    user = ClientFactory()
    payment = payments.create_recharge(user=user, amount=50_000)
    gateway_payment_id, _ = LocalGateway.pay(payment.gateway_order_id)
    response = razorpay_webhook(api, payment, gateway_payment_id, fee=1180, tax=180)
    assert response.json() == {"status": "credited"}
    payment.refresh_from_db()
    assert (payment.fee, payment.tax) == (1180, 180)
    assert services.wallet_for(user=user).balance == 50_000  # the client pays no fee
    assert balance(AccountKind.GATEWAY_FEES) == -1180
    # What the gateway will settle: the payment less its fee.
    assert balance(AccountKind.GATEWAY_CLEARING) == -(50_000 - 1180)
    assert check_ledger().clean


def test_a_fee_is_posted_once_whoever_records_it_and_however_often(api):
    payment = payments.create_recharge(user=ClientFactory(), amount=20_000)
    gateway_payment_id, _ = LocalGateway.pay(payment.gateway_order_id)
    razorpay_webhook(api, payment, gateway_payment_id, fee=472, tax=72)
    razorpay_webhook(api, payment, gateway_payment_id, fee=472, tax=72, event_id="evt_other")
    assert not fees.record_fee(payment_id=payment.id, fee=999, tax=0)
    payment.refresh_from_db()
    assert not fees.collect_fee(payment=payment)
    assert (payment.fee, payment.tax) == (472, 72)
    assert LedgerTransaction.objects.filter(kind=EntryKind.GATEWAY_FEE).count() == 1
    assert check_ledger().clean


def test_no_fee_is_recorded_for_a_payment_that_was_not_captured():
    payment = payments.create_recharge(user=ClientFactory(), amount=20_000)
    assert not fees.record_fee(payment_id=payment.id, fee=100, tax=18)
    payment.refresh_from_db()
    assert payment.fee is None


@pytest.mark.parametrize(("fee", "tax"), [(-1, 0), (10, 11), (10, -1), (1.5, 0), ("5", 0)])
def test_impossible_fees_are_refused(fee, tax):
    payment = paid_payment(ClientFactory(), 10_000)
    with pytest.raises(ValueError):
        fees.record_fee(payment_id=payment.id, fee=fee, tax=tax)


def test_a_zero_fee_is_known_and_posts_nothing():
    payment = paid_payment(ClientFactory(), 10_000)
    assert fees.record_fee(payment_id=payment.id, fee=0, tax=0)
    assert not LedgerTransaction.objects.filter(kind=EntryKind.GATEWAY_FEE).exists()
    assert check_ledger().clean


def test_reconciliation_asks_the_gateway_for_fees_still_unknown():
    payment = paid_payment(ClientFactory(), 80_000)  # verified: no webhook, so no fee yet
    assert payment.fee is None
    assert fees.collect_missing_fees() == 1
    payment.refresh_from_db()
    assert (payment.fee, payment.tax) == local_fee(80_000) == (1888, 288)
    assert fees.collect_missing_fees() == 0
    assert check_ledger().clean


@responses.activate
def test_razorpay_is_asked_for_its_payment_entitys_fee_and_tax(settings):
    settings.RAZORPAY_KEY_ID = "rzp_test_key"
    responses.get(
        "https://api.razorpay.com/v1/payments/pay_F1",
        json={"id": "pay_F1", "entity": "payment", "amount": 50_000, "fee": 1180, "tax": 180},
    )
    assert RazorpayGateway().fetch_fees("pay_F1") == (1180, 180)
    responses.upsert(
        responses.GET,
        "https://api.razorpay.com/v1/payments/pay_F1",
        json={"id": "pay_F1", "fee": None, "tax": None},
    )
    assert RazorpayGateway().fetch_fees("pay_F1") is None


def test_the_payments_list_shows_fee_and_tax(api):
    user = ClientFactory()
    payment = paid_payment(user, 30_000)
    api.force_authenticate(user)
    assert api.get("/api/v1/payments").json()["results"][0]["fee"] is None
    fees.record_fee(payment_id=payment.id, fee=708, tax=108)
    row = api.get("/api/v1/payments").json()["results"][0]
    assert (row["fee"], row["tax"]) == (708, 108)


# --- Stripe: the balance transaction -----------------------------------------------------------


def charge_with_fee(charge_id="ch_1", *, fee=1475, tax=225):
    return {
        "id": charge_id,
        "object": "charge",
        "amount": 50_000,
        "balance_transaction": {
            "id": "txn_1",
            "object": "balance_transaction",
            "amount": 50_000,
            "fee": fee,
            "net": 50_000 - fee,
            "fee_details": [
                {"amount": fee - tax, "currency": "inr", "type": "stripe_fee"},
                {"amount": tax, "currency": "inr", "type": "tax"},
            ],
        },
    }


@pytest.fixture
def stripe_api(settings):
    use_stripe(settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(f"{STRIPE_API}/payment_intents", json=intent("pi_1", 50_000))
        yield mock


def test_the_stripe_webhook_asks_for_the_charges_fee_after_the_credit(stripe_api, api):
    stripe_api.get(f"{STRIPE_API}/charges/ch_1", json=charge_with_fee())
    payments.create_recharge(user=ClientFactory(), amount=50_000)
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "payment_intent.succeeded",
            "data": {"object": intent("pi_1", 50_000, status="succeeded", charge="ch_1")},
        }
    ).encode()
    assert post_event(api, body).json() == {"status": "credited"}
    payment = Payment.objects.get()
    assert (payment.fee, payment.tax) == (1475, 225)
    asked = [c.request.url for c in stripe_api.calls if c.request.method == "GET"]
    assert asked == [f"{STRIPE_API}/charges/ch_1?expand%5B0%5D=balance_transaction"]
    assert balance(AccountKind.GATEWAY_CLEARING) == -(50_000 - 1475)
    assert check_ledger().clean


def test_a_fee_stripe_does_not_know_yet_is_left_to_reconciliation(stripe_api, api):
    charge = charge_with_fee() | {"balance_transaction": None}
    stripe_api.get(f"{STRIPE_API}/charges/ch_1", json=charge)
    stripe_api.get(
        f"{STRIPE_API}/payment_intents/pi_1",
        json=intent("pi_1", 50_000, status="succeeded", charge="ch_1"),
    )
    payment = payments.create_recharge(user=ClientFactory(), amount=50_000)
    payments.confirm_recharge(user=payment.user, payment_id=payment.id)
    assert fees.collect_missing_fees() == 0
    stripe_api.upsert(responses.GET, f"{STRIPE_API}/charges/ch_1", json=charge_with_fee())
    assert fees.collect_missing_fees() == 1
    payment.refresh_from_db()
    assert (payment.fee, payment.tax) == (1475, 225)


# --- The books' figures ------------------------------------------------------------------------


def books_with_a_fee():
    client, consultant = ClientFactory(), ConsultantUserFactory()
    payment = paid_payment(client, 50_000)
    fees.record_fee(payment_id=payment.id, fee=1180, tax=180)
    ledger.transfer(
        from_user=client,
        to_user=consultant,
        amount=20_000,
        commission=4000,
        idempotency_key="charge",
    )


def test_reconcile_ledger_shows_revenue_net_of_fees():
    books_with_a_fee()
    out = StringIO()
    call_command("reconcile_ledger", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "platform revenue 4000 paise, gateway fees 1180 paise" in text
    assert "revenue net of fees 2820 paise" in text
    assert "the ledger is clean" in text


@pytest.mark.ledger_corrupted
def test_a_fee_written_without_its_posting_is_a_violation():
    payment = paid_payment(ClientFactory(), 10_000)
    Payment.objects.filter(id=payment.id).update(fee=236, tax=36)
    report = check_ledger()
    assert any("gateway fees disagree" in v for v in report.violations)
    assert any("gateway clearing" in v for v in report.violations)


def test_the_operators_daily_figures_show_fees_and_net_revenue(client):
    books_with_a_fee()
    client.force_login(AdminFactory())
    html = client.get(reverse("admin:index")).content.decode()
    assert "Gateway fees today" in html and "₹11.80" in html
    assert "Revenue net of fees today" in html and "₹28.20" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_racing_recorders_post_a_fee_once():
    payment = paid_payment(ClientFactory(), 60_000)
    start = Barrier(8)

    def record(_):
        try:
            start.wait()
            return fees.record_fee(payment_id=payment.id, fee=1416, tax=216)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(record, range(8)))
    assert outcomes.count(True) == 1
    assert LedgerTransaction.objects.filter(kind=EntryKind.GATEWAY_FEE).count() == 1
    assert balance(AccountKind.GATEWAY_FEES) == -1416
    assert check_ledger().clean
