"""GET /consultations/{id}/messages (and /chat/{id}) and GET /consultations/{id}/rtc."""

import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import AdminFactory, ClientFactory, sign_in
from chat.tests.factories import MessageFactory
from consultations.models import Consultation
from consultations.tests.factories import ActiveConsultationFactory

pytestmark = pytest.mark.django_db


def _history(session, count):
    start = timezone.now() - timedelta(hours=1)
    return [
        MessageFactory(consultation=session, created_at=start + timedelta(seconds=i))
        for i in range(count)
    ]


def test_a_participant_reads_the_history_newest_first(api, session):
    messages = _history(session, 3)
    body = sign_in(api, session.client).get(f"/api/v1/consultations/{session.id}/messages").json()
    assert [m["id"] for m in body["results"]] == [str(m.id) for m in reversed(messages)]
    assert body["next"] is None and body["previous"] is None
    first = body["results"][-1]
    assert set(first) == {
        "id",
        "session_id",
        "sender_id",
        "body",
        "reply_to",
        "status",
        "created_at",
        "delivered_at",
        "seen_at",
    }
    assert first["session_id"] == str(session.id)
    assert first["created_at"].endswith("Z")


def test_it_pages_backwards_with_before_and_repeats_nothing(api, session):
    messages = _history(session, 7)
    # two messages of the same instant are neither skipped nor repeated
    MessageFactory(consultation=session, created_at=messages[3].created_at)
    sign_in(api, session.consultant.user)
    seen, url = [], f"/api/v1/chat/{session.id}?page_size=3"
    while url:
        body = api.get(url).json()
        assert len(body["results"]) <= 3
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 8


def test_before_and_page_size_are_checked(api, session):
    other = MessageFactory()
    sign_in(api, session.client)
    base = f"/api/v1/consultations/{session.id}/messages"
    for query in [
        "page_size=0",
        "page_size=101",
        "page_size=x",
        "before=nope",
        f"before={other.id}",
    ]:
        response = api.get(f"{base}?{query}")
        assert response.status_code == 400, query
        assert response.json()["code"] == "invalid"


def test_admins_read_any_history_and_outsiders_get_404(api, session):
    _history(session, 1)
    assert sign_in(api, AdminFactory()).get(f"/api/v1/chat/{session.id}").status_code == 200
    response = sign_in(api, ClientFactory()).get(f"/api/v1/chat/{session.id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    import uuid

    assert api.get(f"/api/v1/chat/{uuid.uuid4()}").status_code == 404


def test_history_needs_a_token(api, session):
    assert api.get(f"/api/v1/chat/{session.id}").status_code == 401


def test_rtc_gives_stun_and_time_limited_turn_credentials(api, settings):
    settings.STUN_URLS = ["stun:stun.example.com:3478"]
    settings.TURN_URLS = ["turn:turn.example.com:3478?transport=udp"]
    settings.TURN_SECRET = "s3cret"
    settings.TURN_CREDENTIAL_TTL_SECONDS = 600
    voice = ActiveConsultationFactory(channel="voice")
    before = int(timezone.now().timestamp())
    body = sign_in(api, voice.client).get(f"/api/v1/consultations/{voice.id}/rtc").json()
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.com:3478"]}
    expiry, user_id = turn["username"].split(":")
    assert user_id == str(voice.client_id)
    assert before + 590 <= int(expiry) <= before + 610
    expected = hmac.new(b"s3cret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(expected).decode()
    assert body["expires_at"].endswith("Z")


def test_rtc_without_turn_settings_gives_stun_only(api, settings):
    settings.TURN_URLS = []
    voice = ActiveConsultationFactory(channel="video")
    body = sign_in(api, voice.consultant.user).get(f"/api/v1/consultations/{voice.id}/rtc").json()
    assert all("credential" not in server for server in body["ice_servers"])


def test_rtc_is_409_for_chat_and_404_for_anyone_else(api, session):
    response = sign_in(api, session.client).get(f"/api/v1/consultations/{session.id}/rtc")
    assert (response.status_code, response.json()["code"]) == (409, "channel_not_offered")
    voice = ActiveConsultationFactory(channel="voice")
    for outsider in (ClientFactory(), AdminFactory()):
        response = sign_in(api, outsider).get(f"/api/v1/consultations/{voice.id}/rtc")
        assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.parametrize("status", ["ended", "force_ended", "declined", "cancelled", "expired"])
def test_rtc_gives_no_credentials_once_the_consultation_is_over(api, settings, status):
    settings.TURN_URLS = ["turn:turn.example.com:3478"]
    settings.TURN_SECRET = "s3cret"
    voice = ActiveConsultationFactory(channel="voice")
    Consultation.objects.filter(pk=voice.pk).update(status=status)
    response = sign_in(api, voice.client).get(f"/api/v1/consultations/{voice.id}/rtc")
    assert (response.status_code, response.json()["code"]) == (409, "invalid_state")
    assert "credential" not in response.content.decode()


def test_rtc_answers_a_pending_call_so_it_can_ring(api):
    voice = ActiveConsultationFactory(channel="voice")
    Consultation.objects.filter(pk=voice.pk).update(status="pending")
    response = sign_in(api, voice.consultant.user).get(f"/api/v1/consultations/{voice.id}/rtc")
    assert response.status_code == 200
