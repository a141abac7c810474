"""The `/ws/` consumer, frame by frame, through channels' WebsocketCommunicator on the Redis
channel layer of the test settings. `transaction=True`: the consumer's services run in worker
threads with their own database connections."""

import json

import pytest
from django.test import override_settings

from chat.models import Message, MessageStatus
from chat.tests.factories import MessageFactory
from chat.tests.helpers import Socket, access_token, joined, new_id, run_async, signed_in
from config.events import send_now, user_group
from consultations.models import Consultation, Status
from consultations.tests.factories import ActiveConsultationFactory, ConsultationFactory

pytestmark = pytest.mark.django_db(transaction=True)


# --- Authentication ---------------------------------------------------------------------------


@run_async
async def test_a_token_in_the_query_signs_the_socket_in(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.ping()
    await socket.close()


@run_async
async def test_an_invalid_token_is_accepted_then_closed_with_4401(db):
    socket = Socket("/ws/?token=not-a-jwt")
    connected, _ = await socket.connect()
    assert connected
    assert await socket.close_code() == 4401


@run_async
async def test_an_authenticate_frame_signs_the_socket_in(session, tokens):
    socket = Socket()
    assert (await socket.connect())[0]
    await socket.send({"type": "authenticate", "token": tokens["client"]})
    assert await socket.recv() == {"type": "authenticated", "user_id": str(session.client_id)}
    await socket.ping()
    await socket.close()


@run_async
async def test_an_authenticate_frame_with_a_bad_token_closes_with_4401(db):
    socket = Socket()
    await socket.connect()
    await socket.send({"type": "authenticate", "token": "expired.or.forged"})
    assert await socket.close_code() == 4401


@run_async
async def test_an_expired_token_closes_with_4401(session):
    import time_machine

    with time_machine.travel("2020-01-01 00:00:00+00:00"):
        old = await _token(session.client)
    socket = Socket(f"/ws/?token={old}")
    await socket.connect()
    assert await socket.close_code() == 4401


async def _token(user):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(access_token)(user)


@override_settings(WS_AUTH_TIMEOUT_SECONDS=1)
@run_async
async def test_a_socket_that_never_authenticates_is_closed_with_4401(db):
    socket = Socket()
    await socket.connect()
    await socket.ping()  # pings are answered meanwhile
    assert await socket.close_code(timeout=3) == 4401


@run_async
async def test_frames_before_authentication_are_refused_and_the_socket_stays_open(session):
    socket = Socket()
    await socket.connect()
    await socket.send({"type": "join_session", "session_id": str(session.id), "ref": 7})
    error = await socket.recv()
    assert error["type"] == "error"
    assert error["code"] == "not_authenticated"
    assert error["ref"] == 7
    await socket.ping()
    await socket.close()


@run_async
async def test_a_second_authenticate_with_someone_elses_token_is_refused(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.send({"type": "authenticate", "token": tokens["outsider"], "ref": "a"})
    error = await socket.recv()
    assert (error["code"], error["ref"]) == ("already_authenticated", "a")
    await socket.ping()
    await socket.close()


# --- A socket does not outlive its token, nor its user's sessions (issue 10) ------------------


def _short_lived(user, seconds: float) -> str:
    """An access token of `user` that expires `seconds` from now."""
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken(access_token(user))  # type: ignore[arg-type]  # simplejwt decodes a str
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


@run_async
async def test_a_socket_is_closed_with_4401_when_its_access_token_expires(session):
    from channels.db import database_sync_to_async

    token = await database_sync_to_async(_short_lived)(session.client, 2)
    socket = await signed_in(session.client, token)
    await socket.ping()
    assert await socket.close_code(timeout=5) == 4401


@run_async
async def test_a_fresh_authenticate_frame_keeps_the_socket_open_past_the_first_token(session):
    import asyncio

    from channels.db import database_sync_to_async

    token = await database_sync_to_async(_short_lived)(session.client, 2)
    socket = await signed_in(session.client, token)
    fresh = await _token(session.client)
    await socket.send({"type": "authenticate", "token": fresh, "ref": 1})
    assert await socket.recv() == {"type": "authenticated", "user_id": str(session.client_id)}
    await asyncio.sleep(3)
    await socket.ping()  # still open, past the first token's expiry
    await socket.close()


@run_async
async def test_a_socket_signed_in_by_frame_expires_with_that_token(session):
    from channels.db import database_sync_to_async

    socket = Socket()
    await socket.connect()
    token = await database_sync_to_async(_short_lived)(session.client, 2)
    await socket.send({"type": "authenticate", "token": token})
    assert (await socket.recv())["type"] == "authenticated"
    assert await socket.close_code(timeout=5) == 4401


@run_async
async def test_a_bad_token_in_a_second_authenticate_closes_the_socket(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.send({"type": "authenticate", "token": "expired.or.forged"})
    assert await socket.close_code() == 4401


async def _closed_with(socket: Socket):
    """The socket's close code, past the frames still on their way (presence)."""
    while True:
        output = await socket.communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            return output.get("code")


def _change_password(user_id) -> None:
    from accounts.models import User

    user = User.objects.get(pk=user_id)  # read from the database, as the admin or a page does
    user.set_password("a brand new passphrase")
    user.save()


def _deactivate(user_id) -> None:
    from accounts.models import User

    user = User.objects.get(pk=user_id)
    user.is_active = False
    user.save()


@pytest.mark.parametrize("change", [_change_password, _deactivate])
@run_async
async def test_a_new_password_or_a_deactivation_closes_every_socket_of_the_user(
    session, tokens, change
):
    from channels.db import database_sync_to_async

    phone = await signed_in(session.client, tokens["client"])
    laptop = await signed_in(session.client, tokens["client"])
    other = await signed_in(session.consultant.user, tokens["consultant"])
    await database_sync_to_async(change)(session.client_id)
    assert await _closed_with(phone) == 4401
    assert await _closed_with(laptop) == 4401
    await other.ping()  # someone else's socket stays open
    await other.close()
    again = Socket(f"/ws/?token={tokens['client']}")  # and the old token opens no new one
    await again.connect()
    assert await again.close_code() == 4401


# --- Bad frames -------------------------------------------------------------------------------


BAD_FRAMES = [
    ("{not json", "invalid_json", None),
    ("[1, 2]", "invalid", None),
    ('"text"', "invalid", None),
    ("{}", "invalid", None),
    ('{"type": 5, "ref": "r1"}', "invalid", "r1"),
    ('{"type": "teleport", "ref": "r2"}', "unknown_type", "r2"),
    ('{"type": "join_session", "ref": 3}', "invalid", 3),
    ('{"type": "join_session", "session_id": "nope", "ref": 4}', "invalid", 4),
    ('{"type": "join_session", "session_id": 12}', "invalid", None),
    ('{"type": "typing", "session_id": "%(s)s", "is_typing": "yes"}', "invalid", None),
    ('{"type": "message_delivered", "session_id": "%(s)s", "message_ids": []}', "invalid", None),
    ('{"type": "message_delivered", "session_id": "%(s)s", "message_ids": ["x"]}', "invalid", None),
    (
        '{"type": "send_message", "session_id": "%(s)s", "client_msg_id": "%(s)s", "body": ""}',
        "invalid",
        None,
    ),
    (
        '{"type": "send_message", "session_id": "%(s)s", "client_msg_id": "%(s)s", "body": 1}',
        "invalid",
        None,
    ),
    ('{"type": "send_message", "session_id": "%(s)s", "body": "hi"}', "invalid", None),
    ('{"type": "call_offer", "session_id": "%(s)s", "sdp": 5}', "invalid", None),
    ('{"type": "authenticate", "token": 5}', "invalid", None),
]


@pytest.mark.parametrize(("text", "code", "ref"), BAD_FRAMES)
@run_async
async def test_a_bad_frame_is_answered_with_an_error_and_the_socket_stays_open(
    session, tokens, text, code, ref
):
    socket = await signed_in(session.client, tokens["client"])
    await socket.send(text % {"s": session.id} if "%(s)s" in text else text)
    error = await socket.recv()
    assert error["type"] == "error"
    assert (error["code"], error["ref"]) == (code, ref)
    assert error["detail"]
    await socket.ping()
    await socket.close()


@run_async
async def test_a_frame_over_8_kib_is_too_large(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.send(json.dumps({"type": "ping", "pad": "x" * 8200}))
    assert (await socket.recv())["code"] == "frame_too_large"
    # multi-byte characters count as bytes: 3000 characters, 9000 bytes
    await socket.send(json.dumps({"type": "ping", "pad": "€" * 3000}, ensure_ascii=False))
    assert (await socket.recv())["code"] == "frame_too_large"
    await socket.ping()
    await socket.close()


@run_async
async def test_a_message_body_over_4000_characters_is_invalid(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.send(
        {
            "type": "send_message",
            "session_id": str(session.id),
            "client_msg_id": new_id(),
            "body": "x" * 4001,
            "ref": "long",
        }
    )
    error = await socket.recv()
    assert (error["code"], error["ref"]) == ("invalid", "long")
    await socket.close()


@run_async
async def test_a_message_body_with_a_nul_character_is_invalid_and_stores_nothing(session, tokens):
    # PostgreSQL text cannot hold NUL: let through, it failed the whole batch's INSERT
    client = await joined(session.client, tokens["client"], session.id)
    frame = {"type": "send_message", "session_id": str(session.id), "client_msg_id": new_id()}
    await client.send({**frame, "body": "a\x00b", "ref": "nul"})
    error = await client.recv_type("error")
    assert (error["code"], error["ref"]) == ("invalid", "nul")
    await client.send({**frame, "client_msg_id": new_id(), "body": "ab"})
    assert (await client.recv_type("message_ack"))["message"]["body"] == "ab"
    assert await _count(Message, consultation_id=session.id) == 1
    await client.close()


@run_async
async def test_a_binary_frame_is_refused(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.communicator.send_to(bytes_data=b'{"type": "ping"}')
    assert (await socket.recv())["code"] == "invalid_json"
    await socket.ping()
    await socket.close()


@override_settings(WS_RATE_LIMIT_PER_SECOND=3)
@run_async
async def test_frames_over_the_rate_limit_are_throttled(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    for _ in range(6):
        await socket.send({"type": "ping"})
    answers = [await socket.recv() for _ in range(6)]
    assert [a["type"] for a in answers].count("pong") == 3
    assert [a.get("code") for a in answers if a["type"] == "error"] == ["throttled"] * 3
    await socket.nothing(0.5)  # the bucket refills
    await socket.ping()
    await socket.close()


# --- Sessions ---------------------------------------------------------------------------------


@run_async
async def test_a_participant_joins_and_gets_the_consultation(session, tokens):
    socket = await signed_in(session.client, tokens["client"])
    await socket.send({"type": "join_session", "session_id": str(session.id)})
    answer = await socket.recv()
    assert answer["type"] == "session_joined"
    assert answer["session_id"] == str(session.id)
    assert answer["consultation"]["id"] == str(session.id)
    assert answer["consultation"]["status"] == "active"
    await socket.close()


@run_async
async def test_an_outsider_cannot_join_or_use_a_session(session, tokens):
    socket = await signed_in(tokens["outsider_user"], tokens["outsider"])
    frames = [
        {"type": "join_session"},
        {"type": "leave_session"},
        {"type": "send_message", "client_msg_id": new_id(), "body": "hi"},
        {"type": "message_delivered", "message_ids": [new_id()]},
        {"type": "mark_seen"},
        {"type": "typing", "is_typing": True},
        {"type": "call_end"},
    ]
    for number, frame in enumerate(frames):
        await socket.send({**frame, "session_id": str(session.id), "ref": number})
        error = await socket.recv()
        assert (error["type"], error["code"], error["ref"]) == ("error", "not_found", number)
    await socket.send({"type": "join_session", "session_id": new_id()})
    assert (await socket.recv())["code"] == "not_found"
    await socket.ping()
    await socket.close()


@run_async
async def test_an_admin_is_not_a_participant(session):
    from channels.db import database_sync_to_async

    from accounts.tests.factories import AdminFactory

    admin = await database_sync_to_async(AdminFactory)()
    socket = await signed_in(admin, await _token(admin))
    await socket.send({"type": "join_session", "session_id": str(session.id)})
    assert (await socket.recv())["code"] == "not_found"
    await socket.close()


# --- Messages ---------------------------------------------------------------------------------


@run_async
async def test_a_message_is_stored_acked_and_broadcast_to_the_room(session, tokens):
    client = await joined(session.client, tokens["client"], session.id)
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)
    msg_id = new_id()
    await client.send(
        {
            "type": "send_message",
            "session_id": str(session.id),
            "client_msg_id": msg_id,
            "body": "Hi",
        }
    )
    ack = await client.recv_type("message_ack")
    assert ack["client_msg_id"] == msg_id
    message = ack["message"]
    assert message["body"] == "Hi"
    assert message["status"] == "sent"
    assert message["session_id"] == str(session.id)
    assert message["sender_id"] == str(session.client_id)
    assert message["reply_to"] is None
    assert (await client.recv_type("message"))["message"] == message
    assert (await consultant.recv_type("message"))["message"] == message
    stored = await _get(Message, id=message["id"])
    assert stored.body == "Hi"
    await client.close()
    await consultant.close()


@run_async
async def test_every_socket_in_the_room_gets_the_message_once_the_sender_s_after_its_ack(
    session, tokens
):
    """The sending socket writes its own `message` itself (the layer leaves its channel out):
    once, after the ack. The sender's other socket in the room gets it too; one that did not
    join does not."""
    sending = await joined(session.client, tokens["client"], session.id)
    other_tab = await joined(session.client, tokens["client"], session.id)
    not_joined = await signed_in(session.client, tokens["client"])
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)
    await sending.send(
        {
            "type": "send_message",
            "session_id": str(session.id),
            "client_msg_id": new_id(),
            "body": "to every tab",
        }
    )
    chat_frames = {"message", "message_ack"}
    received = []
    while not await sending.nothing():
        frame = await sending.recv()
        if frame["type"] in chat_frames:
            received.append(frame)
    assert [frame["type"] for frame in received] == ["message_ack", "message"]
    message = received[0]["message"]
    assert received[1]["message"] == message
    assert (await other_tab.recv_type("message"))["message"] == message
    assert (await consultant.recv_type("message"))["message"] == message
    while not await not_joined.nothing():
        assert (await not_joined.recv())["type"] not in chat_frames
    for socket in (sending, other_tab, not_joined, consultant):
        await socket.close()


async def _get(model, **kwargs):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(model.objects.get)(**kwargs)


async def _count(model, **kwargs):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(model.objects.filter(**kwargs).count)()


@run_async
async def test_a_resend_returns_the_first_message_and_is_not_stored_twice(session, tokens):
    client = await joined(session.client, tokens["client"], session.id)
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)
    frame = {
        "type": "send_message",
        "session_id": str(session.id),
        "client_msg_id": new_id(),
        "body": "once",
    }
    await client.send(frame)
    first = (await client.recv_type("message_ack"))["message"]
    await consultant.recv_type("message")
    await client.send({**frame, "body": "twice?"})
    again = (await client.recv_type("message_ack"))["message"]
    assert again == first
    assert await _count(Message, consultation_id=session.id) == 1
    assert await consultant.nothing()  # no second broadcast
    await client.close()
    await consultant.close()


@run_async
async def test_messages_need_an_active_consultation(db):
    from channels.db import database_sync_to_async

    pending = await database_sync_to_async(ConsultationFactory)(status=Status.PENDING)
    token = await _token(pending.client)
    socket = await signed_in(pending.client, token)
    await socket.send(
        {
            "type": "send_message",
            "session_id": str(pending.id),
            "client_msg_id": new_id(),
            "body": "hello?",
            "ref": 1,
        }
    )
    error = await socket.recv()
    assert (error["code"], error["ref"]) == ("invalid_state", 1)
    assert await _count(Message, consultation_id=pending.id) == 0
    await socket.close()


@run_async
async def test_a_reply_must_be_to_a_message_of_the_same_consultation(session, tokens):
    from channels.db import database_sync_to_async

    elsewhere = await database_sync_to_async(MessageFactory)()
    here = await database_sync_to_async(MessageFactory)(consultation=session)
    socket = await signed_in(session.client, tokens["client"])
    base = {"type": "send_message", "session_id": str(session.id), "body": "re"}
    await socket.send({**base, "client_msg_id": new_id(), "reply_to": str(elsewhere.id)})
    assert (await socket.recv())["code"] == "invalid"
    await socket.send({**base, "client_msg_id": new_id(), "reply_to": str(here.id)})
    assert (await socket.recv_type("message_ack"))["message"]["reply_to"] == str(here.id)
    await socket.close()


@run_async
async def test_delivered_and_seen_move_statuses_forward_and_reach_the_room(session, tokens):
    from channels.db import database_sync_to_async

    make = database_sync_to_async(MessageFactory)
    first = await make(consultation=session)
    second = await make(consultation=session)
    own = await make(consultation=session, sender=session.consultant.user)
    client = await joined(session.client, tokens["client"], session.id)
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)

    ids = [str(first.id), str(own.id)]
    await consultant.send(
        {"type": "message_delivered", "session_id": str(session.id), "message_ids": ids}
    )
    status = await client.recv_type("message_status")
    assert status == {
        "type": "message_status",
        "session_id": str(session.id),
        "message_ids": [str(first.id)],  # not the consultant's own message
        "status": "delivered",
    }
    assert (await consultant.recv_type("message_status")) == status

    await consultant.send({"type": "mark_seen", "session_id": str(session.id)})
    seen = await client.recv_type("message_status")
    assert seen["status"] == "seen"
    assert sorted(seen["message_ids"]) == sorted([str(first.id), str(second.id)])

    # delivered after seen changes nothing and announces nothing
    await consultant.send(
        {"type": "message_delivered", "session_id": str(session.id), "message_ids": ids}
    )
    await consultant.send({"type": "mark_seen", "session_id": str(session.id)})
    assert await client.nothing()
    stored = await _get(Message, id=first.id)
    assert stored.status == MessageStatus.SEEN
    assert stored.delivered_at is not None and stored.seen_at is not None
    assert (await _get(Message, id=own.id)).status == MessageStatus.SENT
    await client.close()
    await consultant.close()


# --- Typing and calls -------------------------------------------------------------------------


@run_async
async def test_typing_reaches_the_other_participant_only(session, tokens):
    client = await joined(session.client, tokens["client"], session.id)
    client_tablet = await joined(session.client, tokens["client"], session.id)
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)
    await client.send({"type": "typing", "session_id": str(session.id), "is_typing": True})
    assert await consultant.recv_type("typing") == {
        "type": "typing",
        "session_id": str(session.id),
        "user_id": str(session.client_id),
        "is_typing": True,
    }
    await client.ping()  # everything sent before the pong has arrived
    await client_tablet.ping()
    assert "typing" not in client.seen + client_tablet.seen
    for socket in (client, client_tablet, consultant):
        await socket.close()


@pytest.fixture
def voice(db):
    return ActiveConsultationFactory(channel="voice")


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("call_offer", {"sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}),
        ("call_answer", {"sdp": {"type": "answer", "sdp": "v=0\r\n"}}),
        ("ice_candidate", {"candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host"}}),
        ("ice_candidate", {"candidate": None}),
        ("call_end", {}),
    ],
)
@run_async
async def test_call_frames_are_relayed_to_the_other_participant_only(voice, kind, payload):
    from channels.db import database_sync_to_async

    client_token = await _token(voice.client)
    consultant_token = await _token(voice.consultant.user)
    client = await joined(voice.client, client_token, voice.id)
    consultant = await joined(await _user_of(voice), consultant_token, voice.id)
    await client.send({"type": kind, "session_id": str(voice.id), **payload, "ref": "x"})
    relayed = await consultant.recv_type(kind)
    assert relayed == {
        "type": kind,
        "session_id": str(voice.id),
        **payload,
        "from_user_id": str(voice.client_id),
    }
    await client.ping()  # everything sent to it before the pong has arrived
    assert kind not in client.seen
    await client.close()
    await consultant.close()
    del database_sync_to_async


async def _user_of(consultation):
    from channels.db import database_sync_to_async

    return await database_sync_to_async(lambda: consultation.consultant.user)()


@run_async
async def test_calls_are_refused_in_a_chat_consultation(session, tokens):
    socket = await joined(session.client, tokens["client"], session.id)
    await socket.send({"type": "call_offer", "session_id": str(session.id), "sdp": "v=0", "ref": 2})
    error = await socket.recv_type("error")
    assert (error["code"], error["ref"]) == ("channel_not_offered", 2)
    await socket.close()


@run_async
async def test_calls_need_an_active_consultation(db):
    from channels.db import database_sync_to_async

    pending = await database_sync_to_async(ConsultationFactory)(channel="voice")
    socket = await signed_in(pending.client, await _token(pending.client))
    await socket.send({"type": "call_end", "session_id": str(pending.id)})
    assert (await socket.recv())["code"] == "invalid_state"
    await socket.close()


@run_async
async def test_a_socket_that_left_the_session_hears_no_more_of_it(session, tokens):
    client = await joined(session.client, tokens["client"], session.id)
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)
    await consultant.send({"type": "leave_session", "session_id": str(session.id)})
    await consultant.ping()
    await client.send({"type": "typing", "session_id": str(session.id), "is_typing": True})
    await client.send(
        {
            "type": "send_message",
            "session_id": str(session.id),
            "client_msg_id": new_id(),
            "body": "?",
        }
    )
    await client.recv_type("message")
    assert await consultant.nothing()
    await client.close()
    await consultant.close()


# --- Server events ----------------------------------------------------------------------------


@run_async
async def test_user_events_reach_every_socket_of_the_user_joined_or_not(session, tokens):
    from channels.db import database_sync_to_async

    socket = await signed_in(session.client, tokens["client"])
    frame = {
        "type": "billing_tick",
        "session_id": str(session.id),
        "billed_seconds": 10,
        "total_amount": 50,
        "balance": 9950,
        "remaining_seconds": 1990,
    }
    await database_sync_to_async(send_now)(user_group(session.client_id), frame)
    assert await socket.recv_type("billing_tick") == frame
    await socket.close()


@run_async
async def test_ending_the_consultation_reaches_both_sockets(session, tokens):
    from channels.db import database_sync_to_async

    from consultations.services import end_consultation

    client = await signed_in(session.client, tokens["client"])
    consultant = await signed_in(session.consultant.user, tokens["consultant"])
    await database_sync_to_async(end_consultation)(consultation_id=session.id, actor=session.client)
    for socket in (client, consultant):
        update = await socket.recv_type("consultation_updated")
        assert update["consultation"]["status"] == "ended"
        await socket.close()


# --- Presence ---------------------------------------------------------------------------------


@run_async
async def test_the_other_participant_sees_the_consultant_come_and_go(session, tokens):
    client = await signed_in(session.client, tokens["client"])
    consultant = await signed_in(session.consultant.user, tokens["consultant"])
    user_id = str(session.consultant.user_id)
    assert await client.recv_type("presence") == {
        "type": "presence",
        "user_id": user_id,
        "is_online": True,
    }
    await consultant.close()
    assert await client.recv_type("presence") == {
        "type": "presence",
        "user_id": user_id,
        "is_online": False,
    }
    row = await _get(Consultation, id=session.id)
    assert row.consultant_absent_since is not None
    await client.close()


@run_async
async def test_a_second_device_is_not_a_new_arrival_and_one_leaving_is_not_a_departure(
    session, tokens
):
    client = await signed_in(session.client, tokens["client"])
    phone = await signed_in(session.consultant.user, tokens["consultant"])
    await client.recv_type("presence")
    laptop = await signed_in(session.consultant.user, tokens["consultant"])
    await phone.close()
    assert await client.nothing()
    assert (await _get(Consultation, id=session.id)).consultant_absent_since is None
    await laptop.close()
    assert (await client.recv_type("presence"))["is_online"] is False
    await client.close()
