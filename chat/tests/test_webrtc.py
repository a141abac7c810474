"""Two real WebRTC peers (aiortc), the client and the consultant of a video consultation, on two
daphne processes: offer, answer and every ICE candidate travel only through the server's relay
(`call_offer`, `call_answer`, `ice_candidate`), and the data channel they open carries a
message. Loopback only: no STUN/TURN servers, and host candidates on 127.0.0.1."""

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from chat.testing import check_frame
from chat.tests.helpers import access_token, wait_until_gone
from consultations.tests.factories import ActiveConsultationFactory

aiortc = pytest.importorskip("aiortc")

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 20


@pytest.fixture
def loopback_ice(monkeypatch):
    """aioice leaves 127.0.0.1 out of its host candidates; on this machine it is the only
    address the peers may use."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def _without_candidates(sdp: str) -> str:
    """The SDP with its candidate lines taken out: they must go as `ice_candidate` frames."""
    lines = sdp.splitlines()
    kept = [line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
    return "\r\n".join(kept) + "\r\n"


def _candidates(sdp: str) -> list[dict]:
    """`RTCIceCandidateInit` objects for each candidate line, per media section."""
    found, mid, index = [], None, -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        elif line.startswith("a=candidate:"):
            found.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index})
    return found


class Side:
    def __init__(self, ws, session_id: str):
        from aiortc import RTCConfiguration, RTCPeerConnection

        self.ws = ws
        self.session_id = session_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.relayed: list[str] = []

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps({**frame, "session_id": self.session_id}))

    async def next_call_frame(self) -> dict:
        while True:
            text = await self.ws.recv()
            check_frame(text)  # described by GET /api/asyncapi.json
            frame = json.loads(text)
            if frame["type"] in ("call_offer", "call_answer", "ice_candidate", "call_end"):
                self.relayed.append(frame["type"])
                return frame

    async def send_description(self, kind: str) -> None:
        local = self.pc.localDescription
        await self.send({"type": kind, "sdp": _without_candidates(local.sdp)})
        for candidate in _candidates(local.sdp):
            await self.send({"type": "ice_candidate", "candidate": candidate})
        await self.send({"type": "ice_candidate", "candidate": None})

    async def take_remote(self, kind: str) -> None:
        """The peer's description, then its candidates until the null one."""
        from aiortc import RTCSessionDescription
        from aiortc.sdp import candidate_from_sdp

        description = await self.next_call_frame()
        assert description["type"] == f"call_{kind}"
        await self.pc.setRemoteDescription(RTCSessionDescription(description["sdp"], kind))
        while True:
            frame = await self.next_call_frame()
            assert frame["type"] == "ice_candidate"
            init = frame["candidate"]
            if init is None:
                await self.pc.addIceCandidate(None)
                return
            candidate = candidate_from_sdp(init["candidate"].split(":", 1)[1])
            candidate.sdpMid = init["sdpMid"]
            candidate.sdpMLineIndex = init["sdpMLineIndex"]
            await self.pc.addIceCandidate(candidate)


async def _join(ws, session_id: str) -> None:
    await ws.send(json.dumps({"type": "join_session", "session_id": session_id}))
    while json.loads(await ws.recv())["type"] != "session_joined":
        pass


def test_two_webrtc_peers_connect_through_the_signaling_relay(daphnes, loopback_ice, db):
    consultation = ActiveConsultationFactory(channel="video", consultant__rate_video=5000)
    sid = str(consultation.id)
    client_token = access_token(consultation.client)
    consultant_token = access_token(consultation.consultant.user)

    async def scenario():
        async with (
            connect(f"{daphnes[0].url}?token={client_token}") as client_ws,
            connect(f"{daphnes[1].url}?token={consultant_token}") as consultant_ws,
        ):
            await _join(client_ws, sid)
            await _join(consultant_ws, sid)
            caller, callee = Side(client_ws, sid), Side(consultant_ws, sid)
            received: asyncio.Future = asyncio.get_running_loop().create_future()

            @callee.pc.on("datachannel")
            def on_datachannel(channel):
                channel.on("message", lambda message: received.set_result(message))

            channel = caller.pc.createDataChannel("chat")
            opened = asyncio.Event()
            channel.on("open", opened.set)

            await caller.pc.setLocalDescription(await caller.pc.createOffer())
            await caller.send_description("call_offer")
            await callee.take_remote("offer")
            await callee.pc.setLocalDescription(await callee.pc.createAnswer())
            await callee.send_description("call_answer")
            await caller.take_remote("answer")

            await asyncio.wait_for(opened.wait(), TIMEOUT)
            channel.send("hello over a peer-to-peer data channel")
            message = await asyncio.wait_for(received, TIMEOUT)
            await caller.send({"type": "call_end"})
            assert (await callee.next_call_frame())["type"] == "call_end"
            await caller.pc.close()
            await callee.pc.close()
            return message, callee.relayed, caller.relayed

    message, to_callee, to_caller = asyncio.run(scenario())
    wait_until_gone(consultation)
    assert message == "hello over a peer-to-peer data channel"
    assert to_callee[0] == "call_offer" and "ice_candidate" in to_callee
    assert to_caller[0] == "call_answer" and "ice_candidate" in to_caller
