"""Refunds and payments against the gateway: one gateway refund per refund row whatever
overlaps, `pending` until the gateway confirms, failures credited back once, a second captured
payment credited as its own, reconciliation bounded. Razorpay is the real client with its HTTP
faked at the network edge (`responses`)."""

import json
import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
import requests
import responses
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.tests.factories import AdminFactory, ClientFactory
from config import jobs
from wallets import payments, tasks
from wallets.gateway import LocalGateway, hmac_hex
from wallets.models import Payment, PaymentStatus, Refund
from wallets.reconcile import check_ledger
from wallets.services import wallet_for
from wallets.tests.factories import (
    paid_payment,
    refund_webhook_body,
    webhook_body,
    webhook_headers,
)

API = "https://api.razorpay.com/v1"


def razorpay_payment(user, order_id: str, payment_id: str, amount: int = 10_000) -> Payment:
    """A recharge made and verified through the real client (the order call faked)."""
    with responses.RequestsMock() as mocked:
        mocked.post(f"{API}/orders", json={"id": order_id, "amount": amount, "currency": "INR"})
        payment = payments.create_recharge(user=user, amount=amount)
    payments.verify_recharge(
        user=user,
        razorpay_order_id=order_id,
        razorpay_payment_id=payment_id,
        razorpay_signature=hmac_hex("rzp-secret", f"{order_id}|{payment_id}".encode()),
    )
    payment.refresh_from_db()
    return payment


def timed_out_refund(payment: Payment, amount: int = 4000, idempotency_key=None) -> Refund:
    """A refund whose first gateway call got no answer: pending, sent once, outcome unknown."""
    with responses.RequestsMock() as mocked:
        mocked.post(
            f"{API}/payments/{payment.gateway_payment_id}/refund",
            body=requests.exceptions.ReadTimeout("slow"),
        )
        refund = payments.refund_payment(
            payment_id=payment.id, amount=amount, idempotency_key=idempotency_key
        )
    assert (refund.status, refund.attempts) == ("pending", 1)
    # Nobody touched it for a while: the refund job takes it.
    Refund.objects.filter(id=refund.id).update(updated_at=timezone.now() - timedelta(minutes=5))
    return refund


def post_webhook(api, body: bytes):
    return api.generic(
        "POST",
        "/api/v1/payments/razorpay/webhook",
        body,
        content_type="application/json",
        **webhook_headers(body),
    )


# --- One gateway refund per refund row ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second", ["the refund job", "manage.py reconcile_payments"])
def test_overlapping_workers_send_one_gateway_refund(razorpay_settings, monkeypatch, second):
    user = ClientFactory()
    payment = razorpay_payment(user, "order_C", "pay_C")
    refund = timed_out_refund(payment)
    in_call, release = threading.Event(), threading.Event()
    # Both workers have picked the refund from the queue before either claims it.
    both_picked = threading.Barrier(2, timeout=10)
    claim = payments._claim_refund

    def claim_together(row):
        both_picked.wait()
        return claim(row)

    monkeypatch.setattr(payments, "_claim_refund", claim_together)

    def gateway_refunds(request):
        in_call.set()
        release.wait(20)  # the winner is inside the gateway call until the other has finished
        answer = {"id": "rfnd_C", "status": "processed", "receipt": str(refund.id)}
        return 200, {}, json.dumps(answer)

    def run(which: str) -> None:
        try:
            if which == "manage.py reconcile_payments":
                call_command("reconcile_payments", stdout=StringIO())
            else:
                tasks.retry_refunds()
        finally:
            connection.close()

    with responses.RequestsMock() as mocked:
        mocked.get(f"{API}/payments/pay_C/refunds", json={"entity": "collection", "items": []})
        mocked.add_callback(
            responses.POST, f"{API}/payments/pay_C/refund", callback=gateway_refunds
        )
        workers = [
            threading.Thread(target=run, args=("the refund job",)),
            threading.Thread(target=run, args=(second,)),
        ]
        for worker in workers:
            worker.start()
        assert in_call.wait(20)
        deadline = time.monotonic() + 20
        while all(w.is_alive() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        one_finished_while_the_other_was_in_the_call = not all(w.is_alive() for w in workers)
        release.set()
        for worker in workers:
            worker.join(20)
        sent = [c.request.method for c in mocked.calls]
    assert one_finished_while_the_other_was_in_the_call
    assert sent == ["GET", "POST"]
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id, refund.attempts) == ("processed", "rfnd_C", 2)
    assert wallet_for(user=user).balance == 6000
    assert check_ledger().clean


@pytest.mark.django_db
def test_a_claimed_refund_is_left_to_its_worker(razorpay_settings, client_user):
    payment = razorpay_payment(client_user, "order_K", "pay_K")
    refund = timed_out_refund(payment, idempotency_key="k-1")
    # Another worker holds it (it is talking to the gateway right now).
    Refund.objects.filter(id=refund.id).update(claimed_until=timezone.now() + timedelta(minutes=2))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(f"{API}/payments/pay_K/refunds", json={"items": []})
        mocked.post(f"{API}/payments/pay_K/refund", json={"id": "rfnd_K", "status": "processed"})
        assert payments.retry_pending_refunds(older_than=timedelta(0)) == 0
        # The admin's retry with the same key finds the row and leaves it to that worker.
        again = payments.refund_payment(payment_id=payment.id, amount=4000, idempotency_key="k-1")
        assert len(mocked.calls) == 0
    assert (again.id, again.status, again.attempts) == (refund.id, "pending", 1)


@pytest.mark.django_db
def test_a_4xx_on_a_retry_after_a_timeout_asks_the_gateway_what_happened(
    razorpay_settings, client_user
):
    payment = razorpay_payment(client_user, "order_L", "pay_L")
    refund = timed_out_refund(payment)
    with responses.RequestsMock() as mocked:
        # Razorpay's list is not up to date yet; the new call is refused because the first
        # one went through after all; asked again, Razorpay shows it.
        mocked.get(f"{API}/payments/pay_L/refunds", json={"items": []})
        mocked.post(
            f"{API}/payments/pay_L/refund",
            status=400,
            json={"error": {"code": "BAD_REQUEST_ERROR", "description": "amount exceeds"}},
        )
        mocked.get(
            f"{API}/payments/pay_L/refunds",
            json={"items": [{"id": "rfnd_L", "status": "processed", "receipt": str(refund.id)}]},
        )
        assert payments.retry_pending_refunds(older_than=timedelta(0)) == 1
        assert [c.request.method for c in mocked.calls] == ["GET", "POST", "GET"]
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == ("processed", "rfnd_L")
    assert wallet_for(user=client_user).balance == 6000  # taken once, not given back
    assert check_ledger().clean


@pytest.mark.django_db
def test_a_4xx_on_a_retry_the_gateway_knows_nothing_of_is_a_failure(razorpay_settings, client_user):
    payment = razorpay_payment(client_user, "order_N", "pay_N")
    refund = timed_out_refund(payment)
    with responses.RequestsMock() as mocked:
        mocked.get(f"{API}/payments/pay_N/refunds", json={"items": []})
        mocked.post(
            f"{API}/payments/pay_N/refund",
            status=400,
            json={"error": {"code": "BAD_REQUEST_ERROR", "description": "no"}},
        )
        payments.retry_pending_refunds(older_than=timedelta(0))
    refund.refresh_from_db()
    assert refund.status == "failed"
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("captured", 0)
    assert wallet_for(user=client_user).balance == 10_000
    assert check_ledger().clean


# --- Pending until the gateway confirms --------------------------------------------------------


def gateway_says_pending(payment: Payment, amount: int = 4000) -> Refund:
    with responses.RequestsMock() as mocked:
        mocked.post(
            f"{API}/payments/{payment.gateway_payment_id}/refund",
            json={"id": "rfnd_P", "entity": "refund", "status": "pending", "amount": amount},
        )
        refund = payments.refund_payment(payment_id=payment.id, amount=amount)
    return refund


@pytest.mark.django_db
def test_a_refund_stays_pending_until_the_processed_webhook(razorpay_settings, api, client_user):
    payment = razorpay_payment(client_user, "order_P", "pay_P")
    refund = gateway_says_pending(payment)
    assert (refund.status, refund.gateway_refund_id) == ("pending", "rfnd_P")
    response = post_webhook(api, refund_webhook_body(refund, "refund.processed"))
    assert response.json() == {"status": "refund_processed"}
    refund.refresh_from_db()
    assert refund.status == "processed"
    assert wallet_for(user=client_user).balance == 6000


@pytest.mark.django_db
def test_a_pending_refund_is_confirmed_by_asking_the_gateway_never_by_sending_again(
    razorpay_settings, client_user
):
    payment = razorpay_payment(client_user, "order_Q", "pay_Q")
    refund = gateway_says_pending(payment)
    Refund.objects.filter(id=refund.id).update(updated_at=timezone.now() - timedelta(minutes=5))
    with responses.RequestsMock() as mocked:
        mocked.get(
            f"{API}/payments/pay_Q/refunds",
            json={"items": [{"id": "rfnd_P", "status": "pending", "receipt": str(refund.id)}]},
        )
        payments.retry_pending_refunds(older_than=timedelta(0))
        mocked.replace(
            responses.GET,
            f"{API}/payments/pay_Q/refunds",
            json={"items": [{"id": "rfnd_P", "status": "processed", "receipt": str(refund.id)}]},
        )
        payments.retry_pending_refunds(older_than=timedelta(0))
        assert [c.request.method for c in mocked.calls] == ["GET", "GET"]
    refund.refresh_from_db()
    assert refund.status == "processed"


@pytest.mark.django_db
def test_refund_failed_gives_the_money_back_exactly_once(razorpay_settings, api, client_user):
    payment = razorpay_payment(client_user, "order_F", "pay_F")
    refund = gateway_says_pending(payment)
    assert wallet_for(user=client_user).balance == 6000
    body = refund_webhook_body(refund, "refund.failed")
    assert post_webhook(api, body).json() == {"status": "refund_failed"}
    assert post_webhook(api, body).json() == {"status": "ignored"}  # another event id
    late = refund_webhook_body(refund, "refund.processed")
    assert post_webhook(api, late).json() == {"status": "ignored"}
    refund.refresh_from_db()
    assert refund.status == "failed"
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("captured", 0)
    assert wallet_for(user=client_user).balance == 10_000
    assert check_ledger().clean


# --- A second captured payment on a credited order ---------------------------------------------


@pytest.mark.django_db
def test_a_second_captured_payment_on_a_credited_order_is_credited_as_its_own(api, client_user):
    payment = payments.create_recharge(user=client_user, amount=20_000)
    first, first_signature = LocalGateway.pay(payment.gateway_order_id)
    second, second_signature = LocalGateway.pay(payment.gateway_order_id)
    body = webhook_body(payment, first)
    assert post_webhook(api, body).json() == {"status": "credited"}
    body = webhook_body(payment, second)
    assert post_webhook(api, body).json() == {"status": "credited_second_payment"}
    assert post_webhook(api, body).json() == {"status": "already_credited"}
    # The client's verify with the second payment answers that payment, crediting nothing.
    api.force_authenticate(client_user)
    verified = api.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": payment.gateway_order_id,
            "razorpay_payment_id": second,
            "razorpay_signature": second_signature,
        },
        format="json",
    )
    twin = Payment.objects.get(gateway_payment_id=second)
    assert verified.json()["payment_id"] == str(twin.id)
    assert (twin.duplicate_of_id, twin.status, twin.amount) == (payment.id, "captured", 20_000)
    assert wallet_for(user=client_user).balance == 40_000
    listed = api.get("/api/v1/payments").json()["results"]
    assert sorted(p["gateway_payment_id"] for p in listed) == sorted([first, second])
    # It is refundable like any payment.
    assert payments.refund_payment(payment_id=twin.id, amount=20_000).status == "processed"
    assert wallet_for(user=client_user).balance == 20_000
    assert check_ledger().clean


@pytest.mark.django_db
def test_reconciliation_credits_every_captured_payment_of_an_order(client_user):
    payment = payments.create_recharge(user=client_user, amount=12_000)
    LocalGateway.pay(payment.gateway_order_id)
    LocalGateway.pay(payment.gateway_order_id)
    assert payments.reconcile_payments()["credited"] == 2
    assert payments.reconcile_payments()["credited"] == 0
    assert Payment.objects.filter(gateway_order_id=payment.gateway_order_id).count() == 2
    assert wallet_for(user=client_user).balance == 24_000
    assert check_ledger().clean


# --- Reconciliation finishes whatever the backlog ----------------------------------------------


def uncredited(user, order_id: str, age: timedelta) -> Payment:
    payment = Payment.objects.create(user=user, gateway_order_id=order_id, amount=10_000)
    Payment.objects.filter(id=payment.id).update(created_at=timezone.now() - age)
    return payment


@pytest.mark.django_db
def test_reconciliation_asks_newest_first_in_batches(razorpay_settings, client_user):
    for n in range(5):
        uncredited(client_user, f"order_{n}", timedelta(hours=5 - n))
    with responses.RequestsMock() as mocked:
        for n in range(5):
            mocked.get(f"{API}/orders/order_{n}/payments", json={"items": []})
        counts = payments.reconcile_payments(batch=2)
        asked = [c.request.url.split("/")[-2] for c in mocked.calls]
    assert asked == ["order_4", "order_3", "order_2", "order_1", "order_0"]
    assert (counts["checked"], counts["left"]) == (5, 0)


@pytest.mark.django_db
def test_reconciliation_stops_at_its_time_budget(razorpay_settings, client_user):
    for n in range(3):
        uncredited(client_user, f"order_{n}", timedelta(hours=3 - n))
    with responses.RequestsMock():  # no call may be made
        counts = payments.reconcile_payments(budget_seconds=0)
    assert (counts["checked"], counts["left"]) == (0, 3)


@pytest.mark.django_db
def test_checkouts_abandoned_for_a_day_are_failed_and_leave_the_queue(
    razorpay_settings, client_user
):
    old = uncredited(client_user, "order_old", timedelta(days=1, minutes=1))
    fresh = uncredited(client_user, "order_new", timedelta(hours=23))
    with responses.RequestsMock() as mocked:
        mocked.get(f"{API}/orders/order_new/payments", json={"items": []})
        counts = payments.reconcile_payments()
    assert (counts["abandoned"], counts["checked"]) == (1, 1)
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.status, fresh.status) == (PaymentStatus.FAILED, PaymentStatus.CREATED)
    # A capture that comes after all is still credited.
    body = webhook_body(old, "pay_late")
    payments.handle_webhook(
        body=body, signature=hmac_hex("rzp-webhook-secret", body), event_id="evt_late"
    )
    old.refresh_from_db()
    assert old.status == PaymentStatus.CAPTURED


def test_refund_retries_are_a_periodic_job_of_their_own(settings):
    listed = {job.name: job.task for job in jobs.jobs()}
    assert listed["retry-refunds"] == "wallets.tasks.retry_refunds"
    assert listed["reconcile-recent-payments"] != listed["retry-refunds"]


@pytest.mark.django_db
def test_the_refund_job_takes_only_refunds_left_alone_a_while(razorpay_settings, client_user):
    payment = razorpay_payment(client_user, "order_W", "pay_W")
    with time_machine.travel(timezone.now(), tick=False):
        refund = timed_out_refund(payment)
        Refund.objects.filter(id=refund.id).update(updated_at=timezone.now())
        with responses.RequestsMock():
            assert payments.retry_pending_refunds() == 0  # touched just now


# --- GET /api/v1/payments/{id}/refunds ----------------------------------------------------------


@pytest.mark.django_db
def test_a_payments_refunds_are_listed_for_its_owner_and_admins_only(api, client_user):
    payment = paid_payment(client_user, 10_000)
    payments.refund_payment(payment_id=payment.id, amount=1000, reason="first")
    payments.refund_payment(payment_id=payment.id, amount=2000, reason="second")
    url = f"/api/v1/payments/{payment.id}/refunds"
    assert api.get(url).status_code == 401
    api.force_authenticate(client_user)
    response = api.get(url)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["amount"] for r in results] == [2000, 1000]  # newest first
    assert set(results[0]) == {
        "id",
        "payment_id",
        "amount",
        "currency",
        "status",
        "reason",
        "gateway_refund_id",
        "created_at",
    }
    assert results[0]["payment_id"] == str(payment.id)
    assert results[0]["status"] == "processed"
    api.force_authenticate(AdminFactory())
    assert api.get(url).status_code == 200
    api.force_authenticate(ClientFactory())
    other = api.get(url)
    assert (other.status_code, other.json()["code"]) == (404, "not_found")
    api.force_authenticate(client_user)
    assert api.get("/api/v1/payments/not-a-uuid/refunds").status_code == 404


@pytest.mark.django_db
def test_the_refunds_list_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/payments/{payment_id}/refunds"]["get"]
    assert set(operation["responses"]) >= {"200", "401", "404"}
