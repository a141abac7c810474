import uuid

import pytest

from consultants.tests.factories import (
    ConsultantProfileFactory,
    OnlineConsultantFactory,
    VerifiedConsultantFactory,
)
from consultations.models import Consultation, ConsultationEvent, Status
from consultations.tests.conftest import as_user
from consultations.tests.factories import ActiveConsultationFactory, ConsultationFactory
from wallets.services import wallet_for
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db

FIELDS = {
    "id",
    "client_id",
    "consultant_id",
    "channel",
    "status",
    "kind",
    "booking_id",
    "rate_per_minute",
    "requested_at",
    "started_at",
    "ended_at",
    "billed_seconds",
    "total_amount",
    "end_reason",
}


def start(api, user, consultant, channel="chat", path="/api/v1/consultations"):
    return as_user(api, user).post(
        path, {"consultant_id": str(consultant.id), "channel": channel}, format="json"
    )


def test_a_client_starts_a_pending_consultation_at_the_current_rate(api, client_user, consultant):
    response = start(api, client_user, consultant)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == FIELDS
    assert body["status"] == "pending"
    assert (body["kind"], body["booking_id"]) == ("instant", None)
    assert body["rate_per_minute"] == 600
    assert body["client_id"] == str(client_user.id)
    assert body["consultant_id"] == str(consultant.id)
    assert body["billed_seconds"] == 0 and body["total_amount"] == 0
    assert body["end_reason"] is None
    assert body["requested_at"].endswith("Z")
    consultant.refresh_from_db()
    assert consultant.is_busy


def test_the_alias_route_starts_one_too(api, client_user, consultant):
    response = start(api, client_user, consultant, path="/api/v1/consult/start/")
    assert response.status_code == 201


def test_the_rate_is_fixed_when_the_request_is_made(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]
    consultant.rate_chat = 9000
    consultant.save()
    response = api.get(f"/api/v1/consultations/{consultation_id}")
    assert response.json()["rate_per_minute"] == 600


@pytest.mark.parametrize(
    ("make", "channel", "status", "code"),
    [
        (lambda: None, "chat", 404, "not_found"),
        (lambda: ConsultantProfileFactory(), "chat", 409, "consultant_not_verified"),
        (lambda: VerifiedConsultantFactory(), "chat", 409, "consultant_offline"),
        (lambda: OnlineConsultantFactory(is_busy=True), "chat", 409, "consultant_busy"),
        (lambda: OnlineConsultantFactory(), "video", 400, "channel_not_offered"),
    ],
)
def test_it_checks_the_consultant_in_the_contracts_order(
    api, client_user, make, channel, status, code
):
    consultant = make()
    consultant_id = str(consultant.id) if consultant else str(uuid.uuid4())
    response = as_user(api, client_user).post(
        "/api/v1/consultations", {"consultant_id": consultant_id, "channel": channel}
    )
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code


def test_a_malformed_consultant_id_is_not_found(api, client_user):
    response = as_user(api, client_user).post(
        "/api/v1/consultations", {"consultant_id": "not-a-uuid", "channel": "chat"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_unverified_offline_busy_consultant_is_reported_unverified_first(api, client_user):
    consultant = ConsultantProfileFactory(is_busy=True, rate_chat=None)
    response = start(api, client_user, consultant)
    assert response.json()["code"] == "consultant_not_verified"


def test_a_client_with_an_open_consultation_is_busy(api, client_user, consultant):
    ConsultationFactory(client=client_user)
    response = start(api, client_user, consultant)
    assert response.status_code == 409
    assert response.json()["code"] == "client_busy"


def test_the_balance_must_cover_the_minimum_minutes(api, consultant, settings):
    settings.MIN_MINUTES = 5
    from accounts.tests.factories import ClientFactory

    poor = ClientFactory()
    fund(poor, 5 * 600 - 1)
    response = start(api, poor, consultant)
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_balance"
    fund(poor, 1)
    assert start(api, poor, consultant).status_code == 201


def test_a_busy_client_is_reported_before_a_short_balance(api, consultant):
    from accounts.tests.factories import ClientFactory

    poor = ClientFactory()
    ConsultationFactory(client=poor)
    assert start(api, poor, consultant).json()["code"] == "client_busy"


def test_only_clients_start(api, consultant, admin_user):
    other = OnlineConsultantFactory()
    response = start(api, other.user, consultant)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert start(api, admin_user, consultant).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"consultant_id": 12, "channel": "chat"},
        {"consultant_id": "x" * 65, "channel": "chat"},
        {"consultant_id": str(uuid.uuid4()), "channel": "fax"},
        {"consultant_id": str(uuid.uuid4()), "channel": True},
        [],
    ],
)
def test_malformed_bodies_are_invalid(api, client_user, body):
    response = as_user(api, client_user).post("/api/v1/consultations", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_consultant_accepts_and_billing_starts_with_a_hold(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]

    response = as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation_id}/accept")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "active"
    assert response.json()["started_at"] is not None
    wallet = wallet_for(user=client_user)
    assert wallet.held == 100  # the first 10 s tick at 600 paise a minute
    assert wallet.balance == 100_000


def test_only_its_consultant_accepts(api, client_user, consultant, outsider):
    consultation_id = start(api, client_user, consultant).json()["id"]
    url = f"/api/v1/consultations/{consultation_id}/accept"
    assert as_user(api, client_user).post(url).status_code == 403
    assert as_user(api, outsider).post(url).status_code == 404
    assert as_user(api, OnlineConsultantFactory().user).post(url).status_code == 404


def test_accepting_twice_is_an_invalid_state(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]
    url = f"/api/v1/consultations/{consultation_id}/accept"
    as_user(api, consultant.user).post(url)
    response = api.post(url)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


def test_a_request_past_the_ring_timeout_cannot_be_accepted(
    api, client_user, consultant, time_machine
):
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    consultation_id = start(api, client_user, consultant).json()["id"]
    time_machine.shift(61)
    response = as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation_id}/accept")
    assert response.status_code == 409


def test_the_consultant_declines_and_is_free_again(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]
    response = as_user(api, consultant.user).post(
        f"/api/v1/consultations/{consultation_id}/decline"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    consultant.refresh_from_db()
    assert not consultant.is_busy
    assert consultant.total_sessions == 0
    assert start(api, client_user, consultant).status_code == 201


def test_the_client_cancels_a_pending_request(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]
    url = f"/api/v1/consultations/{consultation_id}/cancel"
    assert as_user(api, consultant.user).post(url).status_code == 403
    response = as_user(api, client_user).post(url)
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert as_user(api, client_user).post(url).status_code == 409


def test_ending_a_pending_consultation_is_an_invalid_state(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]
    response = as_user(api, client_user).post(f"/api/v1/consultations/{consultation_id}/end")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


def test_ending_bills_the_final_seconds_and_returns_the_final_figures(
    api, client_user, consultant, time_machine
):
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    consultation_id = start(api, client_user, consultant).json()["id"]
    as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation_id}/accept")
    time_machine.shift(37.6)

    response = as_user(api, client_user).post(f"/api/v1/consultations/{consultation_id}/end")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ended"
    assert body["end_reason"] == "client_ended"
    assert body["billed_seconds"] == 37
    assert body["total_amount"] == 370
    assert body["remaining_balance"] == 100_000 - 370
    assert body["ended_at"] is not None
    wallet = wallet_for(user=client_user)
    assert (wallet.balance, wallet.held) == (100_000 - 370, 0)
    assert wallet_for(user=consultant.user).balance == 370 - 74  # 20 % commission
    consultant.refresh_from_db()
    assert (consultant.is_busy, consultant.total_sessions) == (False, 1)
    assert (
        as_user(api, client_user).post(f"/api/v1/consultations/{consultation_id}/end").status_code
        == 409
    )


def test_the_consultant_may_end_it_too(api, client_user, consultant):
    consultation = ActiveConsultationFactory(client=client_user, consultant=consultant)
    response = as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation.id}/end")
    assert response.json()["end_reason"] == "consultant_ended"


def test_an_outsider_cannot_end_or_see_it(api, client_user, consultant, outsider):
    consultation = ActiveConsultationFactory(client=client_user, consultant=consultant)
    assert (
        as_user(api, outsider).post(f"/api/v1/consultations/{consultation.id}/end").status_code
        == 404
    )
    assert api.get(f"/api/v1/consultations/{consultation.id}").status_code == 404
    assert api.get(f"/api/v1/consultations/{uuid.uuid4()}").status_code == 404


def test_participants_and_admins_see_it(api, client_user, consultant, admin_user):
    consultation = ActiveConsultationFactory(client=client_user, consultant=consultant)
    for user in (client_user, consultant.user, admin_user):
        response = as_user(api, user).get(f"/api/v1/consultations/{consultation.id}")
        assert response.status_code == 200
        assert set(response.json()) == FIELDS


def test_every_transition_writes_an_audit_row(api, client_user, consultant):
    consultation_id = start(api, client_user, consultant).json()["id"]
    as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation_id}/accept")
    as_user(api, client_user).post(f"/api/v1/consultations/{consultation_id}/end")
    rows = ConsultationEvent.objects.filter(consultation_id=consultation_id)
    assert [(r.from_status, r.to_status) for r in rows] == [
        ("", "pending"),
        ("pending", "active"),
        ("active", "ended"),
    ]
    assert rows[2].actor == client_user
    assert rows[2].reason == "client_ended"


def test_the_list_shows_own_consultations_newest_first_with_filters(
    api, client_user, consultant, outsider
):
    old = ConsultationFactory(client=client_user, status=Status.DECLINED)
    new = ActiveConsultationFactory(client=client_user, consultant=consultant)
    ConsultationFactory(client=outsider)

    response = as_user(api, client_user).get("/api/v1/consultations")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [str(new.id), str(old.id)]

    assert [
        c["id"] for c in api.get("/api/v1/consultations?status=declined").json()["results"]
    ] == [str(old.id)]
    assert api.get("/api/v1/consultations?role=consultant").json()["results"] == []
    mine = as_user(api, consultant.user).get("/api/v1/consultations?role=consultant")
    assert [c["id"] for c in mine.json()["results"]] == [str(new.id)]


def test_a_bad_list_filter_is_invalid(api, client_user):
    response = as_user(api, client_user).get("/api/v1/consultations?status=nope")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_the_consultant_hears_of_a_request(
    api, client_user, consultant, listen, django_capture_on_commit_callbacks
):
    listener = listen(consultant.user)
    with django_capture_on_commit_callbacks(execute=True):
        consultation_id = start(api, client_user, consultant).json()["id"]
    frames = listener.frames()
    assert [f["type"] for f in frames] == ["consultation_requested"]
    assert frames[0]["consultation"]["id"] == consultation_id


def test_both_hear_of_every_status_change(
    api, client_user, consultant, listen, django_capture_on_commit_callbacks
):
    consultation_id = start(api, client_user, consultant).json()["id"]
    listener = listen(client_user)
    with django_capture_on_commit_callbacks(execute=True):
        as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation_id}/accept")
    frames = listener.frames()
    assert [(f["type"], f["consultation"]["status"]) for f in frames] == [
        ("consultation_updated", "active")
    ]


def test_the_schema_documents_the_routes(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for route in (
        "/api/v1/consultations",
        "/api/v1/consult/start",
        "/api/v1/consultations/{id}/end",
    ):
        assert route in schema
    assert Consultation is not None  # imported for readers: the rows these routes serve


def test_the_list_costs_one_query_however_long(api, client_user, django_assert_num_queries):
    for _ in range(5):
        ConsultationFactory(client=client_user, status=Status.EXPIRED)
    as_user(api, client_user)
    with django_assert_num_queries(1):
        response = api.get("/api/v1/consultations")
    assert len(response.json()["results"]) == 5


def test_an_end_retried_with_its_idempotency_key_answers_the_first_end_again(
    api, client_user, consultant, time_machine
):
    time_machine.move_to("2026-03-01 09:00:00Z", tick=False)
    consultation_id = start(api, client_user, consultant).json()["id"]
    as_user(api, consultant.user).post(f"/api/v1/consultations/{consultation_id}/accept")
    time_machine.shift(20)
    end = f"/api/v1/consultations/{consultation_id}/end"
    first = as_user(api, client_user).post(end, HTTP_IDEMPOTENCY_KEY="end-1")
    assert first.status_code == 200
    time_machine.shift(30)  # the answer was lost; the client retries later
    again = as_user(api, client_user).post(end, HTTP_IDEMPOTENCY_KEY="end-1")
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (first.json()["billed_seconds"], first.json()["total_amount"]) == (20, 200)
    assert wallet_for(user=client_user).balance == 100_000 - 200
    # Without a key (or with another one) a second end is what it is: over.
    assert as_user(api, client_user).post(end).status_code == 409
    other = as_user(api, client_user).post(end, HTTP_IDEMPOTENCY_KEY="end-2")
    assert (other.status_code, other.json()["code"]) == (409, "invalid_state")


def test_the_end_takes_an_idempotency_key_in_the_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/consultations/{id}/end"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in operation.get("parameters", [])}
