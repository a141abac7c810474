"""Signatures, and the real Razorpay client with its HTTP faked at the network edge."""

import json

import pytest
import requests
import responses
from django.conf import settings

from wallets import payments
from wallets.gateway import (
    GatewayDeclined,
    GatewayTimeout,
    LocalGateway,
    RazorpayGateway,
    get_gateway,
    hmac_hex,
    payment_signature,
)
from wallets.models import Payment, Refund
from wallets.services import wallet_for
from wallets.tests.factories import paid_payment

API = "https://api.razorpay.com/v1"


def _mutate(text: str, index: int = 3) -> str:
    swapped = "0" if text[index] != "0" else "1"
    return text[:index] + swapped + text[index + 1 :]


@pytest.mark.parametrize("gateway", [LocalGateway(), "razorpay"])
def test_signature_mutants_are_refused_and_the_genuine_one_accepted(gateway, settings):
    if gateway == "razorpay":
        settings.RAZORPAY_KEY_ID = "rzp_test_x"
        gateway = RazorpayGateway()
    order_id, payment_id = "order_Abc123XyZ", "pay_Def456UvW"
    genuine = payment_signature(order_id, payment_id)
    verify = gateway.verify_payment_signature
    assert verify(order_id=order_id, payment_id=payment_id, signature=genuine)
    webhook_secret = settings.RAZORPAY_WEBHOOK_SECRET
    key_secret = settings.RAZORPAY_KEY_SECRET
    mutants = [
        (_mutate(order_id), payment_id, genuine),  # a character changed in the order id
        (order_id, _mutate(payment_id), genuine),  # ... in the payment id
        (order_id, payment_id, _mutate(genuine)),  # ... in the signature
        (order_id, payment_id, genuine.upper()),
        (order_id, payment_id, genuine[:-1]),
        (order_id, payment_id, ""),
        (order_id, "", payment_signature(order_id, "")),
        # the webhook secret used as the key secret
        (order_id, payment_id, payment_signature(order_id, payment_id, webhook_secret)),
        # a genuine signature of ANOTHER order, checked against our stored order id
        (order_id, payment_id, payment_signature("order_Other999", payment_id)),
        # the message in the wrong order
        (order_id, payment_id, hmac_hex(key_secret, f"{payment_id}|{order_id}".encode())),
    ]
    for mutant_order, mutant_payment, mutant_signature in mutants:
        assert not verify(
            order_id=mutant_order, payment_id=mutant_payment, signature=mutant_signature
        ), (mutant_order, mutant_payment, mutant_signature)


@pytest.mark.django_db
def test_verify_uses_the_stored_order_id_not_another_orders(client_user):
    mine = payments.create_recharge(user=client_user, amount=10_000)
    other = payments.create_recharge(user=client_user, amount=90_000)
    pay_id, other_signature = LocalGateway.pay(other.gateway_order_id)
    with pytest.raises(Exception) as caught:
        payments.verify_recharge(
            user=client_user,
            razorpay_order_id=mine.gateway_order_id,
            razorpay_payment_id=pay_id,
            razorpay_signature=other_signature,
        )
    assert getattr(caught.value, "code", None) == "invalid_signature"
    assert wallet_for(user=client_user).balance == 0


def test_webhook_signatures_use_the_webhook_secret():
    body = b'{"event":"payment.captured"}'
    gateway = LocalGateway()
    assert gateway.verify_webhook_signature(
        body=body, signature=hmac_hex(settings.RAZORPAY_WEBHOOK_SECRET, body)
    )
    assert not gateway.verify_webhook_signature(
        body=body, signature=hmac_hex(settings.RAZORPAY_KEY_SECRET, body)
    )
    assert not gateway.verify_webhook_signature(
        body=body + b" ", signature=hmac_hex(settings.RAZORPAY_WEBHOOK_SECRET, body)
    )


def test_settings_choose_the_gateway(settings):
    assert isinstance(get_gateway(), LocalGateway)
    settings.PAYMENT_GATEWAY = "razorpay"
    assert isinstance(get_gateway(), RazorpayGateway)


# --- The real client, HTTP faked ---------------------------------------------------------------


@responses.activate
def test_it_creates_an_order_on_razorpay(razorpay_settings):
    responses.post(
        f"{API}/orders",
        json={"id": "order_R1", "amount": 50_000, "currency": "INR", "status": "created"},
    )
    order = RazorpayGateway().create_order(
        amount=50_000, currency="INR", receipt="r-1", notes={"payment_id": "p"}
    )
    assert (order.id, order.amount, order.currency) == ("order_R1", 50_000, "INR")
    sent = responses.calls[0].request
    assert json.loads(sent.body)["amount"] == 50_000
    assert sent.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_a_razorpay_refusal_or_outage_is_told_apart(razorpay_settings):
    responses.post(
        f"{API}/orders",
        status=400,
        json={"error": {"code": "BAD_REQUEST_ERROR", "description": "amount too small"}},
    )
    with pytest.raises(GatewayDeclined):
        RazorpayGateway().create_order(amount=1, currency="INR", receipt="r", notes={})
    responses.replace(
        responses.POST, f"{API}/orders", body=requests.exceptions.ConnectTimeout("slow")
    )
    with pytest.raises(GatewayTimeout):
        RazorpayGateway().create_order(amount=100, currency="INR", receipt="r", notes={})
    responses.replace(
        responses.POST,
        f"{API}/orders",
        status=500,
        json={"error": {"code": "SERVER_ERROR", "description": "down"}},
    )
    with pytest.raises(GatewayTimeout):
        RazorpayGateway().create_order(amount=100, currency="INR", receipt="r", notes={})


@responses.activate
def test_a_recharge_through_razorpay_end_to_end(razorpay_settings, api, client_user):
    responses.post(f"{API}/orders", json={"id": "order_E2E", "amount": 25_000, "currency": "INR"})
    api.force_authenticate(client_user)
    created = api.post("/api/v1/wallet/recharge", {"amount": 25_000}, format="json")
    assert created.status_code == 201
    assert created.json()["key_id"] == "rzp_test_key"
    assert created.json()["gateway_order_id"] == "order_E2E"
    signature = hmac_hex("rzp-secret", b"order_E2E|pay_E2E")
    verified = api.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": "order_E2E",
            "razorpay_payment_id": "pay_E2E",
            "razorpay_signature": signature,
        },
        format="json",
    )
    assert verified.status_code == 200
    assert verified.json()["balance"] == 25_000


@responses.activate
def test_an_order_the_gateway_cannot_create_is_a_502(razorpay_settings, api, client_user):
    responses.post(f"{API}/orders", body=requests.exceptions.ConnectionError("down"))
    api.force_authenticate(client_user)
    response = api.post("/api/v1/wallet/recharge", {"amount": 25_000}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "gateway_error"
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_a_refund_after_a_gateway_timeout_is_never_sent_twice(razorpay_settings, client_user):
    with responses.RequestsMock() as mocked:
        mocked.post(f"{API}/orders", json={"id": "order_T", "amount": 10_000, "currency": "INR"})
        payment = payments.create_recharge(user=client_user, amount=10_000)
    signature = hmac_hex("rzp-secret", b"order_T|pay_T")
    payments.verify_recharge(
        user=client_user,
        razorpay_order_id="order_T",
        razorpay_payment_id="pay_T",
        razorpay_signature=signature,
    )
    with responses.RequestsMock() as mocked:
        mocked.post(f"{API}/payments/pay_T/refund", body=requests.exceptions.ReadTimeout("slow"))
        refund = payments.refund_payment(
            payment_id=payment.id, amount=4000, reason="r", idempotency_key="k"
        )
    assert refund.status == "pending"
    assert wallet_for(user=client_user).balance == 6000
    # The refund went through at Razorpay after all: the retry finds it by its receipt.
    with responses.RequestsMock() as mocked:
        mocked.get(
            f"{API}/payments/pay_T/refunds",
            json={"items": [{"id": "rfnd_T", "status": "processed", "receipt": str(refund.id)}]},
        )
        again = payments.refund_payment(
            payment_id=payment.id, amount=4000, reason="r", idempotency_key="k"
        )
        assert [c.request.method for c in mocked.calls] == ["GET"]
    assert (again.id, again.status, again.gateway_refund_id) == (refund.id, "processed", "rfnd_T")
    assert Refund.objects.count() == 1
    assert wallet_for(user=client_user).balance == 6000


@pytest.mark.django_db
def test_a_refund_razorpay_declines_credits_the_wallet_back(razorpay_settings, client_user):
    with responses.RequestsMock() as mocked:
        mocked.post(f"{API}/orders", json={"id": "order_D", "amount": 10_000, "currency": "INR"})
        payment = payments.create_recharge(user=client_user, amount=10_000)
    payments.verify_recharge(
        user=client_user,
        razorpay_order_id="order_D",
        razorpay_payment_id="pay_D",
        razorpay_signature=hmac_hex("rzp-secret", b"order_D|pay_D"),
    )
    with responses.RequestsMock() as mocked:
        mocked.post(
            f"{API}/payments/pay_D/refund",
            status=400,
            json={"error": {"code": "BAD_REQUEST_ERROR", "description": "no"}},
        )
        refund = payments.refund_payment(payment_id=payment.id, amount=4000)
    assert refund.status == "failed"
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("captured", 0)
    assert wallet_for(user=client_user).balance == 10_000


@pytest.mark.django_db
def test_reconcile_payments_credits_a_capture_whose_webhook_never_came(client_user):
    payment = payments.create_recharge(user=client_user, amount=12_000)
    LocalGateway.pay(payment.gateway_order_id)
    assert payments.reconcile_payments()["credited"] == 1
    assert payments.reconcile_payments()["credited"] == 0
    assert wallet_for(user=client_user).balance == 12_000


@pytest.mark.django_db
def test_a_paid_payment_fixture_is_credited(client_user):
    assert paid_payment(client_user, 5000).status == "captured"
