"""`python -m config.serve`: daphne on uvloop and config.reactor, its collector tuned, serving the
chat for real."""

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import websockets
from websockets.typing import Origin

from chat.testing import check_frame
from chat.tests.helpers import access_token
from config.garbage import YOUNG_COLLECTION_THRESHOLD
from config.tests.servers import ROOT, daphne, server_env
from consultations.tests.factories import ActiveConsultationFactory

STARTED = """
import gc, sys
from config import serve
serve.prepare(sys.argv[1])
from twisted.internet import reactor
from autobahn.websocket import protocol
from autobahn.twisted import websocket
assert protocol.hltype(protocol.WebSocketProtocol.sendData) is protocol.WebSocketProtocol.sendData
assert websocket.hlval(7) == 7  # autobahn's per-frame debug arguments: plain, not coloured
from daphne.server import Server
assert Server.handle_reply.fast_text  # config.websocket_send's
assert protocol.create_xor_masker.integer_below  # config.websocket_mask's
reactor.callWhenRunning(reactor.stop)  # after what prepare() asked for when running
reactor.run(installSignalHandlers=False)
print(type(reactor._asyncioEventloop).__module__, gc.get_threshold()[0], gc.get_freeze_count(),
      type(reactor).__module__)
"""


def started(loop_name: str) -> subprocess.CompletedProcess:
    """A process prepared as `config.serve` prepares daphne's, its reactor run once."""
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", STARTED, loop_name],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_reactor_runs_on_uvloop_and_the_collector_is_tuned_once_running():
    result = started("uvloop")
    assert result.returncode == 0, result.stderr
    module, threshold, frozen, reactor = result.stdout.split()
    assert module.startswith("uvloop")
    assert reactor == "config.reactor"
    assert int(threshold) == YOUNG_COLLECTION_THRESHOLD
    assert int(frozen) > 10_000  # daphne, Twisted, the modules imported by then


def test_the_standard_loop_on_demand_and_an_unknown_one_refused():
    result = started("asyncio")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].startswith("asyncio")
    assert result.stdout.split()[3] == "config.reactor"
    refused = started("tokio")
    assert refused.returncode != 0
    assert "ASGI_EVENT_LOOP='tokio': one of uvloop, asyncio" in refused.stderr


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with daphne(server_env()) as port:
        yield port


def loaded_libraries(port: int) -> str:
    """The shared objects mapped by the process listening on `port` (ours: its child)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            inode = fields[9]
            break
    else:
        raise AssertionError(f"nothing listens on {port}")
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(f"socket:[{inode}]" == str(fd.readlink()) for fd in (process / "fd").iterdir()):
                return (process / "maps").read_text()
        except OSError:  # (another user's process, or one that just ended)
            continue
    raise AssertionError(f"no process of ours holds the socket of port {port}")


async def frames_until(socket, *kinds: str) -> dict[str, dict]:
    """The next frame of each of `kinds` (others, presence frames, passed over; all checked
    against the AsyncAPI document)."""
    found: dict[str, dict] = {}
    while set(kinds) - set(found):
        text = await asyncio.wait_for(socket.recv(), 10)
        check_frame(text)
        frame = json.loads(text)
        if frame["type"] in kinds:
            found.setdefault(frame["type"], frame)
    return found


@pytest.mark.django_db(transaction=True)
def test_a_chat_message_through_the_served_daphne_on_uvloop(server):
    assert "uvloop" in loaded_libraries(server)
    session = ActiveConsultationFactory()
    tokens = {
        "client": access_token(session.client),
        "consultant": access_token(session.consultant.user),
    }

    async def chat() -> tuple[dict, dict]:
        url = f"ws://127.0.0.1:{server}/ws/?token="
        origin = Origin(f"http://127.0.0.1:{server}")
        async with (
            websockets.connect(url + tokens["client"], origin=origin) as client,
            websockets.connect(url + tokens["consultant"], origin=origin) as consultant,
        ):
            for socket in (client, consultant):
                await socket.send(
                    json.dumps({"type": "join_session", "session_id": str(session.id)})
                )
                await frames_until(socket, "session_joined")
            sent = {
                "type": "send_message",
                "session_id": str(session.id),
                "client_msg_id": str(uuid.uuid4()),
                "body": "over uvloop",
            }
            await client.send(json.dumps(sent))
            mine = await frames_until(client, "message_ack", "message")
            theirs = await frames_until(consultant, "message")
        return mine, theirs["message"]

    mine, theirs = asyncio.run(chat())
    assert theirs["message"] == mine["message_ack"]["message"] == mine["message"]["message"]
    assert theirs["message"]["body"] == "over uvloop"
    assert session.messages.get().body == "over uvloop"
