"""An admin's refund of a consultation: the client credited, the consultant's earning and the
commission reversed in proportion, in one balanced transaction."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.tests.factories import AdminFactory
from config.errors import ApiError
from consultations.models import ConsultationEvent
from consultations.refunds import refund_consultation, refunded_so_far, split_refund
from consultations.tests.factories import ActiveConsultationFactory
from earnings.models import Earning
from earnings.services import request_payout
from earnings.tests.factories import ended_consultation
from wallets.models import AccountKind, EntryKind, LedgerEntry
from wallets.reconcile import check_ledger
from wallets.services import system_account, wallet_for

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


@pytest.fixture
def admin(db):
    return AdminFactory()


@pytest.fixture
def consultation(db):
    """Ended after 100 s at 600 paise a minute: 1000 charged, 200 commission, 800 earned."""
    return ended_consultation(rate=600, seconds=100, funds=10_000)


def refund(api, user, consultation_id, amount, reason="Poor audio", **headers):
    api.force_authenticate(user=user)
    return api.post(
        f"/api/v1/consultations/{consultation_id}/refund",
        {"amount": amount, "reason": reason},
        format="json",
        **headers,
    )


# --- The rule ---------------------------------------------------------------------------------


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=10**9),
    percent=st.integers(min_value=0, max_value=100),
    cuts=st.lists(st.floats(min_value=0, max_value=1), max_size=6),
)
def test_a_full_refund_in_any_pieces_reverses_exactly_the_commission_and_the_share(
    total, percent, cuts
):
    commission = total * percent // 100
    points = sorted({int(total * c) for c in cuts} | {0, total})
    pieces = [b - a for a, b in zip(points, points[1:], strict=False) if b > a]
    before, commission_back, share_back = 0, 0, 0
    for amount in pieces:
        parts = split_refund(
            total=total, commission=commission, refunded_before=before, amount=amount
        )
        assert parts.commission >= 0 and parts.consultant >= 0
        assert parts.commission + parts.consultant == amount
        before += amount
        commission_back += parts.commission
        share_back += parts.consultant
        assert commission_back == commission * before // total  # rounded down, cumulatively
    assert (commission_back, share_back) == (commission, total - commission)


def test_a_refund_beyond_what_is_left_is_not_split():
    with pytest.raises(ValueError):
        split_refund(total=100, commission=20, refunded_before=60, amount=41)


# --- The API ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_admin_refunds_part_of_a_consultation(api, admin, consultation):
    client_before = wallet_for(user=consultation.client).balance
    consultant_user = consultation.consultant.user

    response = refund(api, admin, consultation.id, 250)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == TRANSACTION_FIELDS
    assert (body["kind"], body["direction"], body["amount"]) == ("refund", "credit", 250)
    assert body["reference_type"] == "consultation"
    assert body["reference_id"] == str(consultation.id)
    assert "Poor audio" in body["description"]
    assert wallet_for(user=consultation.client).balance == client_before + 250
    # 250 of 1000 refunded: the platform gives back floor(200 * 250 / 1000) = 50.
    assert wallet_for(user=consultant_user).balance == 800 - 200
    assert system_account(AccountKind.PLATFORM_REVENUE).balance == 200 - 50
    earning = Earning.objects.get(consultation=consultation)
    assert (earning.gross, earning.commission, earning.net, earning.refunded) == (
        750,
        150,
        600,
        250,
    )
    assert refunded_so_far(consultation) == 250
    assert ConsultationEvent.objects.filter(
        consultation=consultation, reason__startswith="refunded"
    )
    assert check_ledger().clean


@pytest.mark.django_db
def test_refunds_up_to_the_charge_reverse_everything_and_no_more(api, admin, consultation):
    assert refund(api, admin, consultation.id, 333).status_code == 201
    assert refund(api, admin, consultation.id, 667).status_code == 201

    response = refund(api, admin, consultation.id, 1)

    assert response.status_code == 409
    assert response.json()["code"] == "refund_exceeds_charge"
    assert wallet_for(user=consultation.consultant.user).balance == 0
    assert system_account(AccountKind.PLATFORM_REVENUE).balance == 0
    earning = Earning.objects.get(consultation=consultation)
    assert (earning.gross, earning.commission, earning.net) == (0, 0, 0)
    summary = api.get("/api/v1/earnings/summary")  # as the admin: refused
    assert summary.status_code == 403
    api.force_authenticate(user=consultation.consultant.user)
    assert api.get("/api/v1/earnings/summary").json()["total_earnings"] == 0
    assert check_ledger().clean


@pytest.mark.django_db
def test_more_than_the_charge_is_refused_at_once(api, admin, consultation):
    response = refund(api, admin, consultation.id, 1001)

    assert response.status_code == 409
    assert response.json()["code"] == "refund_exceeds_charge"
    assert not LedgerEntry.objects.filter(kind=EntryKind.REFUND).exists()


@pytest.mark.django_db
def test_only_an_ended_consultation_is_refunded(api, admin):
    active = ActiveConsultationFactory()

    response = refund(api, admin, active.id, 1)

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


@pytest.mark.django_db
def test_a_consultant_already_paid_out_makes_it_402_and_nothing_moves(api, admin, consultation):
    request_payout(consultant=consultation.consultant.user, amount=800)  # all of it held

    response = refund(api, admin, consultation.id, 500)

    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_balance"
    assert refunded_so_far(consultation) == 0
    assert Earning.objects.get(consultation=consultation).refunded == 0


@pytest.mark.django_db
def test_only_admins_refund_and_unknown_ids_are_404(api, admin, consultation):
    for user in (consultation.client, consultation.consultant.user):
        response = refund(api, user, consultation.id, 100)
        assert response.status_code == 403
    response = refund(api, admin, "6f1b9c1e-0000-4000-8000-000000000000", 100)
    assert response.status_code == 404
    assert refunded_so_far(consultation) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [0, -1, 1.5, 100.0, "100", True, None, 10**13])
def test_the_amount_is_a_positive_integer_of_paise(api, admin, consultation, amount):
    response = refund(api, admin, consultation.id, amount)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.django_db
def test_the_same_idempotency_key_refunds_once(api, admin, consultation):
    first = refund(api, admin, consultation.id, 100, HTTP_IDEMPOTENCY_KEY="r-1")
    again = refund(api, admin, consultation.id, 100, HTTP_IDEMPOTENCY_KEY="r-1")
    other = refund(api, admin, consultation.id, 200, HTTP_IDEMPOTENCY_KEY="r-1")

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert other.json()["code"] == "idempotency_key_reused"
    assert refunded_so_far(consultation) == 100


@pytest.mark.django_db
def test_the_service_replays_a_ledger_key_without_moving_money(admin, consultation):
    first = refund_consultation(
        consultation_id=consultation.id, amount=100, actor=admin, idempotency_key="k"
    )
    again = refund_consultation(
        consultation_id=consultation.id, amount=100, actor=admin, idempotency_key="k"
    )

    assert first.pk == again.pk
    assert refunded_so_far(consultation) == 100
    with pytest.raises(ApiError):
        refund_consultation(consultation_id=consultation.id, amount=901, actor=admin)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_refunds_never_exceed_the_charge():
    consultation = ended_consultation(rate=600, seconds=100, funds=10_000)  # 1000 charged
    admin = AdminFactory()

    def attempt(_):
        try:
            refund_consultation(consultation_id=consultation.id, amount=300, actor=admin)
            return "ok"
        except ApiError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, range(6)))

    assert outcomes.count("ok") == 3
    assert outcomes.count("refund_exceeds_charge") == 3
    assert refunded_so_far(consultation) == 900
    assert check_ledger().clean
