"""GET /api/asyncapi.json: the WebSocket described, true to the code (chat/asyncapi.py)."""

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chat import frames
from chat.asyncapi import SERVER_FRAMES, build_document, client_frame_schema
from chat.frames import FrameError, parse
from chat.testing import _failures, check_frame, frame_problems, frames_checked
from chat.tests.helpers import joined, new_id, run_async

OFFICIAL_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.schema.json")


@pytest.fixture(scope="module")
def document():
    return build_document()


def test_it_serves_an_asyncapi_3_document_that_the_official_schema_accepts(client, settings):
    settings.ALLOWED_HOSTS = ["consult.example.com"]
    response = client.get("/api/asyncapi.json", HTTP_HOST="consult.example.com")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["site"]["host"] == "consult.example.com"
    assert document["channels"]["socket"]["address"] == "/ws/"
    official = json.loads(OFFICIAL_SCHEMA.read_text())
    errors = list(jsonschema.Draft7Validator(official).iter_errors(document))
    assert errors == [], [e.message for e in errors[:3]]


def test_the_official_schema_would_catch_a_broken_document(document):
    official = json.loads(OFFICIAL_SCHEMA.read_text())
    broken = json.loads(json.dumps(document))
    next(iter(broken["operations"].values()))["action"] = "publish"  # AsyncAPI 2's word
    assert not jsonschema.Draft7Validator(official).is_valid(broken)


def test_it_is_public_and_get_only(api):
    assert api.get("/api/asyncapi.json").status_code == 200
    assert api.post("/api/asyncapi.json").status_code == 405


def test_every_frame_type_both_ways_has_a_message_and_an_operation(document):
    messages = document["components"]["messages"]
    assert {name for name in messages if name.startswith("client.")} == {
        f"client.{kind}" for kind in frames.SCHEMAS
    }
    assert {name for name in messages if name.startswith("server.")} == {
        f"server.{kind}" for kind in SERVER_FRAMES
    }
    actions = {}
    for operation in document["operations"].values():
        (ref,) = operation["messages"]
        actions[ref["$ref"].rsplit("/", 1)[1]] = operation["action"]
    assert actions == {
        **{f"client.{kind}": "receive" for kind in frames.SCHEMAS},
        **{f"server.{kind}": "send" for kind in SERVER_FRAMES},
    }
    assert set(document["channels"]["socket"]["messages"]) == set(messages)


def test_the_contract_frames_are_all_described(document):
    contract_server_frames = {
        "authenticated",
        "pong",
        "error",
        "session_joined",
        "message_ack",
        "message",
        "message_status",
        "typing",
        "call_offer",
        "call_answer",
        "ice_candidate",
        "call_end",
        "consultation_requested",
        "consultation_updated",
        "billing_tick",
        "balance_low",
        "presence",
        "booking_updated",
    }
    assert contract_server_frames <= set(SERVER_FRAMES)


def test_the_objects_frames_carry_are_the_rest_apis(document):
    schemas = document["components"]["schemas"]
    consultation = schemas["Consultation"]
    assert {"id", "status", "billed_seconds", "end_reason"} <= set(consultation["properties"])
    # OpenAPI's `nullable` became JSON Schema's null alternative.
    assert consultation["properties"]["started_at"]["type"] == ["string", "null"]
    assert "nullable" not in json.dumps(schemas)
    message = schemas["Message"]
    assert set(message["required"]) >= {"id", "session_id", "body", "status"}


# --- chat/frames.py and the document agree ------------------------------------------------------

# Per checker: values the parser must take, values it must refuse.
VALUES: dict[frames.Checker, tuple[list[Any], list[Any]]] = {
    frames._uuid: ([str(uuid.uuid4())], ["nope", 7, None, ""]),
    frames._optional_uuid: ([str(uuid.uuid4()), None], ["nope", 3]),
    frames._body: (["hi", "x" * 4000], ["", "x" * 4001, 5, None, "a\x00b"]),
    frames._bool: ([True, False], ["true", 1, None]),
    frames._uuid_list: (
        [[str(uuid.uuid4())], [str(uuid.uuid4()) for _ in range(200)]],
        [[], ["nope"], [str(uuid.uuid4()) for _ in range(201)], "x"],
    ),
    frames._sdp: (["v=0", {"type": "offer", "sdp": "v=0"}], ["", 5, None, {"sdp": 5}]),
    frames._candidate: ([None, "candidate:1", {"candidate": "c"}], [5, True, [1]]),
    frames._token: (["a.b.c"], ["", 5, "x" * 4097]),
}


def _valid_frame(kind: str) -> dict:
    required, _optional = frames.SCHEMAS[kind]
    return {"type": kind, **{name: VALUES[check][0][0] for name, check in required.items()}}


def _verdicts(kind: str, frame: dict, validator) -> tuple[bool, bool]:
    try:
        parse(json.dumps(frame))
        parsed = True
    except FrameError:
        parsed = False
    return parsed, validator.is_valid(frame)


@pytest.mark.parametrize("kind", sorted(frames.SCHEMAS))
def test_the_parser_and_the_schema_agree_on_every_field(kind):
    checker = jsonschema.FormatChecker()
    checker.checks("uuid", raises=ValueError)(lambda v: not isinstance(v, str) or uuid.UUID(v))
    validator = jsonschema.Draft7Validator(client_frame_schema(kind), format_checker=checker)
    assert _verdicts(kind, _valid_frame(kind), validator) == (True, True)
    required, optional = frames.SCHEMAS[kind]
    for name, check in {**required, **optional}.items():
        good, bad = VALUES[check]
        for value in good:
            frame = {**_valid_frame(kind), name: value}
            assert _verdicts(kind, frame, validator) == (True, True), (name, value)
        for value in bad:
            frame = {**_valid_frame(kind), name: value}
            assert _verdicts(kind, frame, validator) == (False, False), (name, value)
    for name in required:
        frame = {key: value for key, value in _valid_frame(kind).items() if key != name}
        assert _verdicts(kind, frame, validator) == (False, False), name


def test_every_checker_of_the_parser_has_a_schema_and_test_values():
    used = {
        check
        for required, optional in frames.SCHEMAS.values()
        for check in (required | optional).values()
    }
    assert used <= set(frames.FIELD_SCHEMAS)
    assert used <= set(VALUES)


# --- the hook that checks what the server sends --------------------------------------------------


def test_a_frame_outside_the_document_is_named():
    assert frame_problems({"type": "pong"}) == []
    assert frame_problems({"type": "surprise"}) == [
        "frame type 'surprise' is not in GET /api/asyncapi.json"
    ]
    tick = {
        "type": "billing_tick",
        "session_id": str(uuid.uuid4()),
        "billed_seconds": 10,
        "total_amount": "1.50",
        "balance": 100,
        "remaining_seconds": 3,
    }
    assert frame_problems(tick) == ["total_amount: '1.50' is not of type 'integer'"]
    assert frame_problems({**tick, "session_id": "7"})[0].startswith("session_id: '7'")
    del tick["balance"]
    assert frame_problems({**tick, "total_amount": 1}) == [
        "(frame): 'balance' is a required property"
    ]


def test_the_hook_records_a_frame_the_document_does_not_describe():
    check_frame('{"type": "surprise"}')
    assert len(_failures) == 1
    _failures.clear()  # (this test's own bad frame must not fail it)


@pytest.mark.django_db(transaction=True)
@run_async
async def test_the_frames_of_a_chat_pass_through_the_hook(session, tokens):
    before = frames_checked()
    client = await joined(session.client, tokens["client"], session.id)
    consultant = await joined(session.consultant.user, tokens["consultant"], session.id)
    await client.send(
        {
            "type": "send_message",
            "session_id": str(session.id),
            "client_msg_id": new_id(),
            "body": "hi",
        }
    )
    await client.recv_type("message_ack")
    await consultant.recv_type("message")
    await client.send({"type": "join_session", "session_id": "nope"})
    await client.recv_type("error")
    after = frames_checked()
    for kind in ["session_joined", "message_ack", "message", "error"]:
        assert after.get(kind, 0) > before.get(kind, 0), kind
