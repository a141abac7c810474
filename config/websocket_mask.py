"""autobahn's unmasking of the frames clients send, for the sizes a chat sends, in one integer XOR
(`python -m config.serve` installs it).

Every frame a client sends is masked (RFC 6455 5.3): XORed with 4 random bytes repeated. autobahn
makes a masker per frame; its native one (NVX, CFFI) costs about 7 us to make (a C object, a
buffer, a finalizer) and 2.5 us to run on a chat frame: 4-5 % of daphne's samples at 2,000 chat
messages a second (bench/CHAT.md). Here a frame under `NATIVE_FROM` bytes is unmasked as one
integer XOR of the payload and the repeated mask (Python's big integers, in C): about a third of
that in all. Larger frames (a limit daphne sets at 1 MiB) keep the native masker, faster there.
"""

from __future__ import annotations

NATIVE_FROM = 64 * 1024


class IntegerXorMasker:
    """autobahn's masker interface (`pointer`, `reset`, `process`): `process` unmasks the next
    bytes of the frame, continuing the mask where the previous call stopped."""

    __slots__ = ("_mask", "_pointer")

    def __init__(self, mask: bytes) -> None:
        self._mask = bytes(mask)
        self._pointer = 0

    def pointer(self) -> int:
        return self._pointer

    def reset(self) -> None:
        self._pointer = 0

    def process(self, data: bytes) -> bytes:
        size = len(data)
        shift = self._pointer & 3
        mask = self._mask[shift:] + self._mask[:shift] if shift else self._mask
        self._pointer += size
        key = (mask * ((size >> 2) + 1))[:size]
        return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(
            size, "little"
        )


def install() -> None:
    """autobahn's WebSocket protocol makes its maskers here: this one for frames under
    `NATIVE_FROM` bytes, its own otherwise."""
    from autobahn.websocket import protocol

    native = protocol.create_xor_masker
    if getattr(native, "integer_below", None):
        return

    def create_xor_masker(mask, length=None):
        if length is not None and length < NATIVE_FROM:
            return IntegerXorMasker(mask)
        return native(mask, length)

    create_xor_masker.integer_below = NATIVE_FROM  # type: ignore[attr-defined]
    protocol.create_xor_masker = create_xor_masker
