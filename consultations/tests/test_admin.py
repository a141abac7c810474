"""The consultations admin: filters, the timeline, the force-end and refund actions."""

import pytest
from django.urls import reverse

from accounts.tests.factories import AdminFactory
from consultations.models import EndReason, Status
from consultations.refunds import refunded_so_far
from consultations.tests.factories import ActiveConsultationFactory
from earnings.tests.factories import ended_consultation
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:consultations_consultation_changelist"


@pytest.fixture
def operator(client):
    client.force_login(AdminFactory())
    return client


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?status__exact=ended",
        "?channel__exact=chat",
        "?requested_at__year=2026&requested_at__month=3",
        "?q=nobody@example.com",
        "?q=not-a-uuid",
    ],
)
def test_the_list_filters_and_searches(operator, query):
    ended_consultation()

    response = operator.get(reverse(CHANGELIST) + query)

    assert response.status_code == 200


def test_the_change_page_shows_the_timeline_of_charges_and_events(operator):
    consultation = ended_consultation(rate=600, seconds=100)

    response = operator.get(
        reverse("admin:consultations_consultation_change", args=[consultation.pk])
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "consultation_charge" in page
    assert "client -1000" in page and "consultant +800" in page and "platform +200" in page
    assert "active → ended" in page


def test_the_force_end_action_ends_an_active_consultation_as_admin(operator):
    consultation = ActiveConsultationFactory()
    fund(consultation.client, 10_000)

    operator.post(
        reverse(CHANGELIST), {"action": "force_end", "_selected_action": [consultation.pk]}
    )

    consultation.refresh_from_db()
    assert consultation.status == Status.FORCE_ENDED
    assert consultation.end_reason == EndReason.ADMIN


def test_the_refund_action_asks_for_the_amount_then_refunds(operator):
    consultation = ended_consultation(rate=600, seconds=100)
    url = reverse(CHANGELIST)
    chosen = {"action": "refund", "_selected_action": [consultation.pk]}

    form = operator.post(url, chosen)
    assert form.status_code == 200
    assert "up to 1000 paise" in form.content.decode()

    operator.post(url, {**chosen, "apply": "1", "amount": "400", "reason": "Dropped call"})

    assert refunded_so_far(consultation) == 400


def test_the_refund_action_reports_a_refusal(operator):
    consultation = ended_consultation(rate=600, seconds=100)

    response = operator.post(
        reverse(CHANGELIST),
        {
            "action": "refund",
            "_selected_action": [consultation.pk],
            "apply": "1",
            "amount": "5000",
            "reason": "",
        },
        follow=True,
    )

    assert "would exceed the charge" in response.content.decode()
    assert refunded_so_far(consultation) == 0
