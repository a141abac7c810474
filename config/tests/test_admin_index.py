"""The admin index is the operators' first screen: the live state at a glance, each figure a
link to its list, in a fixed number of queries."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import AdminFactory, ClientFactory, ConsultantUserFactory
from consultants.tests.factories import ConsultantProfileFactory
from consultations import services
from consultations.tests.factories import ActiveConsultationFactory
from earnings.services import request_payout
from wallets import payments
from wallets.gateway import GatewayDeclined, GatewayTimeout, LocalGateway
from wallets.models import Refund, RefundStatus
from wallets.tests.factories import fund, funded_client, paid_payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(AdminFactory())
    return client


def tiles(html: str) -> dict[str, tuple[str, str]]:
    """{label: (value, href)} of the index's live tiles."""
    found = {}
    for href, label, figure in re.findall(
        r'<a href="([^"]+)">\s*<span class="label">([^<]+)</span>\s*'
        r'<span class="value">([^<]+)</span>',
        html,
    ):
        found[label] = (figure, href.replace("&amp;", "&"))
    return found


def test_the_index_shows_the_live_state_each_figure_linking_to_its_list(
    operator, django_capture_on_commit_callbacks, monkeypatch
):
    now = timezone.now()
    ActiveConsultationFactory(channel="chat", client=funded_client())
    ActiveConsultationFactory(
        channel="chat", client=funded_client(), last_billed_at=now - timedelta(seconds=50)
    )
    ConsultantProfileFactory(is_verified=False)
    consultant = ConsultantUserFactory()
    fund(consultant, 90_000)
    request_payout(consultant=consultant, amount=25_000)
    payment = paid_payment(ClientFactory())
    for outcome, key in [(GatewayTimeout, "r-pending"), (GatewayDeclined, "r-failed")]:

        def refuse(self, *args, outcome=outcome, **kwargs):
            raise outcome("the gateway")

        monkeypatch.setattr(LocalGateway, "refund", refuse)
        payments.refund_payment(payment_id=payment.id, amount=100, idempotency_key=key)
    with django_capture_on_commit_callbacks(execute=True):
        services.bill_due_consultations(now=now + timedelta(seconds=60))

    response = operator.get(reverse("admin:index"))

    assert response.status_code == 200
    shown = tiles(response.content.decode())
    assert shown["Active chat consultations"] == (
        "2",
        "/admin/consultations/consultation/?status__exact=active&channel__exact=chat",
    )
    assert shown["Active voice consultations"][0] == "0"
    assert shown["Open sockets"][0] == "0"
    assert shown["Billing lag"][0].endswith(" s")
    assert shown["Consultants to verify"] == (
        "1",
        "/admin/consultants/consultantprofile/?is_verified__exact=0",
    )
    assert shown["Refunds pending"] == ("1", "/admin/wallets/refund/?status__exact=pending")
    assert shown["Refunds failed"] == ("1", "/admin/wallets/refund/?status__exact=failed")
    assert shown["Payouts to approve"] == ("1", "/admin/earnings/payout/?status__exact=requested")
    charged = shown["Charged today"][0]
    assert charged.startswith("₹") and charged != "₹0.00"
    assert shown["Commission today"][0] != "₹0.00"
    # Every link opens its list.
    for _, href in shown.values():
        assert operator.get(href).status_code == 200, href
    assert set(Refund.objects.values_list("status", flat=True)) == {
        RefundStatus.PENDING,
        RefundStatus.FAILED,
    }


def test_the_index_warns_when_billing_falls_behind(operator, settings):
    settings.BILLING_TICK_SECONDS = 10
    ActiveConsultationFactory(last_billed_at=timezone.now() - timedelta(seconds=45))
    html = operator.get(reverse("admin:index")).content.decode()
    assert re.search(
        r'<li class="warn" data-testid="ops-tile">\s*<a [^>]*>\s*'
        r'<span class="label">Billing lag</span>',
        html,
    )


def test_the_index_costs_a_fixed_number_of_queries(operator, django_assert_num_queries):
    for _ in range(3):
        ActiveConsultationFactory(client=funded_client())
    operator.get(reverse("admin:index"))  # the session is warm
    # session, user, the live state (2), today's money, verifications, payouts, recent actions
    with django_assert_num_queries(8):
        assert operator.get(reverse("admin:index")).status_code == 200
    for _ in range(5):
        ActiveConsultationFactory(client=funded_client(), channel="chat")
    with django_assert_num_queries(8):
        assert operator.get(reverse("admin:index")).status_code == 200


def test_the_index_is_for_staff_only(client):
    client.force_login(ClientFactory())
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "login" in response["Location"]
