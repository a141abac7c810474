"""The bookings pages (bookings/views.py, bookings/pages.py) through Django's test client: what
a consultant sets up, what a client sees on a profile; errors next to their fields."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts.tests.factories import ClientFactory
from bookings.models import Schedule, SessionType
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory, booking_row
from consultants.tests.factories import VerifiedConsultantFactory

pytestmark = pytest.mark.django_db

# A Monday morning in India (03:30 UTC = 09:00 IST).
NOW = datetime(2026, 12, 7, 3, 30, tzinfo=UTC)


@pytest.fixture
def expert():
    return VerifiedConsultantFactory(user__name="Kavya Menon")


@pytest.fixture
def as_expert(client, expert):
    client.force_login(expert.user)
    return client


def editor(client, **data):
    return client.post("/dashboard/bookings/", data)


# --- The consultant's editor --------------------------------------------------------------------


def test_the_editor_is_the_consultants_own(client, expert):
    assert client.get("/dashboard/bookings/").status_code == 302  # to the login page
    client.force_login(ClientFactory())
    assert client.get("/dashboard/bookings/").status_code == 404


def test_a_consultant_adds_a_session_type_in_rupees(as_expert, expert):
    answer = editor(
        as_expert,
        action="add_type",
        title="Career review",
        description="Your CV and your next step.",
        channel="video",
        duration_minutes="45",
        price="1499.50",
    )
    assert answer.status_code == 302
    added = SessionType.objects.get(consultant=expert)
    assert (added.title, added.channel, added.duration_minutes, added.price) == (
        "Career review",
        "video",
        45,
        149_950,
    )
    page = as_expert.get("/dashboard/bookings/").content.decode()
    assert "Session type added: clients can book it now." in page
    assert "₹1,499.50" in page


def test_a_bad_session_type_is_refused_next_to_its_fields_keeping_what_was_typed(as_expert):
    answer = editor(
        as_expert,
        action="add_type",
        title="Quick",
        channel="chat",
        duration_minutes="5",
        price="0.50",
    )
    assert answer.status_code == 400
    form = answer.context["type_form"]
    assert set(form.errors) == {"duration_minutes", "price"}
    assert 'value="Quick"' in answer.content.decode()
    assert SessionType.objects.count() == 0


def test_turning_a_session_type_off_keeps_it_for_its_bookings(as_expert, expert):
    kept = SessionTypeFactory(consultant=expert)
    other = SessionTypeFactory()  # someone else's: not this consultant's to turn off
    editor(as_expert, action="type_off", session_type=str(kept.id))
    editor(as_expert, action="type_off", session_type=str(other.id))
    kept.refresh_from_db()
    other.refresh_from_db()
    assert (kept.is_active, other.is_active) == (False, True)


def test_weekly_hours_are_typed_as_ranges_per_day(as_expert, expert):
    answer = editor(
        as_expert,
        action="hours",
        mon="09:00-13:00, 14:00 - 18:00",
        wed="20:00-24:00",
        timezone="Europe/London",
        unavailable_dates="2026-12-25, 2026-12-26\n2026-12-25",
        min_notice_hours="4",
        horizon_days="60",
    )
    assert answer.status_code == 302
    schedule = Schedule.objects.get(consultant=expert)
    assert schedule.weekly == [
        {"weekday": 0, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "14:00", "end": "18:00"},
        {"weekday": 2, "start": "20:00", "end": "24:00"},
    ]
    assert schedule.timezone == "Europe/London"
    assert schedule.unavailable_dates == ["2026-12-25", "2026-12-26"]
    assert (schedule.min_notice_hours, schedule.horizon_days) == (4, 60)
    # The form shows them back as they were typed, one line a day.
    form = as_expert.get("/dashboard/bookings/").context["hours_form"]
    assert form["mon"].value() == "09:00-13:00, 14:00-18:00"
    assert form["tue"].value() == ""


def test_bad_hours_are_shown_next_to_their_day(as_expert, expert):
    answer = editor(
        as_expert,
        action="hours",
        mon="09:00-13:00, 12:00-15:00",  # overlapping: the service says so
        tue="nine to five",  # not a range: the form says so
        fri="18:00-09:00",  # backwards
        timezone="Mars/Olympus",
        unavailable_dates="25/12/2026",
        min_notice_hours="2",
        horizon_days="30",
    )
    assert answer.status_code == 400
    errors = answer.context["hours_form"].errors
    assert "tue" in errors
    assert Schedule.objects.filter(consultant=expert).count() == 0
    # With the form's own complaint fixed, the service's go next to their fields.
    answer = editor(
        as_expert,
        action="hours",
        mon="09:00-13:00, 12:00-15:00",
        fri="18:00-09:00",
        timezone="Mars/Olympus",
        unavailable_dates="25/12/2026",
        min_notice_hours="2",
        horizon_days="30",
    )
    errors = answer.context["hours_form"].errors
    assert set(errors) == {"mon", "fri", "timezone", "unavailable_dates"}
    assert "overlaps" in str(errors["mon"])


# --- The profile --------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_the_profile_offers_session_types_with_their_next_free_times(client, expert):
    ScheduleFactory(consultant=expert, weekly=[{"weekday": 0, "start": "10:00", "end": "13:00"}])
    review = SessionTypeFactory(consultant=expert, title="Career review", duration_minutes=60)
    SessionTypeFactory(consultant=expert, title="Old offer", is_active=False)
    # 11:00-12:00 IST today is taken.
    booking_row(review, client=ClientFactory(), start_at=NOW + timedelta(hours=2))
    asha = ClientFactory()
    client.force_login(asha)
    page = client.get(f"/consultants/{expert.id}/").content.decode()
    assert "Book a session" in page and "Career review" in page and "Old offer" not in page
    offers = client.get(f"/consultants/{expert.id}/").context["booking_offers"]
    starts = [s.start_at for s in offers[0].slots]
    # Two hours' notice from 09:00 makes 11:00 the first start, taken until 12:00; then next
    # Monday's, up to the six the profile shows.
    next_monday = NOW + timedelta(days=7, hours=1)  # 10:00 IST
    assert starts == [
        NOW + timedelta(hours=3),  # 12:00 IST today
        *[next_monday + timedelta(minutes=30 * n) for n in range(5)],  # 10:00 ... 12:00
    ]
    assert f"/bookings/new/?session_type={review.id}" in page


def test_a_visitor_is_asked_to_log_in_to_book_and_nothing_shows_without_session_types(
    client, expert
):
    assert "Book a session" not in client.get(f"/consultants/{expert.id}/").content.decode()
    SessionTypeFactory(consultant=expert)
    page = client.get(f"/consultants/{expert.id}/").content.decode()
    assert "Log in to book" in page and "No free times in the next two weeks." in page


# --- Booking ------------------------------------------------------------------------------------

TUESDAY_10 = NOW + timedelta(days=1, hours=1)  # 10:00 IST tomorrow: 25 hours ahead


@pytest.fixture
def offer(expert):
    ScheduleFactory(consultant=expert)  # every day 09:00-17:00 IST
    return SessionTypeFactory(consultant=expert, title="Career review", price=150_000)


@pytest.fixture
def asha(client):
    from wallets.tests.factories import fund

    person = ClientFactory(name="Asha Verma")
    fund(person, 500_000)
    client.force_login(person)
    return person


def book(client, offer, start, pay_with="wallet", goals="My next role"):
    return client.post(
        f"/bookings/new/?session_type={offer.id}",
        {"slot": start.isoformat(), "goals": goals, "pay_with": pay_with},
    )


@time_machine.travel(NOW, tick=False)
def test_a_client_books_a_free_time_and_pays_from_the_wallet(client, offer, asha):
    from bookings.models import Booking
    from wallets.services import wallet_for

    page = client.get(f"/bookings/new/?session_type={offer.id}")
    assert page.status_code == 200
    assert TUESDAY_10.isoformat() in page.content.decode()
    answer = book(client, offer, TUESDAY_10)
    booking = Booking.objects.get(client=asha)
    assert answer.status_code == 302 and answer["Location"] == f"/bookings/{booking.id}/"
    assert (booking.status, booking.start_at, booking.goals) == (
        "confirmed",
        TUESDAY_10,
        "My next role",
    )
    assert wallet_for(user=asha).available == 500_000 - 150_000
    shown = client.get(answer["Location"]).content.decode()
    assert 'data-testid="booking-status">confirmed<' in shown
    assert "Booked. The confirmation is on its way to your email." in shown


@time_machine.travel(NOW, tick=False)
def test_card_upi_goes_through_the_checkout_and_back_to_the_booking(client, offer, asha, settings):
    from bookings.models import Booking

    settings.PAYMENT_GATEWAY = "local"
    answer = book(client, offer, TUESDAY_10, pay_with="gateway")
    booking = Booking.objects.get(client=asha)
    assert booking.status == "pending"
    checkout = f"/wallet/checkout/{booking.payment_id}/?next=%2Fbookings%2F{booking.id}%2F"
    assert answer["Location"] == checkout
    pending = client.get(f"/bookings/{booking.id}/").content.decode()
    assert "Waiting for the payment." in pending and "Pay now" in pending
    paid = client.post(checkout, {"next": f"/bookings/{booking.id}/"})
    assert paid["Location"] == f"/bookings/{booking.id}/"
    booking.refresh_from_db()
    assert booking.status == "confirmed"


@time_machine.travel(NOW, tick=False)
def test_a_time_taken_meanwhile_is_shown_next_to_the_slot(client, offer, asha):
    from bookings.models import Booking

    booking_row(offer, client=ClientFactory(), start_at=TUESDAY_10)
    answer = book(client, offer, TUESDAY_10)
    assert answer.status_code == 400
    assert answer.context["form"].errors["slot"] == [
        "That time has just been taken or is no longer available. Choose another slot."
    ]
    assert 'value="My next role"' not in answer.content.decode()  # a textarea keeps it inside
    assert "My next role" in answer.content.decode()
    assert not Booking.objects.filter(client=asha).exists()


@time_machine.travel(NOW, tick=False)
def test_a_wallet_short_of_the_price_is_told_next_to_pay_with(client, offer):
    client.force_login(ClientFactory())
    answer = book(client, offer, TUESDAY_10)
    assert answer.status_code == 402
    assert "below the price" in str(answer.context["form"].errors["pay_with"])


@time_machine.travel(NOW, tick=False)
def test_a_short_wallet_is_offered_a_split_and_pays_the_rest_at_the_checkout(
    client, offer, settings
):
    from bookings.models import Booking
    from wallets.services import wallet_for
    from wallets.tests.factories import fund

    settings.PAYMENT_GATEWAY = "local"
    person = ClientFactory()
    fund(person, 30_000)
    client.force_login(person)
    page = client.get(f"/bookings/new/?session_type={offer.id}").content.decode()
    assert 'value="split"' in page and "₹300.00 from my balance + ₹1,200.00 online" in page
    answer = book(client, offer, TUESDAY_10, pay_with="split")
    booking = Booking.objects.get(client=person)
    assert (booking.status, booking.payment.amount) == ("pending", 120_000)
    checkout = f"/wallet/checkout/{booking.payment_id}/?next=%2Fbookings%2F{booking.id}%2F"
    assert answer["Location"] == checkout
    pending = client.get(f"/bookings/{booking.id}/").content.decode()
    assert "₹300.00 from the wallet + ₹1,200.00 by card / UPI" in pending
    assert "₹300.00 of the wallet is held for it meanwhile" in pending
    assert wallet_for(user=person).available == 0
    client.post(checkout, {"next": f"/bookings/{booking.id}/"})
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    wallet = wallet_for(user=person)
    assert (wallet.balance, wallet.held) == (0, 0)


@time_machine.travel(NOW, tick=False)
def test_a_split_is_not_offered_when_the_wallet_covers_the_price_or_is_empty(client, offer, asha):
    page = client.get(f"/bookings/new/?session_type={offer.id}").content.decode()
    assert 'value="split"' not in page
    client.force_login(ClientFactory())
    page = client.get(f"/bookings/new/?session_type={offer.id}").content.decode()
    assert 'value="split"' not in page


@time_machine.travel(NOW, tick=False)
def test_a_split_that_no_longer_fits_is_told_next_to_pay_with(client, offer, asha):
    from bookings.models import Booking

    answer = book(client, offer, TUESDAY_10, pay_with="split")
    assert answer.status_code == 400
    assert "covers the price" in str(answer.context["form"].errors["pay_with"])
    assert not Booking.objects.exists()


def test_only_a_client_books_and_only_an_offered_type(client, offer, expert):
    assert client.get(f"/bookings/new/?session_type={offer.id}").status_code == 302  # log in
    client.force_login(expert.user)
    assert client.get(f"/bookings/new/?session_type={offer.id}").status_code == 404
    client.force_login(ClientFactory())
    assert client.get("/bookings/new/?session_type=nonsense").status_code == 404
    offer.is_active = False
    offer.save()
    assert client.get(f"/bookings/new/?session_type={offer.id}").status_code == 404


# --- A booking's page: the refund before cancelling, joining -------------------------------------


@pytest.fixture
def booked(client, offer, asha):
    with time_machine.travel(NOW, tick=False):
        book(client, offer, TUESDAY_10)
    from bookings.models import Booking

    return Booking.objects.get(client=asha)


@pytest.mark.parametrize(
    ("before_start", "refund"),
    [
        (timedelta(hours=24), 150_000),  # exactly 24 hours before: everything
        (timedelta(hours=23, minutes=59), 75_000),  # later: half
        (timedelta(hours=2), 75_000),  # exactly 2 hours before: still half
        (timedelta(hours=1, minutes=59), 0),  # later: nothing
    ],
)
def test_the_client_reads_the_refund_then_cancels_for_exactly_that(
    client, booked, asha, before_start, refund
):
    from wallets.services import wallet_for
    from web.templatetags.site import format_rupees

    with time_machine.travel(TUESDAY_10 - before_start, tick=False):
        page = client.get(f"/bookings/{booked.id}/").content.decode()
        assert f"Cancelling now gives you back {format_rupees(refund)} of ₹1,500.00." in page
        before = wallet_for(user=asha).balance
        answer = client.post(f"/bookings/{booked.id}/cancel/", {"reason": "Plans changed"})
    assert answer["Location"] == f"/bookings/{booked.id}/"
    booked.refresh_from_db()
    assert (booked.status, booked.refund_amount, booked.cancelled_by) == (
        "cancelled",
        refund,
        "client",
    )
    assert wallet_for(user=asha).balance == before + refund - 0  # (the price was charged)
    page = client.get(f"/bookings/{booked.id}/").content.decode()
    assert "Cancelled by the client: Plans changed" in page
    assert "Cancel booking" not in page


def test_the_consultant_cancelling_gives_everything_back(client, booked, expert):
    client.force_login(expert.user)
    with time_machine.travel(TUESDAY_10 - timedelta(hours=1), tick=False):
        page = client.get(f"/bookings/{booked.id}/").content.decode()
        assert "If you cancel, the client gets back ₹1,500.00: everything." in page
        client.post(f"/bookings/{booked.id}/cancel/")
    booked.refresh_from_db()
    assert (booked.status, booked.refund_amount, booked.cancelled_by) == (
        "cancelled",
        150_000,
        "consultant",
    )


def test_join_opens_the_room_from_five_minutes_before(client, booked, expert, settings):
    settings.BOOKING_JOIN_EARLY_MINUTES = 5
    with time_machine.travel(TUESDAY_10 - timedelta(minutes=6), tick=False):
        page = client.get(f"/bookings/{booked.id}/").content.decode()
        assert "The room opens at 09:55 on 8 Dec" in page
        early = client.post(f"/bookings/{booked.id}/join/")
        assert early["Location"] == f"/bookings/{booked.id}/"
    with time_machine.travel(TUESDAY_10 - timedelta(minutes=5), tick=False):
        assert "The room is open." in client.get(f"/bookings/{booked.id}/").content.decode()
        answer = client.post(f"/bookings/{booked.id}/join/")
    booked.refresh_from_db()
    assert answer["Location"] == f"/consultations/{booked.consultation_id}/"


def test_only_its_participants_see_a_booking(client, booked):
    client.logout()
    assert client.get(f"/bookings/{booked.id}/").status_code == 302
    client.force_login(ClientFactory())
    assert client.get(f"/bookings/{booked.id}/").status_code == 404
    assert client.post(f"/bookings/{booked.id}/cancel/").status_code == 404
    assert client.post(f"/bookings/{booked.id}/join/").status_code == 404


# --- Lists --------------------------------------------------------------------------------------


def test_the_consultations_list_and_the_dashboard_show_bookings(client, booked, expert):
    with time_machine.travel(NOW, tick=False):
        mine = client.get("/consultations/").content.decode()
        assert f"/bookings/{booked.id}/" in mine and "₹1,500.00" in mine
        client.force_login(expert.user)
        dashboard = client.get("/dashboard/").content.decode()
    assert f"/bookings/{booked.id}/" in dashboard and "Asha Verma" in dashboard
    assert "1 session type on offer" in dashboard
