"""Frozen wallets (CONTRACT.md "Wallet and payments"): an operator's hold, with a reason,
audited; 423 `wallet_frozen` for recharges, new consultations and payouts; open consultations
ended; money owed to the wallet still arrives; the pages say why."""

import threading

import pytest
from django.db import connection

from accounts.tests.factories import AdminFactory, ClientFactory
from consultants.tests.factories import OnlineConsultantFactory
from consultations import services as consultation_services
from consultations.models import Consultation, EndReason, Status
from earnings.tests.factories import ended_consultation
from wallets import freezes
from wallets.gateway import LocalGateway
from wallets.models import FrozenWallet, WalletStatusChange
from wallets.payments import create_recharge, verify_recharge
from wallets.services import wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def person():
    user = ClientFactory(name="Asha Rao")
    fund(user, 100_000)
    return user


def _as(api, user):
    api.force_authenticate(user=user)
    return api


def _freeze(api, admin, user, reason="Chargeback dispute #4411"):
    return _as(api, admin).post(
        f"/api/v1/wallets/{user.id}/freeze", {"reason": reason}, format="json"
    )


# --- The operator's API ---------------------------------------------------------------------------


def test_an_admin_freezes_and_unfreezes_a_wallet_with_a_reason_audited(api, admin, person):
    answer = _freeze(api, admin, person)
    assert answer.status_code == 200
    assert answer.json() == {
        "balance": 100_000,
        "held": 0,
        "available": 100_000,
        "currency": "INR",
        "status": "frozen",
        "frozen_reason": "Chargeback dispute #4411",
    }
    mine = _as(api, person).get("/api/v1/wallet").json()
    assert (mine["status"], mine["frozen_reason"]) == ("frozen", "Chargeback dispute #4411")
    again = _freeze(api, admin, person, reason="again")  # a frozen wallet stays frozen
    assert again.json()["frozen_reason"] == "Chargeback dispute #4411"

    thawed = _as(api, admin).post(
        f"/api/v1/wallets/{person.id}/unfreeze", {"reason": "Dispute won"}, format="json"
    )
    assert thawed.status_code == 200
    assert (thawed.json()["status"], thawed.json()["frozen_reason"]) == ("active", None)
    audit = list(
        WalletStatusChange.objects.filter(user=person)
        .order_by("created_at", "id")
        .values_list("action", "reason", "actor_id")
    )
    assert audit == [
        ("freeze", "Chargeback dispute #4411", admin.id),
        ("unfreeze", "Dispute won", admin.id),
    ]


def test_only_admins_freeze_and_a_reason_is_needed(api, admin, person):
    assert _freeze(api, ClientFactory(), person).status_code == 403
    api.force_authenticate(user=None)
    assert api.post(f"/api/v1/wallets/{person.id}/freeze", {"reason": "x"}).status_code == 401
    assert _freeze(api, admin, person, reason="").status_code == 400
    missing = _as(api, admin).post(f"/api/v1/wallets/{person.id}/freeze", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["fields"]
    for nobody in ("00000000-0000-0000-0000-000000000000", "nope"):
        answer = _as(api, admin).post(
            f"/api/v1/wallets/{nobody}/freeze", {"reason": "x"}, format="json"
        )
        assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert not FrozenWallet.objects.exists()


def test_a_wallet_is_active_until_frozen(api, person):
    assert _as(api, person).get("/api/v1/wallet/balance").json()["status"] == "active"


# --- What a frozen wallet refuses -----------------------------------------------------------------


def test_a_frozen_wallet_refuses_recharges_with_423(api, admin, person):
    freezes.freeze_wallet(user=person, reason="Fraud check", actor=admin)
    answer = _as(api, person).post("/api/v1/wallet/recharge", {"amount": 50_000}, format="json")
    assert answer.status_code == 423
    assert answer.json()["code"] == "wallet_frozen"


def test_a_frozen_wallet_refuses_new_consultations_with_423(api, admin, person):
    consultant = OnlineConsultantFactory()
    freezes.freeze_wallet(user=person, reason="Fraud check", actor=admin)
    answer = _as(api, person).post(
        "/api/v1/consultations", {"consultant_id": str(consultant.id), "channel": "chat"}
    )
    assert answer.status_code == 423 and answer.json()["code"] == "wallet_frozen"
    assert not Consultation.objects.exists()


def test_a_frozen_consultants_wallet_refuses_payouts_with_423(api, admin):
    consultation = ended_consultation(rate=600, seconds=100, funds=10_000)
    earner = consultation.consultant.user
    freezes.freeze_wallet(user=earner, reason="Identity re-check", actor=admin)
    answer = _as(api, earner).post("/api/v1/earnings/payouts", {"amount": 100}, format="json")
    assert answer.status_code == 423 and answer.json()["code"] == "wallet_frozen"
    assert wallet_for(user=earner).held == 0


def test_money_owed_to_a_frozen_wallet_still_arrives(api, admin):
    # a consultation refund (credit) and a payment captured before the freeze
    consultation = ended_consultation(rate=600, seconds=100, funds=10_000)
    client = consultation.client
    payment = create_recharge(user=client, amount=20_000)
    freezes.freeze_wallet(user=client, reason="Dispute", actor=admin)
    before = wallet_for(user=client).balance
    refund = _as(api, admin).post(
        f"/api/v1/consultations/{consultation.id}/refund",
        {"amount": 500, "reason": "Poor audio"},
        format="json",
    )
    assert refund.status_code == 201
    gateway_payment_id, signature = LocalGateway.pay(payment.gateway_order_id)
    verify_recharge(
        user=client,
        razorpay_order_id=payment.gateway_order_id,
        razorpay_payment_id=gateway_payment_id,
        razorpay_signature=signature,
    )
    assert wallet_for(user=client).balance == before + 500 + 20_000


# --- Open consultations end -----------------------------------------------------------------------


def test_freezing_force_ends_the_active_consultation_and_cancels_a_request(
    admin, person, django_capture_on_commit_callbacks
):
    consultant = OnlineConsultantFactory(rate_chat=600)
    active = consultation_services.start_consultation(
        client=person, consultant_id=consultant.id, channel="chat"
    )
    consultation_services.accept_consultation(consultation_id=active.id, actor=consultant.user)
    other = ClientFactory()
    fund(other, 100_000)
    consultant_two = OnlineConsultantFactory(rate_chat=600)
    pending = consultation_services.start_consultation(
        client=other, consultant_id=consultant_two.id, channel="chat"
    )
    with django_capture_on_commit_callbacks(execute=True):
        freezes.freeze_wallet(user=person, reason="Fraud", actor=admin)
        freezes.freeze_wallet(user=consultant_two.user, reason="Fraud", actor=admin)
    active.refresh_from_db()
    pending.refresh_from_db()
    assert (active.status, active.end_reason) == (Status.FORCE_ENDED, EndReason.ADMIN)
    assert pending.status == Status.CANCELLED
    consultant.refresh_from_db()
    assert consultant.is_busy is False
    assert wallet_for(user=person).held == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_request_racing_a_freeze_is_refused_or_ended_never_left_open():
    """Threads: a client's start and an operator's freeze at once, many times. Whoever wins,
    the frozen client has no open consultation afterwards."""
    admin = AdminFactory()
    for _ in range(6):
        client = ClientFactory()
        fund(client, 100_000)
        consultant = OnlineConsultantFactory(rate_chat=600)
        go = threading.Barrier(2)
        errors = []

        def start(client=client, consultant=consultant, go=go, errors=errors):
            go.wait()
            try:
                consultation_services.start_consultation(
                    client=client, consultant_id=consultant.id, channel="chat"
                )
            except Exception as exc:  # noqa: BLE001 - 423 is one of the outcomes
                errors.append(getattr(exc, "code", repr(exc)))
            finally:
                connection.close()

        def freeze(client=client, go=go):
            go.wait()
            try:
                freezes.freeze_wallet(user=client, reason="race", actor=admin)
            finally:
                connection.close()

        threads = [threading.Thread(target=start), threading.Thread(target=freeze)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors in ([], ["wallet_frozen"])
        assert not Consultation.objects.filter(
            client=client, status__in=[Status.PENDING, Status.ACTIVE]
        ).exists()


# --- Pages and the admin --------------------------------------------------------------------------


def test_the_wallet_page_says_why_and_offers_no_recharge(client, admin, person):
    freezes.freeze_wallet(user=person, reason="Chargeback dispute #4411", actor=admin)
    client.force_login(person, backend="accounts.backends.AccountBackend")
    html = client.get("/wallet/").content.decode()
    assert 'data-testid="wallet-frozen"' in html and "Chargeback dispute #4411" in html
    assert "Recharges are paused" in html
    answer = client.post("/wallet/", {"amount": "500"})
    assert answer.status_code == 423


def test_the_profile_start_buttons_are_off_for_a_frozen_client(client, admin, person):
    consultant = OnlineConsultantFactory()
    freezes.freeze_wallet(user=person, reason="Fraud", actor=admin)
    client.force_login(person, backend="accounts.backends.AccountBackend")
    html = client.get(f"/consultants/{consultant.id}/").content.decode()
    assert 'data-testid="wallet-frozen"' in html
    assert "data-start-button data-blocked disabled" in html


def test_operators_freeze_from_the_admin_with_a_reason(client, admin, person):
    client.force_login(admin, backend="accounts.backends.AccountBackend")
    wallet = wallet_for(user=person)
    asked = client.post(
        "/admin/wallets/account/", {"action": "freeze_selected", "_selected_action": [wallet.pk]}
    )
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    assert not FrozenWallet.objects.exists()
    client.post(
        "/admin/wallets/account/",
        {
            "action": "freeze_selected",
            "_selected_action": [wallet.pk],
            "reason": "Card testing",
            "apply": "1",
        },
    )
    freeze = FrozenWallet.objects.get(user=person)
    assert (freeze.reason, freeze.frozen_by_id) == ("Card testing", admin.id)
    client.post(
        "/admin/wallets/account/",
        {
            "action": "unfreeze_selected",
            "_selected_action": [wallet.pk],
            "reason": "Cleared",
            "apply": "1",
        },
    )
    assert not FrozenWallet.objects.exists()
    assert WalletStatusChange.objects.filter(user=person).count() == 2
