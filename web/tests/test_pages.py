"""The pages that bring several apps together (web/views.py), and site-wide behaviour."""

import pytest
from django.template.loader import render_to_string

from accounts.tests.factories import ClientFactory, ConsultantUserFactory
from consultants.tests.factories import OnlineConsultantFactory, VerifiedConsultantFactory
from consultations.models import Consultation, Status
from consultations.tests.factories import ConsultationFactory
from wallets.tests.factories import fund
from web.templatetags.site import duration, format_rupees, initials

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("paise", "text"),
    [
        (0, "₹0.00"),
        (5, "₹0.05"),
        (123450, "₹1,234.50"),
        (10000000, "₹1,00,000.00"),
        (123456789, "₹12,34,567.89"),
        (-1200, "-₹12.00"),
    ],
)
def test_money_is_shown_in_rupees_with_indian_grouping(paise, text):
    assert format_rupees(paise) == text


def test_durations_and_initials_read_as_a_person_expects():
    assert duration(42) == "42 s"
    assert duration(185) == "3 min 05 s"
    assert duration(3720) == "1 h 02 min"
    assert initials("Adv. Rohan Kapoor") == "RK"
    assert initials("") == "?"


def test_the_500_page_looks_like_the_site_without_a_request():
    html = render_to_string("500.html")
    assert "Something went wrong on our side" in html
    assert "css/site.css" in html


# --- A consultant's profile ----------------------------------------------------------------------


@pytest.fixture
def expert(db):
    return OnlineConsultantFactory(
        user__name="Rohan Kapoor", rate_chat=3000, rate_voice=5000, rate_video=None
    )


def test_a_visitor_reads_rates_per_channel_and_is_asked_to_log_in(client, expert):
    response = client.get(f"/consultants/{expert.id}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "₹30.00" in html and "₹50.00" in html
    assert "Start chat" not in html and "Log in to start" in html


def test_a_client_sees_start_buttons_and_what_the_balance_buys(client, expert):
    user = ClientFactory()
    fund(user, 50_000)
    client.force_login(user)
    html = client.get(f"/consultants/{expert.id}/").content.decode()
    assert ">Start chat</button>" in html and ">Start voice call</button>" in html
    assert "Start video call" not in html  # not offered
    assert "Your ₹500.00 ≈ 16 min" in html


def test_a_client_short_of_money_is_told_what_starting_needs(client, expert):
    client.force_login(ClientFactory())
    html = client.get(f"/consultants/{expert.id}/").content.decode()
    assert "Needs ₹150.00 available to start (5 min)." in html


def test_an_unverified_consultant_has_no_public_profile(client):
    profile = VerifiedConsultantFactory(is_verified=False)
    assert client.get(f"/consultants/{profile.id}/").status_code == 404


def test_the_profile_page_reads_a_fixed_number_of_queries(
    client, expert, django_assert_num_queries
):
    from bookings.tests.factories import ScheduleFactory, SessionTypeFactory

    user = ClientFactory()
    client.force_login(user)
    fund(user, 50_000)
    ScheduleFactory(consultant=expert)
    SessionTypeFactory.create_batch(3, consultant=expert)
    client.get(f"/consultants/{expert.id}/")  # the session row, cached afterwards
    # session, user, consultant (+user, category), wallet, reviews, the header's wallet; the
    # session types, the schedule and the bookings their free times avoid (however many types)
    with django_assert_num_queries(9):
        client.get(f"/consultants/{expert.id}/")


# --- Starting a consultation and the room ------------------------------------------------------


def test_start_chat_opens_a_request_and_goes_to_its_room(client, expert):
    user = ClientFactory()
    fund(user, 50_000)
    client.force_login(user)
    response = client.post(
        "/consultations/start/", {"consultant_id": str(expert.id), "channel": "chat"}
    )
    consultation = Consultation.objects.get(client=user)
    assert consultation.status == Status.PENDING
    assert response["Location"] == f"/consultations/{consultation.id}/"
    room = client.get(response["Location"]).content.decode()
    assert 'data-testid="consultation-status">pending<' in room


def test_without_enough_money_the_client_is_sent_to_the_wallet(client, expert):
    client.force_login(ClientFactory())
    response = client.post(
        "/consultations/start/", {"consultant_id": str(expert.id), "channel": "chat"}
    )
    assert response["Location"] == f"/wallet/?next=%2Fconsultants%2F{expert.id}%2F"
    assert not Consultation.objects.exists()


def test_an_offline_consultant_is_told_in_words(client):
    offline = VerifiedConsultantFactory()
    user = ClientFactory()
    fund(user, 50_000)
    client.force_login(user)
    response = client.post(
        "/consultations/start/", {"consultant_id": str(offline.id), "channel": "chat"}, follow=True
    )
    assert "This expert has just gone offline" in response.content.decode()


def test_a_consultant_cannot_start_one(client, expert):
    client.force_login(ConsultantUserFactory())
    response = client.post(
        "/consultations/start/", {"consultant_id": str(expert.id), "channel": "chat"}
    )
    assert response.status_code == 404


def test_someone_elses_room_is_a_404_and_a_visitor_is_asked_to_log_in(client):
    consultation = ConsultationFactory()
    assert client.get(f"/consultations/{consultation.id}/")["Location"].startswith("/login/")
    client.force_login(ClientFactory())
    assert client.get(f"/consultations/{consultation.id}/").status_code == 404
    client.force_login(consultation.consultant.user)
    assert client.get(f"/consultations/{consultation.id}/").status_code == 200


# --- Times in the viewer's zone -------------------------------------------------------------


def test_times_are_shown_in_the_zone_the_browser_reported(client):
    from datetime import UTC, datetime

    import time_machine

    user = ClientFactory()
    with time_machine.travel(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), tick=False):
        fund(user, 10_000)
    client.force_login(user)
    kolkata = client.get("/wallet/").content.decode()
    assert "2 Mar 2026, 05:00" in kolkata  # TIME_ZONE, Asia/Kolkata, by default
    client.cookies["tz"] = "America/New_York"
    new_york = client.get("/wallet/").content.decode()
    assert "1 Mar 2026, 18:30" in new_york
    client.cookies["tz"] = "Not/AZone"
    assert "2 Mar 2026, 05:00" in client.get("/wallet/").content.decode()


# --- Query counts of the remaining pages --------------------------------------------------


def test_the_account_page_reads_a_fixed_number_of_queries(client, django_assert_num_queries):
    user = ClientFactory()
    client.force_login(user)
    client.get("/account/")
    # session, user, the MFA fields again (after a change), the header's wallet
    with django_assert_num_queries(4):
        client.get("/account/")


def test_the_profile_editor_reads_a_fixed_number_of_queries(client, django_assert_num_queries):
    from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
    from consultants.tests.factories import ConsultantProfileFactory

    profile = ConsultantProfileFactory()
    SessionTypeFactory.create_batch(3, consultant=profile)
    ScheduleFactory(consultant=profile)
    client.force_login(profile.user)
    client.get("/dashboard/profile/")
    # session, user, profile (+category), categories of the form, latest decision, documents,
    # the schedule, the session types (one query however many)
    with django_assert_num_queries(8):
        client.get("/dashboard/profile/")


def test_the_checkout_reads_a_fixed_number_of_queries(client, django_assert_num_queries):
    from wallets.payments import create_recharge

    user = ClientFactory()
    client.force_login(user)
    payment = create_recharge(user=user, amount=10_000)
    client.get(f"/wallet/checkout/{payment.id}/")
    # session, user, payment, the header's wallet
    with django_assert_num_queries(4):
        client.get(f"/wallet/checkout/{payment.id}/")
