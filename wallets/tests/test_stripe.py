"""PAYMENT_GATEWAY=stripe: the real `stripe` client, its HTTP faked at the network edge."""

import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import responses
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import ClientFactory
from wallets import payments
from wallets.gateway import GatewayDeclined, GatewayTimeout, get_gateway
from wallets.models import EntryKind, IdempotencyRecord, LedgerEntry, Payment, WebhookEvent
from wallets.reconcile import check_ledger
from wallets.services import wallet_for
from wallets.stripe_gateway import StripeGateway
from wallets.tests.stripe_fakes import (
    API,
    PUBLISHABLE_KEY,
    SECRET_KEY,
    event,
    form,
    intent,
    post_event,
    signature,
    stripe_http,
    use_stripe,
)


@pytest.fixture(autouse=True)
def stripe_mode(settings):
    use_stripe(settings)


@pytest.fixture
def stripe_api(settings):
    with stripe_http(settings) as mock:
        yield mock


def open_recharge(stripe_api, api, user, amount=50_000, intent_id="pi_1"):
    stripe_api.post(f"{API}/payment_intents", json=intent(intent_id, amount))
    api.force_authenticate(user)
    return api.post("/api/v1/wallet/recharge", {"amount": amount}, format="json")


def succeed(stripe_api, intent_id="pi_1", amount=50_000, charge="ch_1"):
    """Stripe.js confirmed it: Stripe now answers the PaymentIntent as succeeded."""
    stripe_api.upsert(
        responses.GET,
        f"{API}/payment_intents/{intent_id}",
        json=intent(intent_id, amount, status="succeeded", charge=charge),
    )


def verify(api, payment_id):
    body = {"payment_id": str(payment_id)}
    return api.post("/api/v1/wallet/recharge/verify", body, format="json")


def test_settings_choose_stripe():
    assert isinstance(get_gateway(), StripeGateway)


# --- The recharge: a PaymentIntent -------------------------------------------------------------


def test_a_recharge_is_a_payment_intent_made_with_an_idempotency_key(stripe_api, api, db):
    user = ClientFactory()
    response = open_recharge(stripe_api, api, user)
    assert response.status_code == 201
    body = response.json()
    payment = Payment.objects.get(user=user)
    assert body == {
        "payment_id": str(payment.id),
        "gateway": "stripe",
        "client_secret": "pi_1_secret_abc",
        "publishable_key": PUBLISHABLE_KEY,
        "amount": 50_000,
        "currency": "INR",
        "status": "created",
    }
    assert (payment.gateway, payment.gateway_order_id) == ("stripe", "pi_1")
    sent = stripe_api.calls[0].request
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["Idempotency-Key"] == f"payment-intent-{payment.id}"
    assert form(sent)["amount"] == "50000"
    assert form(sent)["currency"] == "inr"
    assert form(sent)["metadata[payment_id]"] == str(payment.id)


def test_stripe_retries_a_lost_answer_with_the_same_key(stripe_api, db, monkeypatch):
    monkeypatch.setattr("stripe._http_client.HTTPClient._sleep_time_seconds", lambda *a: 0)
    stripe_api.post(f"{API}/payment_intents", body=requests.exceptions.ConnectionError("lost"))
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_9", 10_000))
    payment = payments.create_recharge(user=ClientFactory(), amount=10_000)
    assert payment.gateway_order_id == "pi_9"
    keys = {call.request.headers["Idempotency-Key"] for call in stripe_api.calls}
    assert len(stripe_api.calls) == 2 and keys == {f"payment-intent-{payment.id}"}


def test_stripe_down_is_a_502_and_no_payment(stripe_api, api, db, monkeypatch):
    monkeypatch.setattr("stripe._http_client.HTTPClient._sleep_time_seconds", lambda *a: 0)
    stripe_api.post(f"{API}/payment_intents", status=500, json={"error": {"type": "api_error"}})
    api.force_authenticate(ClientFactory())
    response = api.post("/api/v1/wallet/recharge", {"amount": 10_000}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "gateway_error"
    assert not Payment.objects.exists()


def test_a_refusal_and_an_outage_are_told_apart(stripe_api, monkeypatch):
    monkeypatch.setattr("stripe._http_client.HTTPClient._sleep_time_seconds", lambda *a: 0)
    stripe_api.post(
        f"{API}/payment_intents",
        status=400,
        json={"error": {"type": "invalid_request_error", "message": "Amount too small"}},
    )
    with pytest.raises(GatewayDeclined):
        StripeGateway().create_order(amount=1, currency="INR", receipt="r", notes={})
    stripe_api.upsert(responses.POST, f"{API}/payment_intents", body=requests.Timeout("slow"))
    with pytest.raises(GatewayTimeout):
        StripeGateway().create_order(amount=100, currency="INR", receipt="r", notes={})


# --- Verify: asking Stripe ---------------------------------------------------------------------


def test_verify_asks_stripe_and_credits_once(stripe_api, api, db):
    user = ClientFactory()
    payment_id = open_recharge(stripe_api, api, user).json()["payment_id"]
    succeed(stripe_api)
    first = verify(api, payment_id)
    assert first.status_code == 200
    body = first.json()
    assert (body["status"], body["balance"]) == ("captured", 50_000)
    assert body["transaction"]["kind"] == "recharge"
    again = verify(api, payment_id)
    assert again.status_code == 200
    assert again.json()["transaction"] == body["transaction"]
    assert wallet_for(user=user).balance == 50_000
    payment = Payment.objects.get(id=payment_id)
    assert (payment.status, payment.gateway_payment_id) == ("captured", "ch_1")
    asked = [c for c in stripe_api.calls if c.request.method == "GET"]
    assert len(asked) == 1  # once credited, nothing more to ask


@pytest.mark.parametrize("status", ["requires_payment_method", "processing", "canceled"])
def test_verify_before_stripe_says_succeeded_credits_nothing(stripe_api, api, db, status):
    user = ClientFactory()
    payment_id = open_recharge(stripe_api, api, user).json()["payment_id"]
    stripe_api.get(f"{API}/payment_intents/pi_1", json=intent("pi_1", 50_000, status=status))
    response = verify(api, payment_id)
    assert response.status_code == 409
    assert response.json()["code"] == "payment_not_captured"
    assert wallet_for(user=user).balance == 0


def test_verify_of_a_smaller_amount_received_credits_nothing(stripe_api, api, db):
    user = ClientFactory()
    payment_id = open_recharge(stripe_api, api, user).json()["payment_id"]
    stripe_api.get(
        f"{API}/payment_intents/pi_1",
        json=intent("pi_1", 50_000, status="succeeded", charge="ch_1", received=100),
    )
    assert verify(api, payment_id).status_code == 409
    assert wallet_for(user=user).balance == 0


def test_verify_of_someone_elses_or_no_payment_is_not_found(stripe_api, api, db):
    payment_id = open_recharge(stripe_api, api, ClientFactory()).json()["payment_id"]
    succeed(stripe_api)
    api.force_authenticate(ClientFactory())
    assert verify(api, payment_id).status_code == 404
    assert verify(api, "00000000-0000-0000-0000-000000000000").status_code == 404
    assert not LedgerEntry.objects.filter(kind=EntryKind.RECHARGE).exists()


def test_verify_when_stripe_does_not_answer_is_a_502(stripe_api, api, db, monkeypatch):
    monkeypatch.setattr("stripe._http_client.HTTPClient._sleep_time_seconds", lambda *a: 0)
    payment_id = open_recharge(stripe_api, api, ClientFactory()).json()["payment_id"]
    stripe_api.get(f"{API}/payment_intents/pi_1", body=requests.ConnectionError("down"))
    response = verify(api, payment_id)
    assert response.status_code == 502
    assert response.json()["code"] == "gateway_error"


def test_reconciliation_credits_a_succeeded_intent_nobody_reported(stripe_api, api, db):
    user = ClientFactory()
    open_recharge(stripe_api, api, user)
    succeed(stripe_api)
    assert payments.reconcile_payments()["credited"] == 1
    assert wallet_for(user=user).balance == 50_000
    assert payments.reconcile_payments()["checked"] == 0


# --- The webhook -------------------------------------------------------------------------------


def succeeded_event(event_id="evt_1", intent_id="pi_1", amount=50_000, charge="ch_1") -> bytes:
    obj = intent(intent_id, amount, status="succeeded", charge=charge)
    return event(event_id, "payment_intent.succeeded", obj)


def test_the_webhook_credits_once_per_payment(stripe_api, api, db):
    user = ClientFactory()
    open_recharge(stripe_api, api, user)
    api.force_authenticate(None)
    assert post_event(api, succeeded_event()).json() == {"status": "credited"}
    assert post_event(api, succeeded_event()).json() == {"status": "duplicate"}
    assert post_event(api, succeeded_event("evt_2")).json() == {"status": "already_credited"}
    assert wallet_for(user=user).balance == 50_000
    assert Payment.objects.get().gateway_payment_id == "ch_1"


def test_verify_after_the_webhook_answers_the_same_credit(stripe_api, api, db):
    user = ClientFactory()
    payment_id = open_recharge(stripe_api, api, user).json()["payment_id"]
    post_event(APIClient(), succeeded_event())
    response = verify(api, payment_id)
    assert response.status_code == 200
    assert response.json()["balance"] == 50_000
    assert not [c for c in stripe_api.calls if "/payment_intents/" in c.request.url]


def test_a_failed_attempt_marks_the_payment_and_a_later_success_still_credits(stripe_api, api, db):
    user = ClientFactory()
    open_recharge(stripe_api, api, user)
    failed = event("evt_f", "payment_intent.payment_failed", intent("pi_1", 50_000))
    assert post_event(api, failed).json() == {"status": "marked_failed"}
    assert Payment.objects.get().status == "failed"
    assert post_event(api, succeeded_event()).json() == {"status": "credited"}
    assert wallet_for(user=user).balance == 50_000


def test_a_succeeded_event_for_another_amount_credits_nothing(stripe_api, api, db):
    user = ClientFactory()
    open_recharge(stripe_api, api, user)
    body = succeeded_event(amount=99_999)
    assert post_event(api, body).json() == {"status": "amount_mismatch"}
    assert wallet_for(user=user).balance == 0


def test_the_webhook_refuses_what_stripe_did_not_sign_or_signed_too_long_ago(stripe_api, api, db):
    user = ClientFactory()
    open_recharge(stripe_api, api, user)
    body = succeeded_event()
    forged = [
        "",
        "t=123",
        signature(body, secret="whsec_someone_else"),
        signature(body + b" "),
        signature(body, at=int(time.time()) - 301),  # outside the 5-minute tolerance: a replay
        signature(body).replace("v1=", "v0="),
    ]
    for header in forged:
        response = post_event(api, body, header)
        assert response.status_code == 400, header
        assert response.json()["code"] == "invalid_signature"
    assert post_event(api, body, signature(body, at=int(time.time()) - 250)).status_code == 200
    assert wallet_for(user=user).balance == 50_000


@pytest.mark.parametrize("body", [b"", b"[]", b"{}", b'{"id": 5}', b"\xff\xfe"])
def test_a_signed_body_that_is_not_an_event_is_invalid(api, db, body):
    response = post_event(api, body)
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "invalid_signature"}


@pytest.mark.parametrize(
    "kind", ["payment_intent.succeeded", "payment_intent.payment_failed", "customer.created"]
)
def test_events_about_unknown_or_other_things_do_nothing(api, db, kind):
    body = event(f"evt_{kind}", kind, {"id": "pi_unknown", "amount_received": 1})
    assert post_event(api, body).status_code == 200
    assert WebhookEvent.objects.count() == 1


def test_the_razorpay_webhook_is_refused_in_stripe_mode(api, db):
    response = api.generic(
        "POST",
        "/api/v1/payments/razorpay/webhook",
        b"{}",
        content_type="application/json",
        HTTP_X_RAZORPAY_SIGNATURE="0" * 64,
    )
    assert response.status_code == 400


# --- Races: verify and webhooks in any order, concurrently --------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_webhooks_and_verifies_racing_credit_each_payment_exactly_once(stripe_api):
    users = [ClientFactory() for _ in range(4)]
    jobs, expected = [], {user.id: 0 for user in users}
    for n in range(20):
        user, amount = users[n % len(users)], 100 + n * 53
        stripe_api.upsert(responses.POST, f"{API}/payment_intents", json=intent(f"pi_{n}", amount))
        payment = payments.create_recharge(user=user, amount=amount)
        succeed(stripe_api, f"pi_{n}", amount, charge=f"ch_{n}")
        body = succeeded_event(f"evt_{n}", f"pi_{n}", amount, charge=f"ch_{n}")
        other = succeeded_event(f"evt_{n}_again", f"pi_{n}", amount, charge=f"ch_{n}")
        jobs += [("webhook", body)] * 3 + [("webhook", other), ("verify", user, payment.id)] * 2
        expected[user.id] += amount
    random.Random(15).shuffle(jobs)

    def deliver(job):
        try:
            if job[0] == "webhook":
                return post_event(APIClient(), job[1]).status_code
            api = APIClient()
            api.force_authenticate(job[1])
            return verify(api, job[2]).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(deliver, jobs))
    assert set(statuses) == {200}
    assert LedgerEntry.objects.filter(kind=EntryKind.RECHARGE).count() == 20
    assert Payment.objects.filter(status="captured").count() == 20
    for user in users:
        assert wallet_for(user=user).balance == expected[user.id]
    assert check_ledger().clean


# --- The wallet page: Stripe.js ------------------------------------------------------------------


def test_the_wallet_page_mounts_stripe_js_for_the_new_intent(stripe_api, client, db):
    user = ClientFactory()
    client.force_login(user)
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_page", 25_000))
    response = client.post("/wallet/", {"amount": "250"})
    assert response["Location"] == "/wallet/#recharge"  # where the Payment Element is
    payment = Payment.objects.get(user=user)
    page = client.get("/wallet/").content.decode()
    assert '<script src="https://js.stripe.com/v3/" defer></script>' in page
    assert "checkout.razorpay.com" not in page
    assert f'data-key="{PUBLISHABLE_KEY}"' in page
    assert 'data-secret="pi_page_secret_abc"' in page
    assert f'name="payment_id" value="{payment.id}"' in page
    assert "Pay ₹250.00" in page
    # Once: a reload shows the recharge form again, not a stale checkout.
    assert "js.stripe.com" not in client.get("/wallet/").content.decode()


def test_the_page_credits_what_stripe_confirms_once(stripe_api, client, db):
    user = ClientFactory()
    client.force_login(user)
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_page", 25_000))
    client.post("/wallet/", {"amount": "250"})
    payment = Payment.objects.get(user=user)
    stripe_api.get(f"{API}/payment_intents/pi_page", json=intent("pi_page", 25_000))
    response = client.post("/wallet/verify/", {"payment_id": str(payment.id)}, follow=True)
    assert "has not confirmed this payment yet" in response.content.decode()
    assert wallet_for(user=user).balance == 0
    succeed(stripe_api, "pi_page", 25_000, charge="ch_page")
    response = client.post("/wallet/verify/", {"payment_id": str(payment.id)})
    assert response["Location"] == "/wallet/"
    # Stripe's redirect back after a bank's page: the same question, nothing credited twice.
    response = client.get(f"/wallet/return/{payment.id}/?payment_intent=pi_page")
    assert response["Location"] == "/wallet/"
    assert wallet_for(user=user).balance == 25_000


def test_the_return_page_of_someone_elses_payment_credits_nothing(stripe_api, client, db):
    owner = ClientFactory()
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_x", 10_000))
    theirs = payments.create_recharge(user=owner, amount=10_000)
    succeed(stripe_api, "pi_x", 10_000)
    client.force_login(ClientFactory())
    client.get(f"/wallet/return/{theirs.id}/")
    assert wallet_for(user=owner).balance == 0
    assert not [c for c in stripe_api.calls if c.request.method == "GET"]


# --- Refunds through Stripe ----------------------------------------------------------------------


def paid_by_stripe(stripe_api, api, user, amount=50_000):
    payment_id = open_recharge(stripe_api, api, user, amount).json()["payment_id"]
    succeed(stripe_api, amount=amount)
    verify(api, payment_id)
    return Payment.objects.get(id=payment_id)


def test_an_admin_refund_goes_back_through_stripe_once(stripe_api, api, db):
    from accounts.tests.factories import AdminFactory
    from wallets.models import Refund
    from wallets.tests.stripe_fakes import refund_object

    user = ClientFactory()
    payment = paid_by_stripe(stripe_api, api, user)

    def answer(request):
        sent = form(request)
        made = refund_object(
            "re_1",
            charge=sent["charge"],
            amount=int(sent["amount"]),
            ours=sent["metadata[refund_id]"],
        )
        return 200, {}, json.dumps(made)

    stripe_api.add_callback(responses.POST, f"{API}/refunds", callback=answer)
    api.force_authenticate(AdminFactory())
    response = api.post(
        f"/api/v1/payments/{payment.id}/refund",
        {"amount": 20_000, "reason": "asked"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-1",
    )
    assert response.status_code == 201
    refund = Refund.objects.get()
    sent = [c.request for c in stripe_api.calls if c.request.url == f"{API}/refunds"]
    assert len(sent) == 1
    assert sent[0].headers["Idempotency-Key"] == f"refund-{refund.id}"
    assert form(sent[0])["charge"] == "ch_1" and form(sent[0])["amount"] == "20000"
    again = api.post(
        f"/api/v1/payments/{payment.id}/refund",
        {"amount": 20_000, "reason": "asked"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-1",
    )
    assert again.json() == response.json()
    assert len([c for c in stripe_api.calls if c.request.url == f"{API}/refunds"]) == 1
    assert wallet_for(user=user).balance == 30_000


def test_charge_refunded_and_refund_failed_events_settle_a_pending_refund(stripe_api, api, db):
    from wallets.models import Refund
    from wallets.tests.stripe_fakes import refund_object

    user = ClientFactory()
    payment = paid_by_stripe(stripe_api, api, user)
    stripe_api.post(f"{API}/refunds", body=requests.Timeout("no answer"))
    first = payments.refund_payment(payment_id=payment.id, amount=10_000)
    second = payments.refund_payment(payment_id=payment.id, amount=5_000)
    assert {first.status, second.status} == {"pending"}
    assert wallet_for(user=user).balance == 35_000
    done = refund_object("re_a", charge="ch_1", amount=10_000, ours=first.id)
    charge = {"id": "ch_1", "object": "charge", "refunds": {"data": [done]}}
    assert post_event(api, event("evt_r1", "charge.refunded", charge)).json() == {
        "status": "refund_processed"
    }
    failed = refund_object("re_b", charge="ch_1", amount=5_000, ours=second.id, status="failed")
    for event_id in ("evt_r2", "evt_r3"):  # delivered twice, under two ids
        post_event(api, event(event_id, "refund.failed", failed))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("processed", "failed")
    assert wallet_for(user=user).balance == 40_000  # the failed refund came back once
    assert check_ledger().clean
    assert Refund.objects.count() == 2


def test_a_replayed_recharge_asks_stripe_for_its_client_secret_which_is_never_stored(
    stripe_api, api, db
):
    user = ClientFactory()
    stripe_api.post(f"{API}/payment_intents", json=intent("pi_1", 50_000))
    stripe_api.get(f"{API}/payment_intents/pi_1", json=intent("pi_1", 50_000))
    api.force_authenticate(user)

    def recharge():
        body = {"amount": 50_000}
        return api.post("/api/v1/wallet/recharge", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    first = recharge()
    assert first.json()["client_secret"] == "pi_1_secret_abc"
    record = IdempotencyRecord.objects.get(user=user, key="r-1")
    assert "pi_1_secret_abc" not in json.dumps(record.response_body)
    assert record.response_body["client_secret"] is None

    again = recharge()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # the secret asked of Stripe again
    assert Payment.objects.filter(user=user).count() == 1

    succeed(stripe_api)  # paid meanwhile: still the first answer
    assert verify(api, first.json()["payment_id"]).status_code == 200
    assert recharge().json() == first.json()
    stripe_api.upsert(responses.GET, f"{API}/payment_intents/pi_1", status=503)
    assert recharge().json() == {**first.json(), "client_secret": None}  # Stripe down


def test_a_replayed_answer_names_no_secret_of_another_user(stripe_api, api, db):
    """A stored answer refilled only with its own user's payments' secrets."""
    from wallets.idempotency import _with_secrets

    owner, other = ClientFactory(), ClientFactory()
    assert open_recharge(stripe_api, api, owner).status_code == 201
    stripe_api.get(f"{API}/payment_intents/pi_1", json=intent("pi_1", 50_000))
    payment = Payment.objects.get(user=owner)
    stored = {"payment_id": str(payment.id), "client_secret": None}
    assert _with_secrets(stored, owner)["client_secret"] == "pi_1_secret_abc"
    assert _with_secrets(stored, other)["client_secret"] is None
    assert _with_secrets([{"booking": stored}], owner)[0]["booking"]["client_secret"]
