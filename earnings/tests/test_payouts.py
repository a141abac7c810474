"""Payouts: requested (held), then paid or rejected by an admin, idempotently."""

import pytest
from django.urls import reverse

from config.errors import ApiError
from earnings.models import Payout, PayoutStatus
from earnings.services import mark_payout_paid, reject_payout, request_payout
from earnings.tests.conftest import as_user
from wallets.errors import InsufficientFunds
from wallets.models import AccountKind, EntryKind, IdempotencyRecord, LedgerEntry
from wallets.reconcile import check_ledger
from wallets.services import system_account, wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def earner(consultant_user):
    """A consultant with 10,000 paise on their wallet."""
    fund(consultant_user, 10_000)
    return consultant_user


def ask(api, user, amount, **headers):
    return as_user(api, user).post(
        "/api/v1/earnings/payouts", {"amount": amount}, format="json", **headers
    )


def test_a_payout_request_holds_the_amount(api, earner):
    response = ask(api, earner, 4000)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "amount", "status"}
    assert body["amount"] == 4000 and body["status"] == "requested"
    wallet = wallet_for(user=earner)
    assert (wallet.balance, wallet.held, wallet.available) == (10_000, 4000, 6000)
    summary = api.get("/api/v1/earnings/summary").json()
    assert summary["pending_payout"] == 4000


def test_more_than_the_available_balance_is_refused_with_402(api, earner):
    ask(api, earner, 8000)

    response = ask(api, earner, 2001)

    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_balance"
    assert Payout.objects.count() == 1
    assert wallet_for(user=earner).held == 8000


def test_a_payout_repeated_with_its_key_holds_once_even_when_the_http_record_is_lost(api, earner):
    first = ask(api, earner, 4000, HTTP_IDEMPOTENCY_KEY="payday")
    # A crash after the hold committed but before the answer was stored: the HTTP layer no
    # longer knows the key, so the retry reaches the service again.
    IdempotencyRecord.objects.all().delete()
    again = ask(api, earner, 4000, HTTP_IDEMPOTENCY_KEY="payday")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Payout.objects.count() == 1
    assert wallet_for(user=earner).held == 4000


def test_the_same_payout_key_for_another_amount_is_refused(earner):
    request_payout(consultant=earner, amount=3000, idempotency_key="k")
    with pytest.raises(ApiError) as refused:
        request_payout(consultant=earner, amount=5000, idempotency_key="k")
    assert refused.value.code == "idempotency_key_reused"
    assert wallet_for(user=earner).held == 3000


@pytest.mark.parametrize("amount", [0, -5, 10.5, 100.0, "100", True, None, 10**13, [100]])
def test_the_amount_must_be_a_positive_integer_of_paise(api, earner, amount):
    response = ask(api, earner, amount)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "amount" in response.json()["fields"]


def test_only_consultants_request_payouts(api, client_user, admin_user):
    fund(client_user, 10_000)
    for user in (client_user, admin_user):
        assert ask(api, user, 100).status_code == 403
    assert not Payout.objects.exists()


def test_the_same_idempotency_key_holds_once(api, earner):
    first = ask(api, earner, 3000, HTTP_IDEMPOTENCY_KEY="payout-1")
    again = ask(api, earner, 3000, HTTP_IDEMPOTENCY_KEY="payout-1")
    other = ask(api, earner, 2000, HTTP_IDEMPOTENCY_KEY="payout-1")

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert wallet_for(user=earner).held == 3000


def test_paying_moves_the_money_to_payouts_in_flight_and_ends_the_hold(earner, admin_user):
    payout = request_payout(consultant=earner, amount=4000)

    paid = mark_payout_paid(payout_id=payout.id, actor=admin_user)

    assert paid.status == PayoutStatus.PAID and paid.decided_by == admin_user
    wallet = wallet_for(user=earner)
    assert (wallet.balance, wallet.held) == (6000, 0)
    assert system_account(AccountKind.PAYOUTS_IN_FLIGHT).balance == 4000
    entry = LedgerEntry.objects.get(account=wallet, kind=EntryKind.PAYOUT)
    assert entry.amount == -4000 and entry.transaction.reference_id == str(payout.id)
    paid.hold.refresh_from_db()
    assert paid.hold.status == "closed"
    assert check_ledger().clean


def test_paying_twice_pays_once(earner):
    payout = request_payout(consultant=earner, amount=4000)

    mark_payout_paid(payout_id=payout.id)
    mark_payout_paid(payout_id=payout.id)

    assert wallet_for(user=earner).balance == 6000
    assert LedgerEntry.objects.filter(kind=EntryKind.PAYOUT).count() == 1


def test_rejecting_releases_the_hold_and_moves_nothing(earner):
    payout = request_payout(consultant=earner, amount=4000)

    rejected = reject_payout(payout_id=payout.id)
    reject_payout(payout_id=payout.id)

    assert rejected.status == PayoutStatus.REJECTED
    wallet = wallet_for(user=earner)
    assert (wallet.balance, wallet.held) == (10_000, 0)
    assert check_ledger().clean


def test_a_decided_payout_cannot_be_decided_the_other_way(earner):
    paid = request_payout(consultant=earner, amount=1000)
    rejected = request_payout(consultant=earner, amount=1000)
    mark_payout_paid(payout_id=paid.id)
    reject_payout(payout_id=rejected.id)

    for decide, payout in ((reject_payout, paid), (mark_payout_paid, rejected)):
        with pytest.raises(ApiError) as caught:
            decide(payout_id=payout.id)
        assert caught.value.code == "invalid_state"


def test_a_payout_beyond_the_balance_is_refused_by_the_service(earner):
    with pytest.raises(InsufficientFunds):
        request_payout(consultant=earner, amount=10_001)
    assert not Payout.objects.exists()


def test_an_admin_pays_and_rejects_from_the_django_admin(client, earner, admin_user):
    to_pay = request_payout(consultant=earner, amount=1000)
    to_reject = request_payout(consultant=earner, amount=2000)
    client.force_login(admin_user)
    url = reverse("admin:earnings_payout_changelist")

    assert client.get(url).status_code == 200
    client.post(url, {"action": "mark_paid", "_selected_action": [to_pay.pk]})
    client.post(url, {"action": "reject", "_selected_action": [to_reject.pk]})

    to_pay.refresh_from_db()
    to_reject.refresh_from_db()
    assert (to_pay.status, to_reject.status) == (PayoutStatus.PAID, PayoutStatus.REJECTED)
    wallet = wallet_for(user=earner)
    assert (wallet.balance, wallet.held) == (9000, 0)


def test_a_consultant_lists_their_own_payouts_newest_first(api, earner, consultant_user):
    first = request_payout(consultant=earner, amount=1000)
    second = request_payout(consultant=earner, amount=2000)
    mark_payout_paid(payout_id=first.id)

    response = as_user(api, earner).get("/api/v1/earnings/payouts")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["id"], r["status"]) for r in rows] == [
        (str(second.id), "requested"),
        (str(first.id), "paid"),
    ]
    assert rows[1]["decided_at"].endswith("Z") and rows[0]["decided_at"] is None
