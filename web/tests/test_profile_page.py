"""The consultant's own profile page, `/dashboard/profile/` (UI.md): beside who they are, rates
and verification, the session types and the weekly schedule are edited here too (the bookings
app's editors, composed by web/views.py). Every form posts its own action; a refused one comes
back next to its fields with what was typed, and the other forms as they were saved."""

import pytest

from accounts.tests.factories import ClientFactory
from bookings.models import Schedule, SessionType
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
from consultants.tests.factories import VerifiedConsultantFactory

pytestmark = pytest.mark.django_db

PROFILE = "/dashboard/profile/"


@pytest.fixture
def expert():
    return VerifiedConsultantFactory(user__name="Kavya Menon", bio="Careers, CVs and interviews.")


@pytest.fixture
def as_expert(client, expert):
    client.force_login(expert.user)
    return client


def post(client, **data):
    return client.post(PROFILE, data)


def hours(**fields):
    """The weekly hours form as a person fills it: the days given, the rest of the schedule
    as given or as a first schedule would be."""
    return {
        "action": "hours",
        "timezone": "Asia/Kolkata",
        "unavailable_dates": "",
        "min_notice_hours": "2",
        "horizon_days": "30",
        **fields,
    }


def test_the_profile_page_is_the_consultants_own(client):
    assert client.get(PROFILE)["Location"].startswith("/login/")
    client.force_login(ClientFactory())
    assert client.get(PROFILE).status_code == 404
    assert post(client, action="add_type", title="Sneaky").status_code == 404
    assert SessionType.objects.count() == 0


def test_the_profile_page_carries_the_session_types_and_the_weekly_hours(as_expert, expert):
    SessionTypeFactory(consultant=expert, title="CV check", price=60_000)
    SessionTypeFactory(consultant=expert, title="Retired offer", is_active=False)
    ScheduleFactory(consultant=expert, weekly=[{"weekday": 1, "start": "10:00", "end": "13:00"}])
    answer = as_expert.get(PROFILE)
    assert answer.status_code == 200
    page = answer.content.decode()
    # The profile's own editors, and the bookings app's, each labelled field by field.
    for label in ("About you", "Document type", "Title", "Price (₹)", "Monday", "Time zone"):
        assert f">{label}</label>" in page
    assert "Save profile" in page and "Add session type" in page and "Save hours" in page
    assert "CV check" in page and "₹600.00" in page and "Retired offer" not in page
    assert answer.context["hours_form"]["tue"].value() == "10:00-13:00"
    assert 'href="/dashboard/bookings/"' in page  # the upcoming bookings, one click away


def test_a_consultant_adds_a_session_type_from_the_profile_page(as_expert, expert):
    answer = post(
        as_expert,
        action="add_type",
        title="Interview practice",
        description="A mock interview and notes.",
        channel="video",
        duration_minutes="60",
        price="1999.50",
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/dashboard/profile/#main"  # the message, at the page's top
    added = SessionType.objects.get(consultant=expert)
    assert (added.title, added.channel, added.duration_minutes, added.price) == (
        "Interview practice",
        "video",
        60,
        199_950,
    )
    page = as_expert.get(PROFILE).content.decode()
    assert "Session type added: clients can book it now." in page
    assert "Interview practice" in page and "₹1,999.50" in page


def test_a_bad_session_type_is_refused_next_to_its_fields_keeping_what_was_typed(as_expert, expert):
    answer = post(
        as_expert,
        action="add_type",
        title="Quick chat",
        description="Ten minutes.",
        channel="chat",
        duration_minutes="5",
        price="0.50",
    )
    assert answer.status_code == 400
    assert set(answer.context["type_form"].errors) == {"duration_minutes", "price"}
    page = answer.content.decode()
    # The message in words right after its field, what was typed kept.
    assert 'id="id_duration_minutes_error"' in page and 'id="id_price_error"' in page
    assert 'value="Quick chat"' in page and 'value="5"' in page and 'value="0.50"' in page
    assert "Ten minutes.</textarea>" in page
    # The form posts to its own section, so the page opens where the errors are.
    assert 'action="#add-type-h"' in page
    # The profile's own forms are drawn as saved, not as refused.
    assert not answer.context["form"].is_bound
    assert "Careers, CVs and interviews.</textarea>" in page
    assert SessionType.objects.count() == 0


def test_turning_a_session_type_off_from_the_profile_page(as_expert, expert):
    kept = SessionTypeFactory(consultant=expert, title="CV check")
    other = SessionTypeFactory()  # another consultant's: not this one's to turn off
    answer = post(as_expert, action="type_off", session_type=str(kept.id))
    assert answer.status_code == 302 and answer["Location"] == "/dashboard/profile/#main"
    page = as_expert.get(PROFILE).content.decode()
    assert "Session type turned off. Bookings made keep their terms." in page
    assert "CV check" not in page
    refused = post(as_expert, action="type_off", session_type=str(other.id))
    assert refused.status_code == 302
    assert "No such session type." in as_expert.get(PROFILE).content.decode()
    kept.refresh_from_db()
    other.refresh_from_db()
    assert (kept.is_active, other.is_active) == (False, True)


def test_turning_off_a_session_type_that_is_no_id_at_all_is_refused_in_words(as_expert, expert):
    """An edited or stale form (`session_type=junk`) is the same "no such session type" as
    someone else's, not a server error."""
    offer = SessionTypeFactory(consultant=expert)
    for junk in ("junk", ""):
        answer = post(as_expert, action="type_off", session_type=junk)
        assert answer.status_code == 302
        assert "No such session type." in as_expert.get(PROFILE).content.decode()
    offer.refresh_from_db()
    assert offer.is_active


def test_weekly_hours_are_saved_from_the_profile_page(as_expert, expert):
    answer = post(
        as_expert,
        **hours(
            mon="09:00-13:00, 14:00 - 18:00",
            sat="10:00-12:00",
            timezone="Europe/London",
            unavailable_dates="2026-12-25",
            min_notice_hours="4",
            horizon_days="60",
        ),
    )
    assert answer.status_code == 302 and answer["Location"] == "/dashboard/profile/#main"
    schedule = Schedule.objects.get(consultant=expert)
    assert schedule.weekly == [
        {"weekday": 0, "start": "09:00", "end": "13:00"},
        {"weekday": 0, "start": "14:00", "end": "18:00"},
        {"weekday": 5, "start": "10:00", "end": "12:00"},
    ]
    assert (schedule.timezone, schedule.unavailable_dates) == ("Europe/London", ["2026-12-25"])
    assert (schedule.min_notice_hours, schedule.horizon_days) == (4, 60)
    shown = as_expert.get(PROFILE)
    assert "Your hours are saved." in shown.content.decode()
    assert shown.context["hours_form"]["mon"].value() == "09:00-13:00, 14:00-18:00"
    assert shown.context["hours_form"]["sat"].value() == "10:00-12:00"


def test_bad_hours_are_shown_next_to_their_day_keeping_every_day_typed(as_expert, expert):
    ScheduleFactory(consultant=expert, weekly=[{"weekday": 0, "start": "09:00", "end": "17:00"}])
    typed = hours(mon="10:00-12:00", tue="nine to five", wed="14:00-16:00")
    answer = post(as_expert, **typed)
    assert answer.status_code == 400
    assert set(answer.context["hours_form"].errors) == {"tue"}
    page = answer.content.decode()
    assert 'id="id_tue_error"' in page and "Write ranges like 09:00-13:00" in page
    for value in ("10:00-12:00", "nine to five", "14:00-16:00"):
        assert f'value="{value}"' in page
    assert 'action="#hours"' in page
    # What the service refuses goes next to its field too.
    answer = post(
        as_expert,
        **hours(
            mon="09:00-13:00, 12:00-15:00",
            fri="18:00-09:00",
            timezone="Mars/Olympus",
            unavailable_dates="25/12/2026",
        ),
    )
    assert answer.status_code == 400
    errors = answer.context["hours_form"].errors
    assert set(errors) == {"mon", "fri", "timezone", "unavailable_dates"}
    assert "overlaps" in str(errors["mon"])
    page = answer.content.decode()
    for field in ("mon", "fri", "timezone", "unavailable_dates"):
        assert f'id="id_{field}_error"' in page
    assert 'value="Mars/Olympus"' in page and "25/12/2026</textarea>" in page
    # Nothing changed: the saved hours stand.
    schedule = Schedule.objects.get(consultant=expert)
    assert schedule.weekly == [{"weekday": 0, "start": "09:00", "end": "17:00"}]


def test_a_refused_profile_still_shows_the_session_types_and_hours_as_saved(as_expert, expert):
    SessionTypeFactory(consultant=expert, title="CV check")
    ScheduleFactory(consultant=expert, weekly=[{"weekday": 3, "start": "08:00", "end": "11:00"}])
    answer = post(as_expert, action="profile", bio="New bio", category="no-such-field")
    assert answer.status_code == 400
    assert "category" in answer.context["form"].errors
    assert "New bio</textarea>" in answer.content.decode()
    assert not answer.context["type_form"].is_bound
    assert not answer.context["hours_form"].is_bound
    assert answer.context["hours_form"]["thu"].value() == "08:00-11:00"
    assert "CV check" in answer.content.decode()


def test_the_bookings_page_keeps_its_upcoming_bookings_and_the_same_editors(as_expert, expert):
    answer = as_expert.post("/dashboard/bookings/", hours(mon="09:00-10:00"))
    assert answer.status_code == 302 and answer["Location"] == "/dashboard/bookings/#main"
    assert Schedule.objects.get(consultant=expert).weekly == [
        {"weekday": 0, "start": "09:00", "end": "10:00"}
    ]
    page = as_expert.get("/dashboard/bookings/").content.decode()
    assert "Upcoming bookings" in page and "Save hours" in page and "Add session type" in page
