"""Origins outside ALLOWED_HOSTS are refused, with production settings (DEBUG off)."""

import pytest
from django.test import override_settings

from chat.tests.helpers import Socket, run_async

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_a_foreign_origin_is_refused_with_debug_off():
    socket = Socket(headers=[(b"origin", b"https://evil.example.net")])
    connected, _ = await socket.connect()
    assert not connected


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_the_sites_own_origin_is_let_in_with_debug_off():
    socket = Socket(headers=[(b"origin", b"https://consult.example.com")])
    connected, _ = await socket.connect()
    assert connected
    await socket.ping()
    await socket.close()


@override_settings(DEBUG=False, ALLOWED_HOSTS=["consult.example.com"])
@run_async
async def test_a_native_client_without_an_origin_is_let_in():
    socket = Socket()
    connected, _ = await socket.connect()
    assert connected
    await socket.close()
