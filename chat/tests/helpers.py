"""Test helpers: run a coroutine from a sync test, sockets on the ASGI app, frames as dicts."""

import json
import uuid
from functools import wraps

from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

TIMEOUT = 10  # generous: the machine running the tests may be busy


_open: list["Socket"] = []


def run_async(test):
    """Lets a sync pytest test be written as a coroutine (no asyncio plugin needed). Every
    socket the test opened is closed afterwards, even when it failed: a consumer left running
    on a finished event loop would hold the channel layer's receive lock for the next test."""

    async def run(*args, **kwargs):
        try:
            return await test(*args, **kwargs)
        finally:
            while _open:
                socket = _open.pop()
                try:
                    await socket.communicator.disconnect(timeout=TIMEOUT)
                except Exception:  # noqa: BLE001 - already closed, or the test broke it
                    pass
            from chat import store

            await store.close()  # this event loop's database connections (chat/store.py)

    @wraps(test)
    def wrapper(*args, **kwargs):
        return async_to_sync(run)(*args, **kwargs)

    return wrapper


def access_token(user) -> str:
    from accounts.tokens import issue_tokens

    return issue_tokens(user).access


class Socket:
    """A WebsocketCommunicator that speaks frames (dicts)."""

    def __init__(self, path: str = "/ws/", headers=None):
        from config.asgi import application

        self.communicator = WebsocketCommunicator(application, path, headers=headers or [])
        self.seen: list[str] = []  # the types of every frame received
        _open.append(self)

    async def connect(self):
        connected, code = await self.communicator.connect(timeout=TIMEOUT)
        return connected, code

    async def send(self, frame: dict | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.communicator.send_to(text_data=text)

    async def recv(self, timeout: float = TIMEOUT) -> dict:
        frame = json.loads(await self.communicator.receive_from(timeout=timeout))
        self.seen.append(frame.get("type"))
        return frame

    async def recv_type(self, kind: str, timeout: float = TIMEOUT) -> dict:
        """The next frame of type `kind`, skipping others (presence, billing)."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == kind:
                return frame

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def close_code(self, timeout: float = TIMEOUT):
        output = await self.communicator.receive_output(timeout=timeout)
        assert output["type"] == "websocket.close", output
        return output.get("code")

    async def close(self) -> None:
        await self.communicator.disconnect()

    async def ping(self) -> None:
        await self.send({"type": "ping"})
        assert await self.recv_type("pong") == {"type": "pong"}


async def signed_in(user, token: str | None = None) -> Socket:
    socket = Socket(f"/ws/?token={token}")
    connected, _ = await socket.connect()
    assert connected
    return socket


async def joined(user, token: str, session_id) -> Socket:
    socket = await signed_in(user, token)
    await socket.send({"type": "join_session", "session_id": str(session_id)})
    answer = await socket.recv_type("session_joined")
    assert answer["session_id"] == str(session_id)
    return socket


def new_id() -> str:
    return str(uuid.uuid4())


def wait_until_gone(consultation, *fields: str, timeout: float = 15) -> None:
    """Waits until the servers have recorded the participants' last sockets closing (the
    `*_absent_since` fields), so that no server is still writing when the test's database is
    truncated (a TRUNCATE racing a row lock can deadlock)."""
    import time

    from consultations.models import Consultation

    fields = fields or ("client_absent_since", "consultant_absent_since")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = Consultation.objects.filter(id=consultation.id).values(*fields).first()
        if row is None or all(row[field] is not None for field in fields):
            return
        time.sleep(0.1)
    raise AssertionError(f"the servers did not record {fields} in time")
