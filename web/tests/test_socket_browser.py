"""static/js/socket.js, the pages' WebSocket, in a real browser against a WebSocket server
played by the test (Playwright's `route_web_socket`): what the page does when the server is
slow to answer or never does."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser]

CONNECT = """async () => {
    const { connect } = await import("/static/js/socket.js");
    window.states = [];
    window.socket = connect();
    window.socket.on("state", (state) => window.states.push(state));
    await new Promise((resolve) => window.socket.on("open", resolve));
}"""


def test_going_offline_shows_reconnecting_at_once_though_the_close_is_never_answered(
    live_site, page
):
    # Offline, the browser may never hear the server's answer to its closing handshake (and
    # Chromium waits a minute for it): the socket must not wait for it to say "reconnecting",
    # nor hear that socket again once it has given it up.
    connections = []

    def server(ws):
        connections.append(ws)
        ws.on_close(lambda code, reason: None)  # never answers a close

    page.route_web_socket(re.compile(r"/ws/$"), server)
    page.goto(live_site.url_for("/"))
    page.evaluate(CONNECT)

    page.context.set_offline(True)
    page.wait_for_function("() => window.states.includes('reconnecting')", timeout=5000)
    assert page.evaluate("window.socket.send({type: 'ping'})") is False
    page.context.set_offline(False)
    page.wait_for_function("() => window.states.at(-1) === 'open'", timeout=5000)

    assert len(connections) == 2
    connections[0].close()  # the socket given up closes at last: not heard
    page.wait_for_timeout(300)
    assert page.evaluate("window.states") == ["open", "reconnecting", "open"]
    connections[1].close(code=4401)  # the new one: signed out
    page.wait_for_function("() => window.states.at(-1) === 'closed'", timeout=5000)
    assert page.evaluate("window.states") == ["open", "reconnecting", "open", "closed"]


def test_closing_a_socket_waiting_to_reconnect_closes_it_for_good(live_site, page):
    connections = []
    page.route_web_socket(re.compile(r"/ws/$"), lambda ws: connections.append(ws))
    page.goto(live_site.url_for("/"))
    page.evaluate(CONNECT)
    page.context.set_offline(True)
    page.wait_for_function("() => window.states.at(-1) === 'reconnecting'", timeout=5000)
    page.evaluate("window.socket.close()")
    page.context.set_offline(False)
    page.wait_for_timeout(300)
    assert page.evaluate("window.states") == ["open", "reconnecting", "closed"]
    assert len(connections) == 1
