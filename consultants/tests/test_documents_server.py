"""Uploads through the real server: daphne (twisted) carries a multipart body to Django and
parses nothing itself, so a body it could not parse still gets the API's error envelope."""

import json
import socket

import pytest

from config.tests.servers import daphne, server_env
from consultants.tests.factories import ConsultantProfileFactory

URL = "/api/v1/consultants/me/documents"


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with daphne(server_env()) as port:
        yield port


def post(port: int, body: bytes, content_type: str, token: str | None = None) -> tuple:
    """(status, headers, body) of a raw HTTP/1.1 POST, read until the server closes."""
    head = [
        f"POST {URL} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        reply = b""
        while part := connection.recv(65536):
            reply += part
    head_part, _, content = reply.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, content


BAD_BODIES = [
    (b"", "multipart/form-data"),
    (b"", "multipart/form-data; boundary=xyz"),
    (b"--xyz\r\nnot a part\r\n--xyz--\r\n", "multipart/form-data"),  # no boundary declared
    (b"\x00\xff garbage, no parts at all", "multipart/form-data; boundary=xyz"),
    (
        b'--xyz\r\nContent-Disposition: form-data; name="kind"\r\n\r\nidentity',  # unterminated
        "multipart/form-data; boundary=xyz",
    ),
]


@pytest.mark.django_db(transaction=True)
def test_a_body_that_is_no_valid_upload_answers_400_in_the_envelope(server):
    from rest_framework_simplejwt.tokens import RefreshToken

    token = str(RefreshToken.for_user(ConsultantProfileFactory().user).access_token)
    for body, content_type in BAD_BODIES:
        status, headers, content = post(server, body, content_type, token)
        assert status == 400, (body, content_type, content)
        assert headers.get("content-type") == "application/json", (body, content_type)
        answer = json.loads(content)
        assert answer["code"] == "invalid"
        assert answer["detail"]


def test_a_malformed_multipart_body_without_a_token_answers_401_in_json(server):
    """The server used to answer this before authentication, with a bare 400 of its own."""
    status, headers, content = post(server, BAD_BODIES[2][0], BAD_BODIES[2][1])
    assert status == 401
    assert headers["content-type"] == "application/json"
    assert json.loads(content)["code"] == "not_authenticated"
