"""Sans-I/O uTP packet codec (BEP 29): the 20-byte header, its extension chain, the SACK bitmask.

Sequence numbers are 16 bits and timestamps 32 bits; both wrap, so every comparison between
them goes through `seq_less` / `u32_less` (the half-range rule, as in TCP).
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import NamedTuple

from app.engine.errors import RemoteProtocolError

VERSION = 1
HEADER = struct.Struct(">BBHIIIHH")  # BEP 29: type|ver, extension, connection_id, ts, ts_diff, wnd, seq, ack
HEADER_SIZE = HEADER.size
PREFIX = struct.Struct(">BBHIII")  # the header up to wnd_size: what every packet of one burst shares
SEQ_ACK = struct.Struct(">HH")  # and the rest of it
SEQ_MASK = 0xFFFF
U32_MASK = 0xFFFFFFFF
EXT_NONE = 0
EXT_SACK = 1  # BEP 29: the only extension it defines; others are skipped by their length
MAX_SACK_BYTES = 128  # a longer bitmask than this is cut: 1024 packets past ack_nr + 1


class UtpError(RemoteProtocolError):
    """A datagram is not a well-formed uTP packet."""


class PacketType(IntEnum):
    """BEP 29 packet types (the high nibble of the first byte)."""

    DATA = 0
    FIN = 1
    STATE = 2
    RESET = 3
    SYN = 4


class Packet(NamedTuple):
    """One uTP packet. `sack` is the selective-ACK bitmask (empty when absent).

    Immutable like our frozen dataclasses, but a tuple: one is built for every datagram, and a
    frozen dataclass of nine fields costs four times as much to build.
    """

    type: PacketType
    connection_id: int
    timestamp: int
    timestamp_difference: int
    wnd_size: int
    seq_nr: int
    ack_nr: int
    sack: bytes = b""
    payload: bytes = b""


_TYPES = tuple(PacketType)  # by number: quicker than PacketType(number)


def looks_like_utp(data: bytes) -> bool:
    """True for a datagram a shared UDP port should hand to uTP (version 1, type 0..4)."""
    return len(data) >= HEADER_SIZE and data[0] & 0x0F == VERSION and data[0] >> 4 <= PacketType.SYN


def decode_packet(data: bytes) -> Packet:
    """Parse one datagram; raise UtpError for anything BEP 29 does not describe."""
    if len(data) < HEADER_SIZE:
        raise UtpError(f"a uTP packet of {len(data)} bytes is shorter than its header")
    type_ver, extension, conn_id, ts, ts_diff, wnd, seq, ack = HEADER.unpack_from(data)
    if type_ver & 0x0F != VERSION:
        raise UtpError(f"uTP version {type_ver & 0x0F} is not supported")
    if type_ver >> 4 > PacketType.SYN:
        raise UtpError(f"uTP packet type {type_ver >> 4} is unknown")
    sack, offset = _extensions(data, extension)
    return Packet(_TYPES[type_ver >> 4], conn_id, ts, ts_diff, wnd, seq, ack, sack, bytes(data[offset:]))


def _extensions(data: bytes, extension: int) -> tuple[bytes, int]:
    """Walk the extension chain (BEP 29: type of the next, length, body); keep the SACK."""
    offset = HEADER_SIZE
    sack = b""
    while extension != EXT_NONE:
        if offset + 2 > len(data):
            raise UtpError("a uTP extension header runs past the end of the packet")
        following, length = data[offset], data[offset + 1]
        offset += 2
        if offset + length > len(data):
            raise UtpError(f"a uTP extension of {length} bytes runs past the end of the packet")
        if extension == EXT_SACK:
            sack = bytes(data[offset : offset + min(length, MAX_SACK_BYTES)])
        offset += length
        extension = following
    return sack, offset


def encode_packet(packet: Packet) -> bytes:
    return encode_header(
        packet.type,
        packet.connection_id,
        packet.timestamp,
        packet.timestamp_difference,
        packet.wnd_size,
        packet.seq_nr,
        packet.ack_nr,
        packet.sack,
    ) + packet.payload


def encode_header(
    kind: PacketType, conn_id: int, ts: int, ts_diff: int, wnd: int, seq: int, ack: int, sack: bytes = b""
) -> bytes:
    """The header (and SACK extension, if any) of a packet: the hot path's encoder."""
    header = HEADER.pack(
        kind << 4 | VERSION,
        EXT_SACK if sack else EXT_NONE,
        conn_id & SEQ_MASK,
        ts & U32_MASK,
        ts_diff & U32_MASK,
        min(wnd, U32_MASK),
        seq & SEQ_MASK,
        ack & SEQ_MASK,
    )
    return header + bytes((EXT_NONE, len(sack))) + sack if sack else header


def encode_prefix(kind: PacketType, conn_id: int, ts: int, ts_diff: int, wnd: int) -> bytes:
    """The first 16 bytes of a header without extensions; `+ SEQ_ACK.pack(seq, ack)` completes it.
    A burst of data packets shares them, so each packet packs only its sequence number."""
    return PREFIX.pack(kind << 4 | VERSION, EXT_NONE, conn_id & SEQ_MASK, ts & U32_MASK, ts_diff & U32_MASK, min(wnd, U32_MASK))


def sack_mask(ack_nr: int, received: set[int] | dict[int, object], highest: int) -> bytes:
    """BEP 29 SACK: bit i of byte j (least significant first) says ack_nr + 2 + 8j + i arrived.

    The mask covers ack_nr + 2 .. `highest`, in whole 32-bit words, at most MAX_SACK_BYTES.
    """
    span = (highest - ack_nr - 1) & SEQ_MASK
    size = min(MAX_SACK_BYTES, max(4, (span + 31) // 32 * 4))
    mask = bytearray(size)
    for seq in received:
        bit = (seq - ack_nr - 2) & SEQ_MASK
        if bit < size * 8:
            mask[bit >> 3] |= 1 << (bit & 7)
    return bytes(mask)


def sacked(ack_nr: int, mask: bytes) -> list[int]:
    """The sequence numbers a SACK bitmask says have arrived, lowest first."""
    return [(ack_nr + offset) & SEQ_MASK for offset in sack_offsets(mask)]


def sack_offsets(mask: bytes) -> list[int]:
    """How far past ack_nr each packet a SACK bitmask names lies (2 for its first bit), in order."""
    return [2 + (index << 3) + bit for index, byte in enumerate(mask) if byte for bit in range(8) if byte >> bit & 1]


def seq_less(a: int, b: int) -> bool:
    """a < b in 16-bit sequence space (true when b is at most half the space ahead)."""
    return 0 < (b - a) & SEQ_MASK < 0x8000


def u32_less(a: int, b: int) -> bool:
    """a < b for wrapping 32-bit microsecond timestamps."""
    return 0 < (b - a) & U32_MASK < 0x80000000
