"""Peer wire messages (BEP 3, BEP 6 fast extension, BEP 10 extension protocol, BEP 52 hashes)
as frozen values."""

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
    HASH_REQUEST = 21  # BEP 52
    HASHES = 22
    HASH_REJECT = 23


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

    @property
    def supports_v2(self) -> bool:
        return bool(self.reserved[7] & 0x10)  # BEP 52: "the 4th most significant bit in the last byte"


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


@dataclass(frozen=True, slots=True)
class HashRequest:
    """BEP 52: `length` hashes of the layer `base_layer` above the 16 KiB leaves of the file
    whose merkle root is `pieces_root`, from `index`, with `proof_layers` layers of uncles."""

    pieces_root: bytes
    base_layer: int
    index: int
    length: int
    proof_layers: int


@dataclass(frozen=True, slots=True)
class Hashes:
    """BEP 52: the answer to a HashRequest: its fields, then the base hashes and the uncles."""

    pieces_root: bytes
    base_layer: int
    index: int
    length: int
    proof_layers: int
    hashes: bytes  # concatenated 32-byte SHA-256s

    @property
    def request(self) -> HashRequest:
        return HashRequest(self.pieces_root, self.base_layer, self.index, self.length, self.proof_layers)


@dataclass(frozen=True, slots=True)
class HashReject:
    """BEP 52: "the same payload as 'hash request' messages": the peer will not answer it."""

    pieces_root: bytes
    base_layer: int
    index: int
    length: int
    proof_layers: int

    @property
    def request(self) -> HashRequest:
        return HashRequest(self.pieces_root, self.base_layer, self.index, self.length, self.proof_layers)


Message = (
    KeepAlive | Choke | Unchoke | Interested | NotInterested | Have | BitfieldMessage | Request
    | Piece | Cancel | Port | Suggest | HaveAll | HaveNone | Reject | AllowedFast | Extended
    | HashRequest | Hashes | HashReject
)
Event = Handshake | Message
