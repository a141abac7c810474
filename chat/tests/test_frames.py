"""chat.frames: parsing and checking without a socket."""

import json
import uuid

import pytest

from chat.frames import FrameError, TokenBucket, parse


def test_it_parses_a_send_message_frame():
    sid, mid = uuid.uuid4(), uuid.uuid4()
    frame = parse(
        json.dumps(
            {
                "type": "send_message",
                "session_id": str(sid),
                "client_msg_id": str(mid),
                "body": "hi",
                "ref": "r",
            }
        )
    )
    assert (frame.type, frame.ref) == ("send_message", "r")
    assert frame.fields == {"session_id": sid, "client_msg_id": mid, "body": "hi"}


def test_a_bool_ref_or_a_huge_ref_is_not_echoed():
    with pytest.raises(FrameError) as error:
        parse(json.dumps({"type": "nope", "ref": True}))
    assert error.value.ref is None
    with pytest.raises(FrameError) as error:
        parse(json.dumps({"type": "nope", "ref": "x" * 500}))
    assert error.value.ref is None


def test_deeply_nested_json_is_invalid_not_a_crash():
    with pytest.raises(FrameError) as error:
        parse("[" * 4000 + "]" * 4000)
    assert error.value.code in {"invalid_json", "invalid"}


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "ping", "ref": NaN}',  # not JSON, though Python's json takes it
        '{"type": "ping", "ref": Infinity}',
        '{"type": "ping", "ref": 1e400}',  # a number no double holds
        '{"type": "ping", "ref": "\\ud800"}',  # a lone surrogate: no UTF-8 text can carry it
        "[" * 1025 + "]" * 1025,  # deeper than 1,024 levels
        '{"type": "ping",}',
    ],
)
def test_json_is_parsed_strictly(text):
    with pytest.raises(FrameError) as error:
        parse(text)
    assert error.value.code == "invalid_json"


def test_message_ids_are_deduplicated_and_bounded():
    one = str(uuid.uuid4())
    frame = parse(
        json.dumps({"type": "message_delivered", "session_id": one, "message_ids": [one, one]})
    )
    assert frame.fields["message_ids"] == [uuid.UUID(one)]


def test_the_token_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = TokenBucket(2, lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    now[0] = 0.5
    assert [bucket.take(), bucket.take()] == [True, False]
