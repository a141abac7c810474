"""The site's pages sign their socket in with the Django session cookie (Origin checked)."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client, override_settings

from accounts.tests.factories import ClientFactory
from chat.tests.helpers import Socket, access_token, run_async

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"https://consult.example.com")


def session_cookie_of(user) -> bytes:
    client = Client()
    client.force_login(user, backend="accounts.backends.AccountBackend")
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"theme=dark; {settings.SESSION_COOKIE_NAME}={value}".encode()


async def is_signed_in(socket: Socket) -> bool:
    """A frame that needs a user: `not_found` for a signed-in socket, else
    `not_authenticated`."""
    await socket.send({"type": "leave_session", "session_id": str(uuid.uuid4())})
    answer = await socket.recv_type("error")
    return answer["code"] == "not_found"


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_a_page_of_the_site_is_signed_in_by_its_session_cookie():
    cookie = await sync_to_async(session_cookie_of)(await sync_to_async(ClientFactory)())
    socket = Socket(headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await socket.connect()
    assert connected
    assert await is_signed_in(socket)


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_the_cookie_alone_without_an_origin_signs_nobody_in():
    cookie = await sync_to_async(session_cookie_of)(await sync_to_async(ClientFactory)())
    socket = Socket(headers=[(b"cookie", cookie)])
    connected, _ = await socket.connect()
    assert connected
    assert not await is_signed_in(socket)


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_another_sites_page_cannot_ride_the_cookie():
    cookie = await sync_to_async(session_cookie_of)(await sync_to_async(ClientFactory)())
    socket = Socket(headers=[(b"origin", b"https://evil.example.net"), (b"cookie", cookie)])
    connected, _ = await socket.connect()
    assert not connected


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_a_logged_out_or_forged_session_signs_nobody_in():
    socket = Socket(headers=[ORIGIN, (b"cookie", b"sessionid=forged-session-key")])
    connected, _ = await socket.connect()
    assert connected
    assert not await is_signed_in(socket)


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_a_changed_password_signs_the_socket_out():
    user = await sync_to_async(ClientFactory)()
    cookie = await sync_to_async(session_cookie_of)(user)

    def change_password():
        user.set_password("a new and different password")
        user.save()

    await sync_to_async(change_password)()
    socket = Socket(headers=[ORIGIN, (b"cookie", cookie)])
    await socket.connect()
    assert not await is_signed_in(socket)


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_a_bad_token_is_refused_even_beside_a_good_session():
    cookie = await sync_to_async(session_cookie_of)(await sync_to_async(ClientFactory)())
    socket = Socket("/ws/?token=not-a-token", headers=[ORIGIN, (b"cookie", cookie)])
    await socket.connect()
    assert await socket.close_code() == 4401


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_the_token_still_works_as_before():
    user = await sync_to_async(ClientFactory)()
    token = await sync_to_async(access_token)(user)
    socket = Socket(f"/ws/?token={token}", headers=[ORIGIN])
    await socket.connect()
    assert await is_signed_in(socket)
