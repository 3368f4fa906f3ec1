"""A fixed-size set of piece indices stored as BitTorrent's bitfield bytes (BEP 3)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from app.engine.errors import RemoteProtocolError

_POPCOUNT = bytes(bin(i).count("1") for i in range(256))


class Bitfield:
    """Bits numbered from the high bit of the first byte, as on the wire."""

    __slots__ = ("_bits", "_length", "_count")

    def __init__(self, length: int) -> None:
        self._length = length
        self._bits = bytearray((length + 7) // 8)
        self._count = 0

    @classmethod
    def from_bytes(cls, data: bytes, length: int) -> Bitfield:
        """Parse a peer's bitfield; BEP 3: wrong size or set spare bits are an error."""
        bf = cls(length)
        if len(data) != len(bf._bits):
            raise RemoteProtocolError(
                f"bitfield is {len(data)} bytes, expected {len(bf._bits)} for {length} pieces"
            )
        spare = (8 - length % 8) % 8
        if spare and data[-1] & ((1 << spare) - 1):
            raise RemoteProtocolError("bitfield has spare bits set")
        bf._bits[:] = data
        bf._count = sum(_POPCOUNT[b] for b in data)
        return bf

    @classmethod
    def full(cls, length: int) -> Bitfield:
        """Every bit set, built bytewise: a have-all for 200,000 pieces is one allocation."""
        bf = cls(length)
        whole, spare = divmod(length, 8)
        bf._bits[:whole] = b"\xff" * whole
        if spare:
            bf._bits[whole] = (0xFF << (8 - spare)) & 0xFF
        bf._count = length
        return bf

    def __len__(self) -> int:
        return self._length

    def __contains__(self, index: object) -> bool:
        # No isinstance call: the picker asks this per piece it looks at; a non-int fails
        # the comparison or the shift with TypeError instead.
        try:
            if not 0 <= index < self._length:  # type: ignore[operator]
                return False
            return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))  # type: ignore[operator]
        except TypeError:
            return False

    def __iter__(self) -> Iterator[int]:
        """The indices that are set, in increasing order."""
        for byte_index, byte in enumerate(self._bits):
            if byte:
                base = byte_index << 3
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        yield base + bit

    def add(self, index: int) -> bool:
        """Set a bit; returns True if it was not set before."""
        if not 0 <= index < self._length:
            raise IndexError(index)
        mask = 0x80 >> (index & 7)
        if self._bits[index >> 3] & mask:
            return False
        self._bits[index >> 3] |= mask
        self._count += 1
        return True

    def discard(self, index: int) -> bool:
        """Clear a bit; returns True if it was set before."""
        if index not in self:
            return False
        self._bits[index >> 3] &= ~(0x80 >> (index & 7)) & 0xFF
        self._count -= 1
        return True

    def update(self, indices: Iterable[int]) -> None:
        """`add` each index, inline: a check hands over 200,000 pieces at once."""
        bits, length, added = self._bits, self._length, 0
        for index in indices:
            if not 0 <= index < length:
                raise IndexError(index)
            mask = 0x80 >> (index & 7)
            if not bits[index >> 3] & mask:
                bits[index >> 3] |= mask
                added += 1
        self._count += added

    @property
    def count(self) -> int:
        return self._count

    def is_complete(self) -> bool:
        return self._count == self._length

    def to_bytes(self) -> bytes:
        return bytes(self._bits)

    def copy(self) -> Bitfield:
        bf = Bitfield(self._length)
        bf._bits[:] = self._bits
        bf._count = self._count
        return bf

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Bitfield)
            and other._length == self._length
            and other._bits == self._bits
        )

    def __repr__(self) -> str:
        return f"Bitfield({self._count}/{self._length})"
