"""Races with real threads on PostgreSQL: the books stay exact."""

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from accounts.tests.factories import ClientFactory
from wallets import payments, services
from wallets.errors import InsufficientFunds
from wallets.gateway import LocalGateway
from wallets.models import EntryKind, LedgerEntry, Payment
from wallets.reconcile import check_ledger
from wallets.tests import factories as ledger
from wallets.tests.factories import fund, webhook_body, webhook_headers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_200_concurrent_debits_of_1000_against_100000_let_exactly_100_through():
    user = ClientFactory()
    fund(user, 100_000)

    def attempt(n):
        try:
            ledger.debit(
                user=user, amount=1000, kind=EntryKind.ADJUSTMENT, idempotency_key=f"debit:{n}"
            )
            return "ok"
        except InsufficientFunds:
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(200)))
    assert outcomes.count("ok") == 100
    assert outcomes.count("refused") == 100
    wallet = services.wallet_for(user=user)
    assert wallet.balance == 0
    afters = LedgerEntry.objects.filter(account=wallet).values_list("balance_after", flat=True)
    assert min(afters) == 0
    assert check_ledger().clean


def test_100_payments_each_webhook_10_times_racing_verify_credit_exactly_once():
    users = [ClientFactory() for _ in range(5)]
    jobs, expected = [], {u.id: 0 for u in users}
    for n in range(100):
        user = users[n % len(users)]
        amount = 100 + n * 37
        payment = payments.create_recharge(user=user, amount=amount)
        gateway_payment_id, signature = LocalGateway.pay(payment.gateway_order_id)
        body = webhook_body(payment, gateway_payment_id)
        # Redeliveries share their event id; a few carry another one (a new event, same payment).
        jobs += [
            ("webhook", body, webhook_headers(body, event_id=f"evt_{n}_{k % 3}")) for k in range(10)
        ]
        jobs.append(("verify", user, (payment.gateway_order_id, gateway_payment_id, signature)))
        expected[user.id] += amount
    random.Random(7).shuffle(jobs)

    def deliver(job):
        try:
            if job[0] == "webhook":
                _, body, headers = job
                response = Client().generic(
                    "POST",
                    "/api/v1/payments/razorpay/webhook",
                    body,
                    content_type="application/json",
                    **headers,
                )
            else:
                _, user, (order_id, payment_id, signature) = job
                return payments_verify(user, order_id, payment_id, signature)
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(deliver, jobs))
    assert set(statuses) == {200}
    credits = LedgerEntry.objects.filter(kind=EntryKind.RECHARGE)
    assert credits.count() == 100
    assert Payment.objects.filter(status="captured").count() == 100
    for user in users:
        assert services.wallet_for(user=user).balance == expected[user.id]
    assert check_ledger().clean


def payments_verify(user, order_id, payment_id, signature) -> int:
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    return api.post(
        "/api/v1/wallet/recharge/verify",
        {
            "razorpay_order_id": order_id,
            "razorpay_payment_id": payment_id,
            "razorpay_signature": signature,
        },
        format="json",
    ).status_code


def test_concurrent_holds_never_reserve_more_than_the_balance():
    user = ClientFactory()
    fund(user, 10_000)

    def attempt(n):
        try:
            services.hold(user=user, amount=1500, idempotency_key=f"hold:{n}")
            return True
        except InsufficientFunds:
            return False
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        held = sum(pool.map(attempt, range(40)))
    assert held == 6
    assert services.wallet_for(user=user).held == 9000
    assert check_ledger().clean


def test_concurrent_refunds_never_exceed_the_payment_nor_repeat_a_key():
    user = ClientFactory()
    payment = payments.create_recharge(user=user, amount=10_000)
    gateway_payment_id, signature = LocalGateway.pay(payment.gateway_order_id)
    payments.verify_recharge(
        user=user,
        razorpay_order_id=payment.gateway_order_id,
        razorpay_payment_id=gateway_payment_id,
        razorpay_signature=signature,
    )

    def attempt(n):
        try:
            # keys 0-4 are sent twice each: ten requests, five distinct refunds of 3000 asked
            refund = payments.refund_payment(
                payment_id=payment.id, amount=3000, idempotency_key=f"r{n % 5}"
            )
            return refund.id
        except Exception as exc:  # noqa: BLE001 - the code is what we count
            return getattr(exc, "code", repr(exc))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    refunds = {o for o in outcomes if not isinstance(o, str)}
    assert len(refunds) == 3  # 3 x 3000 fit in 10,000; the fourth would exceed it
    assert set(o for o in outcomes if isinstance(o, str)) == {"refund_exceeds_payment"}
    payment.refresh_from_db()
    assert payment.amount_refunded == 9000
    assert services.wallet_for(user=user).balance == 1000
    assert check_ledger().clean
