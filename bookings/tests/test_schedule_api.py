"""Session types, schedules and slots over HTTP."""

from datetime import UTC, datetime

import pytest
import time_machine

from accounts.tests.factories import ClientFactory, sign_in
from bookings.models import Schedule, SessionType
from bookings.tests.factories import ScheduleFactory, SessionTypeFactory
from consultants.tests.factories import ConsultantProfileFactory, VerifiedConsultantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consultant():
    return VerifiedConsultantFactory()


@pytest.fixture
def as_consultant(api, consultant):
    return sign_in(api, consultant.user)


def test_a_consultant_offers_a_session_type(as_consultant, consultant):
    body = {"title": "Career review", "channel": "video", "duration_minutes": 45, "price": 150000}
    created = as_consultant.post("/api/v1/consultants/me/session-types", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["consultant_id"] == str(consultant.id)
    assert data["is_active"] is True and data["currency"] == "INR" and data["description"] == ""
    listed = as_consultant.get("/api/v1/consultants/me/session-types").json()
    assert [row["id"] for row in listed["results"]] == [data["id"]]
    public = as_consultant.get(f"/api/v1/consultants/{consultant.id}/session-types")
    assert public.json()["results"][0]["title"] == "Career review"


def test_bad_session_types_name_each_field(as_consultant):
    body = {"title": "", "channel": "fax", "duration_minutes": 10, "price": 99}
    answer = as_consultant.post("/api/v1/consultants/me/session-types", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert set(answer.json()["fields"]) == {"title", "channel", "duration_minutes", "price"}
    too_long = {**body, "title": "x", "channel": "chat", "duration_minutes": 241, "price": 100}
    answer = as_consultant.post("/api/v1/consultants/me/session-types", too_long, format="json")
    assert set(answer.json()["fields"]) == {"duration_minutes"}


def test_a_nul_character_in_a_session_types_text_is_refused_by_field(as_consultant):
    # PostgreSQL text cannot hold NUL: it was a 500 (schemathesis)
    body = {"title": "A\x00", "description": "b\x00", "channel": "chat"}
    body |= {"duration_minutes": 30, "price": 50000}
    answer = as_consultant.post("/api/v1/consultants/me/session-types", body, format="json")
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) == {"title", "description"}
    assert not SessionType.objects.exists()


def test_patch_and_delete_deactivate_without_touching_others(as_consultant, consultant):
    mine = SessionTypeFactory(consultant=consultant)
    theirs = SessionTypeFactory()
    url = f"/api/v1/consultants/me/session-types/{mine.id}"
    changed = as_consultant.patch(url, {"price": 200000}, format="json")
    assert changed.status_code == 200 and changed.json()["price"] == 200000
    other = as_consultant.patch(
        f"/api/v1/consultants/me/session-types/{theirs.id}", {"price": 1000}, format="json"
    )
    assert other.status_code == 404
    assert as_consultant.delete(url).status_code == 204
    assert SessionType.objects.get(id=mine.id).is_active is False
    assert as_consultant.delete(url).status_code == 404
    assert (
        as_consultant.get(f"/api/v1/consultants/{consultant.id}/session-types").json()["results"]
        == []
    )


def test_clients_cannot_offer_session_types(api):
    sign_in(api, ClientFactory())
    answer = api.post("/api/v1/consultants/me/session-types", {}, format="json")
    assert answer.status_code == 403


def test_the_schedule_has_defaults_then_takes_a_put(as_consultant):
    empty = as_consultant.get("/api/v1/consultants/me/schedule").json()
    assert empty == {
        "timezone": "Asia/Kolkata",
        "weekly": [],
        "unavailable_dates": [],
        "min_notice_hours": 2,
        "horizon_days": 30,
    }
    body = {
        "timezone": "Europe/London",
        "weekly": [
            {"weekday": 1, "start": "18:00", "end": "24:00"},
            {"weekday": 0, "start": "09:00", "end": "12:00"},
        ],
        "unavailable_dates": ["2026-12-25", "2026-12-24", "2026-12-25"],
    }
    saved = as_consultant.put("/api/v1/consultants/me/schedule", body, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json() == {
        "timezone": "Europe/London",
        "weekly": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 1, "start": "18:00", "end": "24:00"},
        ],
        "unavailable_dates": ["2026-12-24", "2026-12-25"],
        "min_notice_hours": 2,
        "horizon_days": 30,
    }


def test_a_put_with_only_the_time_zone_sets_no_hours_as_its_schema_says(as_consultant):
    # schemathesis --checks all: the schema required `weekly`, the server took it as none.
    schema = as_consultant.get("/api/schema?format=json").json()
    request = schema["components"]["schemas"]["ScheduleRequest"]
    assert request["required"] == ["timezone"]
    body = {
        "timezone": "Asia/Kolkata",
        "weekly": [{"weekday": 0, "start": "09:00", "end": "10:00"}],
    }
    as_consultant.put("/api/v1/consultants/me/schedule", body, format="json")
    answer = as_consultant.put("/api/v1/consultants/me/schedule", {"timezone": "GB"}, format="json")
    assert answer.status_code == 200
    assert answer.json()["weekly"] == [] and answer.json()["unavailable_dates"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"weekly": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "weekly.0.weekday"),
        ({"weekly": [{"weekday": 0, "start": "9:00", "end": "10:00"}]}, "weekly.0.start"),
        ({"weekly": [{"weekday": 0, "start": "10:00", "end": "09:00"}]}, "weekly.0.end"),
        ({"weekly": [{"weekday": 0, "start": "09:00", "end": "24:30"}]}, "weekly.0.end"),
        # a trailing newline, or digits of another script: not HH:MM
        ({"weekly": [{"weekday": 0, "start": "09:00\n", "end": "10:00"}]}, "weekly.0.start"),
        ({"weekly": [{"weekday": 0, "start": "09:00", "end": "1\u0661:00"}]}, "weekly.0.end"),
        (
            {
                "weekly": [
                    {"weekday": 0, "start": "09:00", "end": "12:00"},
                    {"weekday": 0, "start": "11:00", "end": "13:00"},
                ]
            },
            "weekly.1",
        ),
        ({"unavailable_dates": ["2026-02-30"]}, "unavailable_dates.0"),
        ({"min_notice_hours": 169}, "min_notice_hours"),
        ({"horizon_days": 0}, "horizon_days"),
        ({"horizon_days": 366}, "horizon_days"),
    ],
)
def test_a_bad_schedule_names_the_field(as_consultant, change, field):
    body = {"timezone": "Asia/Kolkata", "weekly": [], **change}
    answer = as_consultant.put("/api/v1/consultants/me/schedule", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert field in answer.json()["fields"], answer.json()
    assert not Schedule.objects.exists()


@time_machine.travel(datetime(2026, 3, 1, 18, 0, tzinfo=UTC), tick=False)  # 23:30 in Kolkata
def test_slots_default_to_two_weeks_of_local_dates(api):
    schedule = ScheduleFactory(min_notice_hours=0)
    kind = SessionTypeFactory(consultant=schedule.consultant, duration_minutes=60)
    url = f"/api/v1/consultants/{schedule.consultant_id}/slots"
    answer = api.get(url, {"session_type": str(kind.id)})
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["timezone"] == "Asia/Kolkata"
    assert data["from"] == "2026-03-01" and data["to"] == "2026-03-14"
    # 09:00 to 17:00 fits an hour at 09:00 ... 16:00: 15 starts a day, from the 2nd.
    assert len(data["slots"]) == 13 * 15
    assert data["slots"][0] == {
        "start_at": "2026-03-02T03:30:00Z",
        "end_at": "2026-03-02T04:30:00Z",
    }


def test_slots_check_their_query(api):
    schedule = ScheduleFactory()
    kind = SessionTypeFactory(consultant=schedule.consultant)
    url = f"/api/v1/consultants/{schedule.consultant_id}/slots"
    assert api.get(url).json()["fields"].keys() == {"session_type"}
    assert api.get(url, {"session_type": "nope"}).status_code == 400
    wide = api.get(url, {"session_type": kind.id, "from": "2026-03-01", "to": "2026-04-02"})
    assert wide.status_code == 400 and "to" in wide.json()["fields"]
    backwards = api.get(url, {"session_type": kind.id, "from": "2026-03-05", "to": "2026-03-01"})
    assert backwards.status_code == 400
    bad_date = api.get(url, {"session_type": kind.id, "from": "March"})
    assert bad_date.json()["fields"].keys() == {"from"}
    other = SessionTypeFactory()
    assert api.get(url, {"session_type": other.id}).status_code == 404


def test_unverified_consultants_have_no_public_session_types_or_slots(api):
    hidden = ConsultantProfileFactory()
    kind = SessionTypeFactory(consultant=hidden)
    assert api.get(f"/api/v1/consultants/{hidden.id}/session-types").status_code == 404
    answer = api.get(f"/api/v1/consultants/{hidden.id}/slots", {"session_type": kind.id})
    assert answer.status_code == 404
