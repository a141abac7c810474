"""The wallet and payments routes, to the letter of CONTRACT.md."""

import json

import pytest

from accounts.tests.factories import AdminFactory, ClientFactory, ConsultantUserFactory
from wallets import payments, services
from wallets.gateway import LocalGateway, payment_signature
from wallets.models import EntryKind, Payment, Refund
from wallets.tests import factories as ledger
from wallets.tests.factories import fund, paid_payment, webhook_body, webhook_headers

pytestmark = pytest.mark.django_db

TRANSACTION_FIELDS = {
    "id",
    "kind",
    "direction",
    "amount",
    "balance_after",
    "currency",
    "reference_type",
    "reference_id",
    "description",
    "created_at",
}


def recharge(api, amount=50_000, **headers):
    return api.post("/api/v1/wallet/recharge", {"amount": amount}, format="json", **headers)


def verify(api, order_id, payment_id, signature):
    return api.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": order_id,
            "razorpay_payment_id": payment_id,
            "razorpay_signature": signature,
        },
        format="json",
    )


# --- GET wallet -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/wallet", "/api/v1/wallet/balance", "/api/v1/wallet/"])
def test_it_shows_the_wallet(as_client, client_user, path):
    fund(client_user, 75_000)
    services.hold(user=client_user, amount=5000, idempotency_key="h")
    response = as_client.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "balance": 75_000,
        "held": 5000,
        "available": 70_000,
        "currency": "INR",
        "status": "active",
        "frozen_reason": None,
    }


def test_the_wallet_needs_a_signed_in_user(api):
    response = api.get("/api/v1/wallet")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# --- Recharge ---------------------------------------------------------------------------------


def test_a_client_opens_a_recharge(as_client, client_user, settings):
    response = recharge(as_client, 50_000)
    assert response.status_code == 201
    body = response.json()
    payment = Payment.objects.get(id=body["payment_id"])
    assert body == {
        "payment_id": str(payment.id),
        "gateway": "razorpay",
        "gateway_order_id": payment.gateway_order_id,
        "key_id": settings.RAZORPAY_KEY_ID,
        "amount": 50_000,
        "currency": "INR",
        "status": "created",
    }
    assert payment.gateway_order_id.startswith("order_")
    assert payment.user == client_user


@pytest.mark.parametrize("amount", [99, 10_000_001, 100.5, "100", True, None, -100, 10**30])
def test_a_recharge_amount_must_be_an_integer_in_range(as_client, amount):
    response = recharge(as_client, amount)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "amount" in response.json()["fields"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize("amount", [100, 10_000_000])
def test_the_recharge_bounds_are_inclusive(as_client, amount):
    assert recharge(as_client, amount).status_code == 201


def test_a_consultant_or_admin_cannot_recharge(api):
    for user in (ConsultantUserFactory(), ClientFactory(role="admin")):
        api.force_authenticate(user)
        response = recharge(api)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_a_malformed_body_is_invalid(as_client):
    response = as_client.post(
        "/api/v1/wallet/recharge", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# --- Verify -----------------------------------------------------------------------------------


def test_verify_credits_the_wallet_and_a_repeat_credits_nothing(as_client, client_user):
    order_id = recharge(as_client, 50_000).json()["gateway_order_id"]
    payment_id, signature = LocalGateway.pay(order_id)
    first = verify(as_client, order_id, payment_id, signature)
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "captured"
    assert body["balance"] == 50_000
    assert body["payment_id"] == str(Payment.objects.get().id)
    assert set(body["transaction"]) == TRANSACTION_FIELDS
    assert body["transaction"]["kind"] == "recharge"
    assert body["transaction"]["direction"] == "credit"
    assert body["transaction"]["amount"] == 50_000
    assert body["transaction"]["balance_after"] == 50_000
    again = verify(as_client, order_id, payment_id, signature)
    assert again.status_code == 200
    assert again.json() == body
    assert services.wallet_for(user=client_user).balance == 50_000
    assert Payment.objects.get().status == "captured"


def test_verify_refuses_a_wrong_signature(as_client, client_user):
    order_id = recharge(as_client).json()["gateway_order_id"]
    payment_id, signature = LocalGateway.pay(order_id)
    wrong = signature[:-1] + ("1" if signature[-1] == "0" else "0")
    response = verify(as_client, order_id, payment_id, wrong)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert services.wallet_for(user=client_user).balance == 0


def test_verify_of_someone_elses_order_is_not_found(api, client_user):
    other = ClientFactory()
    api.force_authenticate(other)
    order_id = recharge(api).json()["gateway_order_id"]
    payment_id, signature = LocalGateway.pay(order_id)
    api.force_authenticate(client_user)
    response = verify(api, order_id, payment_id, signature)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_verify_of_an_unknown_order_is_not_found(as_client):
    response = verify(as_client, "order_nope", "pay_x", payment_signature("order_nope", "pay_x"))
    assert response.status_code == 404


def test_verify_checks_its_fields(as_client):
    response = as_client.post("/api/v1/wallet/recharge/verify", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "razorpay_order_id",
        "razorpay_payment_id",
        "razorpay_signature",
    }


# --- Webhook ----------------------------------------------------------------------------------


def post_webhook(api, body: bytes, **headers):
    return api.generic(
        "POST",
        "/api/v1/payments/razorpay/webhook",
        body,
        content_type="application/json",
        **headers,
    )


def test_the_webhook_credits_once_per_payment(api, client_user):
    payment = Payment.objects.get(id=recharge_for(client_user))
    gateway_payment_id, _ = LocalGateway.pay(payment.gateway_order_id)
    body = webhook_body(payment, gateway_payment_id)
    assert post_webhook(api, body, **webhook_headers(body, "evt_1")).json() == {
        "status": "credited"
    }
    assert post_webhook(api, body, **webhook_headers(body, "evt_1")).json() == {
        "status": "duplicate"
    }
    assert post_webhook(api, body, **webhook_headers(body, "evt_2")).json() == {
        "status": "already_credited"
    }
    assert services.wallet_for(user=client_user).balance == payment.amount


def test_verify_after_the_webhook_answers_the_same_credit(as_client, client_user):
    order_id = recharge(as_client, 20_000).json()["gateway_order_id"]
    payment = Payment.objects.get()
    gateway_payment_id, signature = LocalGateway.pay(order_id)
    body = webhook_body(payment, gateway_payment_id)
    post_webhook(as_client, body, **webhook_headers(body))
    response = verify(as_client, order_id, gateway_payment_id, signature)
    assert response.status_code == 200
    assert response.json()["balance"] == 20_000
    assert response.json()["transaction"]["amount"] == 20_000


def test_the_webhook_refuses_a_bad_signature(api, client_user):
    payment = Payment.objects.get(id=recharge_for(client_user))
    body = webhook_body(payment, "pay_x")
    headers = webhook_headers(body)
    headers["HTTP_X_RAZORPAY_SIGNATURE"] = "0" * 64
    response = post_webhook(api, body, **headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    response = post_webhook(api, body)
    assert response.status_code == 400
    assert services.wallet_for(user=client_user).balance == 0


@pytest.mark.parametrize("body", [b"", b"garbage", b"[1, 2]", b'{"event": 5}', b"\xff\xfe"])
def test_the_webhook_never_fails_on_garbage(api, body):
    response = post_webhook(api, body, **webhook_headers(body))
    assert response.status_code in (200, 400)


def test_the_webhook_marks_a_failed_payment(api, client_user):
    payment = Payment.objects.get(id=recharge_for(client_user))
    body = webhook_body(payment, "pay_failed", event="payment.failed")
    assert post_webhook(api, body, **webhook_headers(body)).json() == {"status": "marked_failed"}
    assert Payment.objects.get().status == "failed"


def test_the_webhook_ignores_a_captured_amount_that_differs(api, client_user):
    payment = Payment.objects.get(id=recharge_for(client_user))
    data = json.loads(webhook_body(payment, "pay_1"))
    data["payload"]["payment"]["entity"]["amount"] = 1
    body = json.dumps(data).encode()
    assert post_webhook(api, body, **webhook_headers(body)).json() == {"status": "amount_mismatch"}
    assert services.wallet_for(user=client_user).balance == 0


def recharge_for(user, amount=30_000) -> str:
    from wallets.payments import create_recharge

    return str(create_recharge(user=user, amount=amount).id)


# --- Lists ------------------------------------------------------------------------------------


def test_transactions_list_the_users_entries_newest_first(as_client, client_user):
    paid_payment(client_user, 10_000)
    ledger.debit(user=client_user, amount=3000, kind=EntryKind.ADJUSTMENT, idempotency_key="d")
    fund(ClientFactory(), 999)  # someone else's
    response = as_client.get("/api/v1/wallet/transactions")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    rows = body["results"]
    assert [(r["kind"], r["direction"], r["amount"], r["balance_after"]) for r in rows] == [
        ("adjustment", "debit", 3000, 7000),
        ("recharge", "credit", 10_000, 10_000),
    ]
    assert all(set(r) == TRANSACTION_FIELDS and r["currency"] == "INR" for r in rows)


def test_transactions_filter_by_kind_and_time(as_client, client_user):
    paid_payment(client_user, 10_000)
    fund(client_user, 500)
    rows = as_client.get("/api/v1/wallet/transactions?kind=recharge").json()["results"]
    assert [r["kind"] for r in rows] == ["recharge"]
    assert (
        as_client.get("/api/v1/wallet/transactions?created_after=2999-01-01T00:00:00Z").json()[
            "results"
        ]
        == []
    )
    assert (
        len(
            as_client.get("/api/v1/wallet/transactions?created_before=2999-01-01T00:00:00Z").json()[
                "results"
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    "query", ["kind=bogus", "created_after=yesterday", "created_before=2024-13-45"]
)
def test_transactions_refuse_bad_filters(as_client, query):
    response = as_client.get(f"/api/v1/wallet/transactions?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_transactions_paginate(as_client, client_user):
    for i in range(3):
        fund(client_user, 100 + i)
    page = as_client.get("/api/v1/wallet/transactions?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = as_client.get(page["next"]).json()
    assert len(rest["results"]) == 1


def test_payments_list_only_ones_own(as_client, client_user):
    mine = paid_payment(client_user, 10_000)
    paid_payment(ClientFactory(), 20_000)
    rows = as_client.get("/api/v1/payments").json()["results"]
    assert rows == [
        {
            "id": str(mine.id),
            "gateway": "razorpay",
            "gateway_order_id": mine.gateway_order_id,
            "gateway_payment_id": mine.gateway_payment_id,
            "amount": 10_000,
            "amount_refunded": 0,
            "currency": "INR",
            "status": "captured",
            "fee": None,  # verified: the fee comes with the webhook or reconciliation
            "tax": None,
            "created_at": rows[0]["created_at"],
        }
    ]


# --- Refunds ----------------------------------------------------------------------------------


def refund(api, payment, amount, reason="asked", **headers):
    return api.post(
        f"/api/v1/payments/{payment.id}/refund",
        {"amount": amount, "reason": reason},
        format="json",
        **headers,
    )


def test_an_admin_refunds_part_then_the_rest(as_admin, client_user):
    payment = paid_payment(client_user, 10_000)
    response = refund(as_admin, payment, 4000)
    assert response.status_code == 201
    body = response.json()
    assert body["payment_id"] == str(payment.id)
    assert (body["amount"], body["status"], body["currency"]) == (4000, "processed", "INR")
    assert body["gateway_refund_id"].startswith("rfnd_")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", 4000)
    assert services.wallet_for(user=client_user).balance == 6000
    assert refund(as_admin, payment, 6000).status_code == 201
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("refunded", 10_000)
    entry = services.wallet_for(user=client_user).entries.order_by("-id").first()
    assert (entry.kind, entry.amount) == ("refund", -6000)


def test_a_refund_cannot_exceed_the_payment(as_admin, client_user):
    payment = paid_payment(client_user, 10_000)
    fund(client_user, 50_000)
    refund(as_admin, payment, 6000)
    response = refund(as_admin, payment, 4001)
    assert response.status_code == 409
    assert response.json()["code"] == "refund_exceeds_payment"


def test_a_refund_needs_the_money_still_in_the_wallet(as_admin, client_user):
    payment = paid_payment(client_user, 10_000)
    ledger.debit(user=client_user, amount=9000, kind=EntryKind.ADJUSTMENT, idempotency_key="spent")
    response = refund(as_admin, payment, 5000)
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_balance"
    assert not Refund.objects.exists()


def test_only_an_admin_refunds(as_client, client_user):
    payment = paid_payment(client_user, 10_000)
    response = refund(as_client, payment, 100)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_refund_of_an_unknown_payment_is_not_found(as_admin):
    response = as_admin.post(
        "/api/v1/payments/00000000-0000-0000-0000-000000000000/refund",
        {"amount": 100, "reason": ""},
        format="json",
    )
    assert response.status_code == 404


@pytest.mark.parametrize("amount", [0, -1, 1.5, "5", None])
def test_a_refund_amount_must_be_a_positive_integer(as_admin, client_user, amount):
    payment = paid_payment(client_user, 10_000)
    assert refund(as_admin, payment, amount).status_code == 400


def test_a_refund_retried_with_its_key_refunds_once(as_admin, client_user):
    payment = paid_payment(client_user, 10_000)
    first = refund(as_admin, payment, 3000, HTTP_IDEMPOTENCY_KEY="r-1")
    again = refund(as_admin, payment, 3000, HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Refund.objects.count() == 1
    assert services.wallet_for(user=client_user).balance == 7000


def test_two_admins_sending_the_same_key_make_two_refunds(api, client_user):
    """An admin's key is theirs: another admin's "1" is another request, not a replay."""
    payment = paid_payment(client_user, 10_000)
    first_admin, second_admin = AdminFactory(), AdminFactory()
    api.force_authenticate(first_admin)
    first = refund(api, payment, 3000, HTTP_IDEMPOTENCY_KEY="1")
    api.force_authenticate(second_admin)
    second = refund(api, payment, 2000, HTTP_IDEMPOTENCY_KEY="1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert sorted(r.amount for r in Refund.objects.all()) == [2000, 3000]
    assert services.wallet_for(user=client_user).balance == 5000
    # ... and the service itself (a retry that lost the HTTP record) replays per admin only
    again = payments.refund_payment(
        payment_id=payment.id, amount=2000, created_by=second_admin, idempotency_key="1"
    )
    assert str(again.id) == second.json()["id"]


@pytest.mark.parametrize(
    "stamp",
    ["1248-10-11T01:42:11%2B16:33", "0001-01-01T00:00:00%2B05:00", "9999-12-31T23:59:59-05:00"],
)
def test_transactions_refuse_timestamps_the_database_cannot_hold(as_client, stamp):
    response = as_client.get(f"/api/v1/wallet/transactions?created_after={stamp}")
    assert response.status_code in (200, 400)


def test_transactions_accept_an_offset_timestamp(as_client, client_user):
    fund(client_user, 100)
    rows = as_client.get(
        "/api/v1/wallet/transactions?created_after=2000-01-01T00:00:00%2B05:30"
    ).json()["results"]
    assert len(rows) == 1


@pytest.mark.parametrize("path", ["/api/v1/wallet/transactions", "/api/v1/payments"])
def test_lists_cost_the_same_queries_whatever_their_length(
    as_client, client_user, path, django_assert_max_num_queries
):
    for _ in range(6):
        paid_payment(client_user, 1000)
    with django_assert_max_num_queries(3):
        response = as_client.get(path)
    assert len(response.json()["results"]) == 6
