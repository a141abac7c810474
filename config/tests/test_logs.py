"""Logs: one JSON object a line with the request's (or task's) context; X-Request-ID on every
answer, the caller's when it is safe."""

import io
import json
import logging
import logging.config
import re
import uuid

import pytest
from channels.testing import HttpCommunicator

from accounts.tests.factories import ClientFactory, sign_in
from chat.tests.helpers import access_token, run_async
from config import logs
from config.logs import logging_config
from consultations.tests.factories import ActiveConsultationFactory

NEW_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines():
    """The root logger writes through the settings' JSON configuration into a buffer; the
    fixture returns a function giving the lines written so far, parsed."""
    import config.asgi  # noqa: F401 - set up first: django.setup() configures logging anew

    conf = logging_config(fmt="json", level="INFO")
    stream = io.StringIO()
    conf["handlers"]["console"]["stream"] = stream
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logging.config.dictConfig(conf)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_a_line_is_one_json_object_with_the_fields_operators_search_by(log_lines):
    token = logs.start(request_id="req-1", user_id="u-1", consultation_id="c-1")
    try:
        logging.getLogger("consultations.billing").warning("set aside %s", "c-1", extra={"n": 2})
    finally:
        logs.finish(token)
    (line,) = log_lines()
    assert line["level"] == "WARNING"
    assert line["logger"] == "consultations.billing"
    assert line["message"] == "set aside c-1"
    assert line["timestamp"].endswith("+00:00")
    assert (line["request_id"], line["user_id"], line["consultation_id"]) == ("req-1", "u-1", "c-1")
    assert line["n"] == 2


def test_an_exception_stays_inside_its_one_line(log_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("it failed")
    (line,) = log_lines()
    assert "ValueError: boom" in line["exc_info"]


def test_text_lines_show_the_context_for_a_person():
    formatter = logs.TextFormatter("%(levelname)s %(name)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "req-9"
    assert formatter.format(record) == "INFO x hello request_id=req-9"


def test_an_unknown_log_format_stops_the_start_up():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        logging_config(fmt="xml", level="INFO")


@pytest.mark.parametrize(
    "given, kept",
    [
        ("abc-123", True),
        ("a" * 128, True),
        ("Root=1-5f84c7a1;Parent=x", False),  # ';' is not safe
        ("a" * 129, False),
        ("two words", False),
        ("", False),
        ("naïve", False),
        ("line\nbreak", False),
    ],
)
def test_the_callers_request_id_is_kept_only_when_safe(db, api, given, kept):
    response = api.get("/healthz", HTTP_X_REQUEST_ID=given)
    if kept:
        assert response["X-Request-ID"] == given
    else:
        assert NEW_ID.fullmatch(response["X-Request-ID"])


def test_every_answer_gets_its_own_request_id(db, api):
    first = api.get("/api/v1/nowhere")["X-Request-ID"]
    second = api.get("/api/v1/auth/me")["X-Request-ID"]
    assert first != second and NEW_ID.fullmatch(first) and NEW_ID.fullmatch(second)


def test_an_answer_refused_before_the_view_still_carries_the_id(db, api):
    response = api.generic(
        "POST",
        "/api/v1/auth/login",
        "{}",
        content_type="application/json",
        HTTP_X_REQUEST_ID="too-big-1",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert response["X-Request-ID"] == "too-big-1"


def test_lines_written_while_serving_carry_the_request_user_and_consultation(
    db, api, log_lines, monkeypatch
):
    from rest_framework.views import APIView

    consultation = ActiveConsultationFactory()
    sign_in(api, consultation.client)
    finalize = APIView.finalize_response

    def finalize_and_log(self, request, response, *args, **kwargs):  # inside the view's work
        logging.getLogger("consultations.services").info("looked at it")
        return finalize(self, request, response, *args, **kwargs)

    monkeypatch.setattr(APIView, "finalize_response", finalize_and_log)
    response = api.get(f"/api/v1/consultations/{consultation.id}", HTTP_X_REQUEST_ID="trace-7")
    assert response.status_code == 200
    (line,) = [line for line in log_lines() if line["message"] == "looked at it"]
    assert line["request_id"] == "trace-7"
    assert line["user_id"] == str(consultation.client.id)
    assert line["consultation_id"] == str(consultation.id)
    assert logs.current() == {}  # nothing leaks into the next request


@run_async
async def _asgi_get(path: str, headers: list[tuple[bytes, bytes]]):
    from config.asgi import application

    communicator = HttpCommunicator(application, "GET", path, headers=headers)
    return await communicator.get_response(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_the_access_line_names_the_request_its_user_and_its_consultation(log_lines):
    consultation = ActiveConsultationFactory()
    headers = [
        (b"authorization", f"Bearer {access_token(consultation.client)}".encode()),
        (b"x-request-id", b"edge-42"),
        (b"host", b"testserver"),
    ]
    response = _asgi_get(f"/api/v1/consultations/{consultation.id}", headers)
    assert response["status"] == 200
    assert (b"x-request-id", b"edge-42") in response["headers"]
    access = [line for line in log_lines() if line["logger"] == "consult.access"]
    assert access[-1]["request_id"] == "edge-42"
    assert access[-1]["status"] == 200
    assert access[-1]["user_id"] == str(consultation.client.id)
    assert access[-1]["consultation_id"] == str(consultation.id)
    assert access[-1]["path"] == f"/api/v1/consultations/{consultation.id}"


@pytest.mark.django_db(transaction=True)
def test_the_asgi_edge_replaces_an_unsafe_id_and_django_uses_the_same_one(log_lines):
    response = _asgi_get(
        "/api/v1/auth/me", [(b"x-request-id", b"no spaces"), (b"host", b"testserver")]
    )
    ids = [v for k, v in response["headers"] if k.lower() == b"x-request-id"]
    assert len(ids) == 1 and NEW_ID.fullmatch(ids[0].decode())
    access = [line for line in log_lines() if line["logger"] == "consult.access"]
    assert access[-1]["request_id"] == ids[0].decode()


def test_a_users_id_is_never_fetched_just_to_log_it(db, rf):
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import SimpleLazyObject

    calls = []
    request = rf.get("/")
    request.user = SimpleLazyObject(lambda: calls.append(1) or AnonymousUser())
    assert logs._user_id(request) is None
    assert calls == []
    user = ClientFactory.build(id=uuid.uuid4())
    request.user = user
    assert logs._user_id(request) == user.id


@pytest.mark.django_db(transaction=True)
def test_lines_written_for_a_socket_frame_carry_its_user_and_consultation(log_lines, monkeypatch):
    from channels.layers import channel_layers
    from channels.testing import WebsocketCommunicator

    from chat import selectors

    consultation = ActiveConsultationFactory()
    token = access_token(consultation.client)
    joined = selectors.session_joined

    def join_and_log(**kwargs):
        logging.getLogger("chat.selectors").info("joining")
        return joined(**kwargs)

    monkeypatch.setattr(selectors, "session_joined", join_and_log)

    @run_async
    async def join():
        from config.asgi import application

        socket = WebsocketCommunicator(application, f"/ws/?token={token}")
        connected, _ = await socket.connect(timeout=10)
        assert connected
        await socket.send_json_to({"type": "join_session", "session_id": str(consultation.id)})
        assert (await socket.receive_json_from(timeout=10))["type"] == "session_joined"
        await socket.disconnect()

    channel_layers.backends.clear()
    try:
        join()
    finally:
        channel_layers.backends.clear()
        _end_consumer_threads()
    (line,) = [line for line in log_lines() if line["message"] == "joining"]
    assert line["user_id"] == str(consultation.client.id)
    assert line["consultation_id"] == str(consultation.id)


def _end_consumer_threads():
    """The consumer's worker threads end with the test, and their database connections too."""
    import gc
    from concurrent.futures import ThreadPoolExecutor

    from chat import consumers

    consumers._executor.shutdown(wait=True)
    consumers._executor = ThreadPoolExecutor(max_workers=consumers.DB_THREADS)
    gc.collect()


@pytest.mark.parametrize(
    "debug, log_format, shape",
    [("0", None, "json"), ("0", "text", "text"), ("1", None, "text"), ("1", "json", "json")],
)
def test_production_logs_json_unless_told_otherwise(debug, log_format, shape):
    from config.tests.test_deploy import production, run

    env = production(DEBUG=debug, LOG_FORMAT=log_format)
    code = "import logging; logging.getLogger('probe').warning('hello')"
    result = run(["manage.py", "shell", "-c", code], env)
    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "hello" in line]
    if shape == "json":
        assert json.loads(line)["message"] == "hello"
    else:
        assert line.endswith("WARNING probe hello")
