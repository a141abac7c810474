"""The consultant's dashboard, earnings page and the consultations list, through Django's
test client."""

import pytest
import time_machine

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import OnlineConsultantFactory, VerifiedConsultantFactory
from consultations.models import Status
from consultations.tests.factories import ConsultationFactory
from earnings.models import Payout, PayoutStatus
from earnings.tests.factories import ENDED_AT, ended_consultation

pytestmark = pytest.mark.django_db


@pytest.fixture
def consultant(client):
    profile = OnlineConsultantFactory(user__name="Rohan Kapoor", rate_chat=600)
    client.force_login(profile.user)
    return profile


# --- The dashboard -------------------------------------------------------------------------------


def test_the_dashboard_has_the_online_switch_and_todays_earnings(client, consultant):
    ended_consultation(consultant=consultant, rate=600, seconds=100, at=ENDED_AT)
    with time_machine.travel(ENDED_AT, tick=False):
        response = client.get("/dashboard/")
    html = response.content.decode()
    assert 'role="switch" id="online-switch" name="online" checked' in html
    assert '<label class="switch" for="online-switch">' in html
    # 600 paise a minute for 100 s = 1000 paise; the consultant keeps 80 %.
    assert 'data-testid="today-earnings">₹8.00<' in html


def test_a_ringing_request_is_on_the_dashboard_with_accept_and_decline(client, consultant):
    ConsultationFactory(consultant=consultant, client=ClientFactory(name="Asha Verma"))
    html = client.get("/dashboard/").content.decode()
    assert html.count('data-testid="incoming-request"') == 1
    assert "Asha Verma" in html and ">Accept</button>" in html and ">Decline</button>" in html


def test_accept_opens_the_room_and_decline_frees_the_consultant(client, consultant):
    from wallets.tests.factories import fund

    first = ConsultationFactory(consultant=consultant)
    fund(first.client, 10_000)
    response = client.post(f"/consultations/{first.id}/accept/")
    assert response["Location"] == f"/consultations/{first.id}/"
    first.refresh_from_db()
    assert first.status == Status.ACTIVE


def test_decline_answers_the_request(client, consultant):
    request = ConsultationFactory(consultant=consultant)
    assert client.post(f"/consultations/{request.id}/decline/")["Location"] == "/dashboard/"
    request.refresh_from_db()
    assert request.status == Status.DECLINED


def test_another_consultants_request_cannot_be_answered(client, consultant):
    request = ConsultationFactory()
    assert client.post(f"/consultations/{request.id}/accept/").status_code == 404
    assert client.get(f"/dashboard/requests/{request.id}/").status_code == 404
    request.refresh_from_db()
    assert request.status == Status.PENDING


def test_the_request_fragment_is_what_the_dashboard_inserts(client, consultant):
    request = ConsultationFactory(consultant=consultant, client=ClientFactory(name="Meera Iyer"))
    html = client.get(f"/dashboard/requests/{request.id}/").content.decode()
    assert 'data-testid="incoming-request"' in html and "Meera Iyer" in html
    assert f'action="/consultations/{request.id}/accept/"' in html


def test_the_switch_turns_availability_on_and_off(client, consultant):
    answer = client.post("/dashboard/availability/", HTTP_ACCEPT="application/json")
    assert answer.json() == {"is_online": False}
    consultant.refresh_from_db()
    assert not consultant.is_online
    answer = client.post(
        "/dashboard/availability/", {"online": "on"}, HTTP_ACCEPT="application/json"
    )
    assert answer.json() == {"is_online": True}


def test_an_unverified_consultant_cannot_go_online_and_is_told_why(client):
    profile = VerifiedConsultantFactory(is_verified=False)
    client.force_login(profile.user)
    answer = client.post(
        "/dashboard/availability/", {"online": "on"}, HTTP_ACCEPT="application/json"
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "consultant_not_verified"
    assert "once an operator has verified" in client.get("/dashboard/").content.decode()


def test_the_dashboard_reads_a_fixed_number_of_queries(
    client, consultant, django_assert_num_queries
):
    for _ in range(3):
        ended_consultation(consultant=consultant, rate=600, seconds=60)
    ConsultationFactory(consultant=consultant)
    _upcoming_bookings(consultant=consultant, count=3)
    client.get("/dashboard/")
    # session, user, profile, ringing, active, recent, wallet, earnings figures, payouts,
    # upcoming bookings (with their clients), schedule, session types, the busy notice
    with django_assert_num_queries(13):
        client.get("/dashboard/")


def _upcoming_bookings(*, count: int, consultant=None, client=None):
    """Confirmed bookings in the coming days, each with another person on the other side (so
    a query per row would show in the counts)."""
    from datetime import timedelta

    from django.utils import timezone

    from bookings.tests.factories import SessionTypeFactory, booking_row
    from consultants.tests.factories import VerifiedConsultantFactory

    for day in range(1, count + 1):
        session_type = SessionTypeFactory.create(
            consultant=consultant or VerifiedConsultantFactory()
        )
        booking_row(
            session_type,
            client=client or ClientFactory(),
            start_at=timezone.now().replace(microsecond=0) + timedelta(days=day),
        )


def test_the_dashboard_is_for_consultants(client):
    client.force_login(ClientFactory())
    assert client.get("/dashboard/").status_code == 404


# --- Earnings and payouts -------------------------------------------------------------------------


def test_earnings_per_consultation_and_a_payout_request(client, consultant):
    ended_consultation(consultant=consultant, rate=600, seconds=100)
    html = client.get("/earnings/").content.decode()
    assert html.count('data-testid="earning"') == 1
    assert "₹10.00" in html and "₹8.00" in html  # charged, earned
    response = client.post("/earnings/", {"amount": "5"})
    assert response.status_code == 302
    payout = Payout.objects.get(consultant=consultant.user)
    assert payout.amount == 500 and payout.status == PayoutStatus.REQUESTED
    assert 'data-testid="payout"' in client.get("/earnings/").content.decode()


def test_a_payout_above_the_balance_is_refused_next_to_the_field(client, consultant):
    response = client.post("/earnings/", {"amount": "1000"})
    assert response.status_code == 402
    assert response.context["form"].errors["amount"] == [
        "That is more than your available balance."
    ]
    assert not Payout.objects.exists()


def test_the_earnings_page_reads_a_fixed_number_of_queries(
    client, consultant, django_assert_num_queries
):
    for _ in range(3):
        ended_consultation(consultant=consultant, rate=600, seconds=60)
    client.get("/earnings/")
    # session, user, earnings figures, payouts pending, wallet, earnings (+clients), payouts
    with django_assert_num_queries(7):
        client.get("/earnings/")


# --- The consultations list ----------------------------------------------------------------------


def test_the_list_shows_own_consultations_newest_first_with_their_amounts(client):
    from wallets.tests.factories import fund

    user = ClientFactory()
    fund(user, 10_000)
    first = ended_consultation(client=user, rate=600, seconds=60)
    later = ended_consultation(client=user, rate=1200, seconds=30, at=ENDED_AT.replace(hour=11))
    ended_consultation()  # someone else's
    client.force_login(user)
    response = client.get("/consultations/")
    assert [c.id for c in response.context["consultations"]] == [later.id, first.id]
    html = response.content.decode()
    assert html.count("₹6.00<") == 2
    assert "1 min 00 s" in html


def test_the_consultant_sees_their_side_too(client, consultant):
    ended_consultation(consultant=consultant, client=None)
    response = client.get("/consultations/")
    assert len(response.context["consultations"]) == 1


def test_the_list_reads_a_fixed_number_of_queries(client, django_assert_num_queries):
    user = ClientFactory()
    from wallets.tests.factories import fund

    fund(user, 100_000)
    for hour in range(3):
        ended_consultation(client=user, at=ENDED_AT.replace(hour=hour))
    _upcoming_bookings(client=user, count=3)
    client.force_login(user)
    client.get("/consultations/")
    # session, user, the page (with both people), upcoming bookings (with both), the header's
    # wallet
    with django_assert_num_queries(5):
        client.get("/consultations/")


def test_the_list_pages_back_with_older(client):
    from wallets.tests.factories import fund

    user = ClientFactory()
    fund(user, 1_000_000)
    for n in range(27):
        ended_consultation(client=user, rate=60, seconds=1, at=ENDED_AT.replace(minute=n))
    client.force_login(user)
    first = client.get("/consultations/")
    assert len(first.context["consultations"]) == 25
    second = client.get(f"/consultations/?before={first.context['older']}")
    assert len(second.context["consultations"]) == 2
    assert second.context["older"] is None
