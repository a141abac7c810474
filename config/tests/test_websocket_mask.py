"""config.websocket_mask: unmasks exactly as autobahn's own masker, across the pieces a frame
arrives in, and leaves large frames to autobahn's."""

import os
import random

import pytest
from autobahn.websocket import protocol
from autobahn.websocket.xormasker import create_xor_masker as autobahn_masker

from config import websocket_mask
from config.websocket_mask import IntegerXorMasker


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 125, 126, 4097, 65535])
def test_a_frame_unmasks_as_autobahn_unmasks_it_in_any_pieces(size):
    rng = random.Random(size)
    mask, data = os.urandom(4), os.urandom(size)
    assert IntegerXorMasker(mask).process(data) == autobahn_masker(mask, size).process(data)
    for _ in range(20):  # the payload in arbitrary pieces, as reads deliver it
        mine, theirs = IntegerXorMasker(mask), autobahn_masker(mask, size)
        at = 0
        while at < size:
            piece = data[at : at + rng.randint(1, 9)]
            assert mine.process(piece) == theirs.process(piece)
            at += len(piece)
            assert mine.pointer() == theirs.pointer() == at
        mine.reset()
        assert mine.pointer() == 0
        assert mine.process(data) == autobahn_masker(mask, size).process(data)


def test_unmasking_twice_gives_the_data_back_and_nothing_is_empty():
    mask = b"\x01\x02\x03\x04"
    masker = IntegerXorMasker(mask)
    assert masker.process(b"") == b""
    assert masker.process(b"\x00" * 6) == b"\x01\x02\x03\x04\x01\x02"
    assert IntegerXorMasker(mask).process(IntegerXorMasker(mask).process(b"hello")) == b"hello"


def test_installed_for_small_frames_only(monkeypatch):
    monkeypatch.setattr(protocol, "create_xor_masker", protocol.create_xor_masker)
    websocket_mask.install()
    websocket_mask.install()  # (twice: wrapped once)
    assert isinstance(protocol.create_xor_masker(b"abcd", 100), IntegerXorMasker)
    assert isinstance(protocol.create_xor_masker(b"abcd", 65535), IntegerXorMasker)
    large = protocol.create_xor_masker(b"abcd", 65536)
    assert not isinstance(large, IntegerXorMasker)
    assert not isinstance(protocol.create_xor_masker(b"abcd"), IntegerXorMasker)
