"""End to end: real daphne processes on loopback sharing the Redis channel layer, a real
WebSocket client library (`websockets`), the client on one process, the consultant on the
other."""

import asyncio
import json
import urllib.request
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chat.models import Message
from chat.testing import check_frame
from chat.tests.helpers import access_token, wait_until_gone
from consultations.tests.factories import ActiveConsultationFactory

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10


class Peer:
    """One side's socket: sends frames, waits for the next frame of a given type."""

    def __init__(self, ws):
        self.ws = ws
        self.frames: list[dict] = []

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def expect(self, kind: str, **match) -> dict:
        async def wait():
            while True:
                text = await self.ws.recv()
                check_frame(text)  # described by GET /api/asyncapi.json
                frame = json.loads(text)
                self.frames.append(frame)
                if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                    return frame

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def join(self, session_id) -> dict:
        await self.send({"type": "join_session", "session_id": str(session_id)})
        return await self.expect("session_joined")

    async def say(self, session_id, body: str, client_msg_id: str | None = None) -> dict:
        msg_id = client_msg_id or str(uuid.uuid4())
        await self.send(
            {
                "type": "send_message",
                "session_id": str(session_id),
                "client_msg_id": msg_id,
                "body": body,
            }
        )
        return (await self.expect("message_ack", client_msg_id=msg_id))["message"]


@pytest.fixture
def pair(db):
    consultation = ActiveConsultationFactory()
    return (
        consultation,
        access_token(consultation.client),
        access_token(consultation.consultant.user),
    )


def test_a_client_and_a_consultant_on_two_processes_chat_with_receipts(daphnes, pair):
    consultation, client_token, consultant_token = pair
    sid = str(consultation.id)
    first, second = daphnes

    async def scenario():
        async with (
            connect(f"{first.url}?token={client_token}") as client_ws,
            connect(second.url) as consultant_ws,
        ):
            client, consultant = Peer(client_ws), Peer(consultant_ws)
            await consultant.send({"type": "authenticate", "token": consultant_token})
            assert (await consultant.expect("authenticated"))["user_id"] == str(
                consultation.consultant.user_id
            )
            await client.join(sid)
            await consultant.join(sid)

            sent = await client.say(sid, "Namaste, I have a question.")
            await consultant.expect("message", message=sent)

            await consultant.send(
                {"type": "message_delivered", "session_id": sid, "message_ids": [sent["id"]]}
            )
            delivered = await client.expect("message_status", status="delivered")
            assert delivered["message_ids"] == [sent["id"]]

            await consultant.send({"type": "typing", "session_id": sid, "is_typing": True})
            typing = await client.expect("typing")
            assert typing["user_id"] == str(consultation.consultant.user_id)

            await consultant.send({"type": "mark_seen", "session_id": sid})
            seen = await client.expect("message_status", status="seen")
            assert seen["message_ids"] == [sent["id"]]

            answer = await consultant.say(sid, "Of course, go ahead.")
            await client.expect("message", message=answer)
            await client.send({"type": "mark_seen", "session_id": sid})
            await consultant.expect("message_status", status="seen", message_ids=[answer["id"]])
            assert "typing" not in [f["type"] for f in consultant.frames]

    asyncio.run(scenario())
    wait_until_gone(consultation)
    statuses = dict(Message.objects.values_list("body", "status"))
    assert statuses == {"Namaste, I have a question.": "seen", "Of course, go ahead.": "seen"}


def test_a_client_that_drops_and_reconnects_loses_and_doubles_nothing(daphnes, pair):
    consultation, client_token, consultant_token = pair
    sid = str(consultation.id)
    first, second = daphnes
    ids = [str(uuid.uuid4()) for _ in range(6)]

    async def scenario():
        async with connect(f"{second.url}?token={consultant_token}") as consultant_ws:
            consultant = Peer(consultant_ws)
            await consultant.join(sid)
            client_ws = await connect(f"{first.url}?token={client_token}")
            client = Peer(client_ws)
            await client.join(sid)
            for number in range(3):
                await client.say(sid, f"part {number}", ids[number])
            # the fourth goes out and the connection dies before its ack is read
            await client.send(
                {
                    "type": "send_message",
                    "session_id": sid,
                    "client_msg_id": ids[3],
                    "body": "part 3",
                }
            )
            client_ws.transport.abort()
            # back, on the other process this time; the unacked message is sent again
            async with connect(f"{second.url}?token={client_token}") as again_ws:
                again = Peer(again_ws)
                await again.join(sid)
                resent = await again.say(sid, "part 3", ids[3])
                for number in (4, 5):
                    await again.say(sid, f"part {number}", ids[number])
            # the consultant heard each message once, in order
            last = None
            while last is None or last["body"] != "part 5":
                last = (await consultant.expect("message"))["message"]
            heard = [f["message"]["body"] for f in consultant.frames if f["type"] == "message"]
            assert heard == [f"part {n}" for n in range(6)]
            return resent

    resent = asyncio.run(scenario())
    wait_until_gone(consultation)
    request = urllib.request.Request(
        f"{first.http}/api/v1/consultations/{sid}/messages?page_size=100",
        headers={"Authorization": f"Bearer {client_token}"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - loopback
        history = json.loads(response.read())["results"]
    bodies = [m["body"] for m in reversed(history)]
    assert bodies == [f"part {n}" for n in range(6)]
    assert [m["id"] for m in history].count(resent["id"]) == 1


def test_a_foreign_origin_is_refused_at_the_handshake(daphnes, pair):
    consultation, client_token, _ = pair

    async def scenario():
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                f"{daphnes[0].url}?token={client_token}", origin="http://evil.example"
            ):
                pass
        assert refused.value.response.status_code == 403
        port = daphnes[0].port
        async with connect(
            f"{daphnes[0].url}?token={client_token}", origin=f"http://localhost:{port}"
        ) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) == {"type": "pong"}

    asyncio.run(scenario())
    wait_until_gone(consultation, "client_absent_since")


def test_an_invalid_token_closes_with_4401_on_a_real_server(daphnes):
    async def scenario():
        async with connect(f"{daphnes[1].url}?token=forged") as ws:
            await asyncio.wait_for(ws.wait_closed(), TIMEOUT)
            assert ws.close_code == 4401

    asyncio.run(scenario())
