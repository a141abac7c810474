"""`client_birth_details`: the astrologer of the consultation reads the client's birth details
while it is pending, active or ended; nobody else, nowhere else (CONTRACT.md "Accounts")."""

from datetime import date, time

import pytest

from accounts.tests.factories import ClientFactory
from consultants.tests.factories import CategoryFactory, OnlineConsultantFactory
from consultations import services
from consultations.models import Status
from consultations.tests.conftest import as_user
from consultations.tests.factories import ConsultationFactory
from reviews.services import create_review
from wallets.tests.factories import fund

pytestmark = pytest.mark.django_db

BORN = {"date": "1990-04-12", "time": "06:45", "place": "Varanasi, India"}


def _born(user):
    user.birth_date, user.birth_time, user.birth_place = (
        date(1990, 4, 12),
        time(6, 45),
        BORN["place"],
    )
    user.save()
    return user


@pytest.fixture
def astrologer():
    return OnlineConsultantFactory(category=CategoryFactory(slug="astrology"), rate_chat=600)


@pytest.fixture
def lawyer():
    return OnlineConsultantFactory(category=CategoryFactory(slug="legal"), rate_chat=600)


@pytest.fixture
def seeker():
    user = _born(ClientFactory(name="Asha Seeker"))
    fund(user, 100_000)
    return user


def _consultation(status=Status.ACTIVE, **fields):
    """A consultation in `status` with the timestamps that status needs."""
    from django.utils import timezone

    now = timezone.now()
    if status not in (Status.PENDING, Status.DECLINED, Status.CANCELLED, Status.EXPIRED):
        fields.setdefault("started_at", now)
        fields.setdefault("last_billed_at", now)
    if status not in (Status.PENDING, Status.ACTIVE):
        fields.setdefault("ended_at", now)
    return ConsultationFactory(status=status, **fields)


def _detail(api, user, consultation):
    return as_user(api, user).get(f"/api/v1/consultations/{consultation.id}").json()


@pytest.mark.parametrize("status", [Status.PENDING, Status.ACTIVE, Status.ENDED])
def test_the_astrologer_reads_them_in_their_own_open_or_ended_consultation(
    api, astrologer, seeker, status
):
    consultation = _consultation(status, client=seeker, consultant=astrologer)
    assert _detail(api, astrologer.user, consultation)["client_birth_details"] == BORN
    listed = as_user(api, astrologer.user).get("/api/v1/consultations?role=consultant").json()
    assert listed["results"][0]["client_birth_details"] == BORN


def test_a_client_without_birth_details_reads_as_null_to_the_astrologer(api, astrologer):
    consultation = ConsultationFactory(consultant=astrologer)
    assert _detail(api, astrologer.user, consultation)["client_birth_details"] is None


@pytest.mark.parametrize(
    "status", [Status.FORCE_ENDED, Status.DECLINED, Status.CANCELLED, Status.EXPIRED]
)
def test_not_once_it_is_declined_cancelled_expired_or_force_ended(api, astrologer, seeker, status):
    consultation = _consultation(status, client=seeker, consultant=astrologer)
    assert "client_birth_details" not in _detail(api, astrologer.user, consultation)


def test_nobody_else_reads_them(api, astrologer, lawyer, seeker):
    from accounts.tests.factories import AdminFactory

    mine = _consultation(Status.ENDED, client=seeker, consultant=astrologer)
    # the client themselves (they have their own on /auth/me), an admin
    assert "client_birth_details" not in _detail(api, seeker, mine)
    assert "client_birth_details" not in _detail(api, AdminFactory(), mine)
    # another astrologer cannot see the consultation at all, nor the client's details in theirs
    other = OnlineConsultantFactory(category=astrologer.category)
    assert as_user(api, other.user).get(f"/api/v1/consultations/{mine.id}").status_code == 404
    # a lawyer in their own active consultation with the same client
    ended = _consultation(Status.ENDED, client=seeker, consultant=astrologer)
    with_lawyer = _consultation(Status.ACTIVE, client=seeker, consultant=lawyer)
    assert "client_birth_details" not in _detail(api, lawyer.user, with_lawyer)
    listed = as_user(api, lawyer.user).get("/api/v1/consultations").json()["results"]
    assert all("client_birth_details" not in row for row in listed)
    # the client's own list
    listed = as_user(api, seeker).get("/api/v1/consultations").json()["results"]
    assert {row["id"] for row in listed} >= {str(mine.id), str(ended.id)}
    assert all("client_birth_details" not in row for row in listed)


def test_reviews_never_carry_them(api, astrologer, seeker):
    consultation = _consultation(Status.ENDED, client=seeker, consultant=astrologer)
    create_review(client=seeker, consultation_id=consultation.id, rating=5, comment="Kind")
    body = api.get(f"/api/v1/consultants/{astrologer.id}/reviews").content.decode()
    assert "Varanasi" not in body and "1990-04-12" not in body


def test_the_astrologers_answers_carry_them_the_clients_do_not(api, astrologer, seeker):
    started = as_user(api, seeker).post(
        "/api/v1/consultations", {"consultant_id": str(astrologer.id), "channel": "chat"}
    )
    assert started.status_code == 201
    assert "client_birth_details" not in started.json()
    consultation_id = started.json()["id"]
    accepted = as_user(api, astrologer.user).post(f"/api/v1/consultations/{consultation_id}/accept")
    assert accepted.json()["client_birth_details"] == BORN
    ended = as_user(api, astrologer.user).post(f"/api/v1/consultations/{consultation_id}/end")
    assert ended.json()["status"] == "ended"
    assert ended.json()["client_birth_details"] == BORN


def test_the_request_frame_to_the_astrologer_carries_them_the_updates_do_not(
    astrologer, seeker, listen, django_capture_on_commit_callbacks
):
    to_astrologer = listen(astrologer.user)
    with django_capture_on_commit_callbacks(execute=True):
        consultation = services.start_consultation(
            client=seeker, consultant_id=astrologer.id, channel="chat"
        )
    (requested,) = [f for f in to_astrologer.frames() if f["type"] == "consultation_requested"]
    assert requested["consultation"]["client_birth_details"] == BORN
    # (a listener is read once: fresh ones for the updates)
    to_astrologer, to_client = listen(astrologer.user), listen(seeker)
    with django_capture_on_commit_callbacks(execute=True):
        services.accept_consultation(consultation_id=consultation.id, actor=astrologer.user)
    for listener in (to_astrologer, to_client):
        updates = [f for f in listener.frames() if f["type"] == "consultation_updated"]
        assert updates
        assert all("client_birth_details" not in f["consultation"] for f in updates)


def test_a_lawyers_request_frame_does_not_carry_them(
    lawyer, seeker, listen, django_capture_on_commit_callbacks
):
    to_lawyer = listen(lawyer.user)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_consultation(client=seeker, consultant_id=lawyer.id, channel="chat")
    (requested,) = [f for f in to_lawyer.frames() if f["type"] == "consultation_requested"]
    assert "client_birth_details" not in requested["consultation"]


# --- The room ------------------------------------------------------------------------------------


def _room(client, user, consultation):
    client.force_login(user, backend="accounts.backends.AccountBackend")
    return client.get(f"/consultations/{consultation.id}/").content.decode()


def test_the_astrologers_room_shows_them_nobody_elses(client, astrologer, lawyer, seeker):
    consultation = _consultation(Status.ENDED, client=seeker, consultant=astrologer)
    html = _room(client, astrologer.user, consultation)
    assert 'data-testid="client-birth-details"' in html and "Varanasi, India" in html
    assert "06:45" in html
    client.logout()
    assert "Varanasi" not in _room(client, seeker, consultation)
    client.logout()
    with_lawyer = _consultation(Status.ACTIVE, client=seeker, consultant=lawyer)
    assert "Varanasi" not in _room(client, lawyer.user, with_lawyer)


def test_the_astrologers_room_says_when_there_are_none(client, astrologer):
    consultation = _consultation(Status.ACTIVE, consultant=astrologer)
    assert "has not shared birth details" in _room(client, astrologer.user, consultation)


# --- The offer before a client's first astrology consultation -------------------------------------


def _start(client, user, consultant, **extra):
    client.force_login(user, backend="accounts.backends.AccountBackend")
    return client.post(
        "/consultations/start/",
        {"consultant_id": str(consultant.id), "channel": "chat", **extra},
    )


@pytest.fixture
def newcomer():
    user = ClientFactory(name="Nina New")
    fund(user, 100_000)
    return user


def test_a_client_without_them_is_offered_the_form_first(client, astrologer, newcomer):
    response = _start(client, newcomer, astrologer)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'for="id_birth_date"' in html
    assert "Save and start" in html and "Skip for now" in html
    assert not newcomer.consultations.exists()


def test_saving_them_starts_the_consultation(client, astrologer, newcomer):
    response = _start(
        client,
        newcomer,
        astrologer,
        birth_offer="save",
        birth_date="1992-01-30",
        birth_time="23:10",
        birth_place="Pune",
    )
    assert response.status_code == 302
    consultation = newcomer.consultations.get()
    assert response["Location"] == f"/consultations/{consultation.id}/"
    newcomer.refresh_from_db()
    assert newcomer.birth_details == {"date": "1992-01-30", "time": "23:10", "place": "Pune"}


def test_skipping_starts_it_without_them(client, astrologer, newcomer):
    response = _start(client, newcomer, astrologer, birth_offer="skip")
    assert response.status_code == 302
    assert newcomer.consultations.count() == 1
    newcomer.refresh_from_db()
    assert newcomer.birth_details is None


def test_a_bad_date_is_shown_next_to_the_field_and_nothing_starts(client, astrologer, newcomer):
    response = _start(
        client, newcomer, astrologer, birth_offer="save", birth_date="2999-01-01", birth_place="X"
    )
    assert response.status_code == 400
    assert "A birth date cannot be in the future." in response.content.decode()
    assert not newcomer.consultations.exists()


def test_no_offer_for_a_client_who_gave_them_or_for_another_category(
    client, astrologer, lawyer, seeker, newcomer
):
    assert _start(client, seeker, astrologer).status_code == 302
    assert _start(client, newcomer, lawyer).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_astrologers_session_joined_carries_them_the_clients_does_not(astrologer, seeker):
    from chat.tests.helpers import access_token, joined, run_async

    consultation = _consultation(Status.ACTIVE, client=seeker, consultant=astrologer)

    tokens = [(astrologer.user, access_token(astrologer.user)), (seeker, access_token(seeker))]

    @run_async
    async def answers():
        answers = []
        for user, token in tokens:
            socket = await joined(user, token, consultation.id)
            await socket.send({"type": "join_session", "session_id": str(consultation.id)})
            answers.append(await socket.recv_type("session_joined"))
        return answers

    for_astrologer, for_client = answers()
    assert for_astrologer["consultation"]["client_birth_details"] == BORN
    assert "client_birth_details" not in for_client["consultation"]
