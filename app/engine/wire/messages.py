"""Peer wire messages (BEP 3, BEP 6 fast extension, BEP 10 extension protocol) as frozen values."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

PROTOCOL = b"BitTorrent protocol"
HANDSHAKE_LENGTH = 49 + len(PROTOCOL)


class MessageId(IntEnum):
    CHOKE = 0
    UNCHOKE = 1
    INTERESTED = 2
    NOT_INTERESTED = 3
    HAVE = 4
    BITFIELD = 5
    REQUEST = 6
    PIECE = 7
    CANCEL = 8
    PORT = 9
    SUGGEST = 13  # BEP 6
    HAVE_ALL = 14
    HAVE_NONE = 15
    REJECT = 16
    ALLOWED_FAST = 17
    EXTENDED = 20  # BEP 10


@dataclass(frozen=True, slots=True)
class Handshake:
    reserved: bytes  # 8 bytes, kept as received: extension bits live here
    info_hash: bytes
    peer_id: bytes

    @property
    def supports_extensions(self) -> bool:
        return bool(self.reserved[5] & 0x10)  # BEP 10

    @property
    def supports_fast(self) -> bool:
        return bool(self.reserved[7] & 0x04)  # BEP 6

    @property
    def supports_dht(self) -> bool:
        return bool(self.reserved[7] & 0x01)  # BEP 5


@dataclass(frozen=True, slots=True)
class KeepAlive:
    pass


@dataclass(frozen=True, slots=True)
class Choke:
    pass


@dataclass(frozen=True, slots=True)
class Unchoke:
    pass


@dataclass(frozen=True, slots=True)
class Interested:
    pass


@dataclass(frozen=True, slots=True)
class NotInterested:
    pass


@dataclass(frozen=True, slots=True)
class Have:
    index: int


@dataclass(frozen=True, slots=True)
class BitfieldMessage:
    data: bytes


@dataclass(frozen=True, slots=True)
class Request:
    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class Piece:
    """`data` may be a memoryview into the decoder's buffer: valid until the next feed."""

    index: int
    begin: int
    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class Cancel:
    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class Port:
    port: int


@dataclass(frozen=True, slots=True)
class Suggest:
    index: int


@dataclass(frozen=True, slots=True)
class HaveAll:
    pass


@dataclass(frozen=True, slots=True)
class HaveNone:
    pass


@dataclass(frozen=True, slots=True)
class Reject:
    index: int
    begin: int
    length: int


@dataclass(frozen=True, slots=True)
class AllowedFast:
    index: int


@dataclass(frozen=True, slots=True)
class Extended:
    ext_id: int
    payload: bytes


Message = (
    KeepAlive | Choke | Unchoke | Interested | NotInterested | Have | BitfieldMessage | Request
    | Piece | Cancel | Port | Suggest | HaveAll | HaveNone | Reject | AllowedFast | Extended
)
Event = Handshake | Message
