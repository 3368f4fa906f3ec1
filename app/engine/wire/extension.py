"""Extension protocol payloads (BEP 10) and two extensions: ut_metadata (BEP 9), ut_pex (BEP 11).

Sans-I/O: every function takes or returns the *payload* of an ``Extended`` wire message
(the bytes after its extended-message id). Parsers raise RemoteProtocolError on garbage;
encoders raise LocalProtocolError when asked to send something the protocol forbids.

Extension handshake (extended message id 0, ``EXTENSION_HANDSHAKE_ID``):
    ExtensionHandshake(m, v, p, reqq, yourip, metadata_size)
    encode_extension_handshake(handshake) -> bytes
    parse_extension_handshake(payload) -> ExtensionHandshake
        unknown keys and wrongly typed fields are ignored, field by field.
    handshake.ext_id(name) -> int | None: the id to send that extension's messages with.

ut_metadata (the info dictionary, in METADATA_PIECE pieces, MAX_METADATA_SIZE at most):
    MetadataRequest(piece) | MetadataData(piece, total_size, data) | MetadataReject(piece)
    encode_metadata_message(message) -> bytes
    parse_metadata_message(payload) -> MetadataMessage | None  (None: unknown msg_type, ignore)
    metadata_reply(raw_info | None, request) -> MetadataData | MetadataReject  (serving ours)
    MetadataAssembler(info_hash, size): missing_pieces(), add_piece(index, data) -> bytes | None
        pieces may come from several peers; check each MetadataData.total_size == size.

ut_pex:
    PexMessage(added, added_flags, dropped, added6, added6_flags, dropped6); PEX_* flag bits
    encode_pex(message) -> bytes; parse_pex(payload) -> PexMessage
    PexState().diff(current_peers, now, flags=None) -> PexMessage | None  (one per connection)
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from app.engine.bencode import decode, decode_prefix, encode
from app.engine.errors import BencodeError, LocalProtocolError, RemoteProtocolError

Address = tuple[str, int]  # (IPv4 or IPv6 text, port)

EXTENSION_HANDSHAKE_ID = 0  # BEP 10: extended message id 0 is the handshake
UT_METADATA = "ut_metadata"
UT_PEX = "ut_pex"
# The ids we ask peers to use when they send us these extensions' messages.
LOCAL_EXTENSION_IDS: Mapping[str, int] = {UT_METADATA: 1, UT_PEX: 2}

METADATA_PIECE = 16384  # BEP 9: "the metadata is handled in blocks of 16KiB (16384 Bytes)"
MAX_METADATA_SIZE = 8 * 1024 * 1024  # larger info dictionaries are absurd: refuse them

# BEP 11 added.f bits.
PEX_PREFERS_ENCRYPTION = 0x01
PEX_SEED = 0x02
PEX_UTP = 0x04
PEX_HOLEPUNCH = 0x08
PEX_REACHABLE = 0x10  # we connected out to it: it accepts connections
PEX_INTERVAL = 60.0  # BEP 11: at most one message a minute
MAX_PEX_ADDED = 50  # BEP 11: at most 50 added and 50 dropped peers (IPv4 and IPv6 together)
MAX_PEX_DROPPED = 50


def _bencoded_dict(payload: bytes, what: str) -> dict[bytes, Any]:
    try:
        value = decode(payload, sorted_keys=False)
    except BencodeError as error:
        raise RemoteProtocolError(f"the peer's {what} is not valid bencode: {error}") from error
    if not isinstance(value, dict):
        raise RemoteProtocolError(f"the peer's {what} is not a dictionary")
    return value


def _int_in(value: Any, low: int, high: int) -> int | None:
    return value if isinstance(value, int) and low <= value <= high else None


# Extension handshake ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExtensionHandshake:
    # BEP 10: extension name -> the id the sender wants to receive it with; 0 disables it.
    m: dict[str, int] = field(default_factory=dict)
    v: str = ""  # client name and version
    p: int | None = None  # the sender's listen port
    reqq: int | None = None  # how many outstanding requests the sender accepts
    yourip: bytes | None = None  # the receiver's address as the sender sees it (4 or 16 bytes)
    metadata_size: int | None = None  # BEP 9: the size of the info dictionary in bytes

    def ext_id(self, name: str) -> int | None:
        """The id to send ``name`` messages with, or None if the sender does not take them."""
        return self.m.get(name) or None


def encode_extension_handshake(handshake: ExtensionHandshake) -> bytes:
    message: dict[bytes, Any] = {
        b"m": {name.encode(): ext_id for name, ext_id in handshake.m.items()}
    }
    if handshake.v:
        message[b"v"] = handshake.v
    optional = {
        b"p": handshake.p,
        b"reqq": handshake.reqq,
        b"yourip": handshake.yourip,
        b"metadata_size": handshake.metadata_size,
    }
    message.update((key, value) for key, value in optional.items() if value is not None)
    return encode(message)


def parse_extension_handshake(payload: bytes) -> ExtensionHandshake:
    message = _bencoded_dict(payload, "extension handshake")
    fields = {
        name: parsed
        for key, (name, parse) in _HANDSHAKE_FIELDS.items()
        if key in message and (parsed := parse(message[key])) is not None
    }
    return ExtensionHandshake(**fields)


def _extension_ids(value: Any) -> dict[str, int] | None:
    if not isinstance(value, dict):
        return None
    ids = {}
    for name, ext_id in value.items():
        # BEP 10: ids are one byte on the wire.
        if _int_in(ext_id, 0, 255) is not None:
            ids[name.decode("utf-8", "replace")] = ext_id
    return ids


def _client_name(value: Any) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else None


def _yourip(value: Any) -> bytes | None:
    return value if isinstance(value, bytes) and len(value) in (4, 16) else None


_HANDSHAKE_FIELDS: dict[bytes, tuple[str, Callable[[Any], Any]]] = {
    b"m": ("m", _extension_ids),
    b"v": ("v", _client_name),
    b"p": ("p", lambda value: _int_in(value, 1, 65535)),
    b"reqq": ("reqq", lambda value: _int_in(value, 1, 2**31 - 1)),
    b"yourip": ("yourip", _yourip),
    # An absurd size is dropped: that peer cannot give us the metadata.
    b"metadata_size": ("metadata_size", lambda value: _int_in(value, 1, MAX_METADATA_SIZE)),
}


# ut_metadata ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetadataRequest:
    piece: int


@dataclass(frozen=True, slots=True)
class MetadataData:
    piece: int
    total_size: int
    data: bytes


@dataclass(frozen=True, slots=True)
class MetadataReject:
    piece: int


MetadataMessage = MetadataRequest | MetadataData | MetadataReject
_REQUEST, _DATA, _REJECT = 0, 1, 2  # BEP 9 msg_type values


def metadata_piece_count(size: int) -> int:
    return -(-size // METADATA_PIECE)


def metadata_piece_length(size: int, piece: int) -> int:
    """The length of piece ``piece`` of metadata of ``size`` bytes; only the last is short."""
    if not 0 <= piece < metadata_piece_count(size):
        raise RemoteProtocolError(f"metadata piece {piece} does not exist")
    return min(METADATA_PIECE, size - piece * METADATA_PIECE)


def encode_metadata_message(message: MetadataMessage) -> bytes:
    if isinstance(message, MetadataData):
        header = {b"msg_type": _DATA, b"piece": message.piece, b"total_size": message.total_size}
        return encode(header) + message.data
    msg_type = _REQUEST if isinstance(message, MetadataRequest) else _REJECT
    return encode({b"msg_type": msg_type, b"piece": message.piece})


def parse_metadata_message(payload: bytes) -> MetadataMessage | None:
    """The ut_metadata message in ``payload``; None for a msg_type BEP 9 says to ignore."""
    try:
        header, end = decode_prefix(payload, sorted_keys=False)
    except BencodeError as error:
        raise RemoteProtocolError(f"the peer's ut_metadata message is bad: {error}") from error
    if not isinstance(header, dict):
        raise RemoteProtocolError("the peer's ut_metadata message is not a dictionary")
    msg_type = header.get(b"msg_type")
    piece = _int_in(header.get(b"piece"), 0, metadata_piece_count(MAX_METADATA_SIZE) - 1)
    if not isinstance(msg_type, int) or piece is None:
        raise RemoteProtocolError("the peer's ut_metadata message lacks a message type or piece")
    parse = _METADATA_PARSERS.get(msg_type)
    # BEP 9: "An unrecognized message ID MUST be ignored".
    return None if parse is None else parse(header, piece, payload[end:])


def _parse_request(header: dict[bytes, Any], piece: int, rest: bytes) -> MetadataMessage:
    _no_trailing_bytes(rest)
    return MetadataRequest(piece)


def _parse_reject(header: dict[bytes, Any], piece: int, rest: bytes) -> MetadataMessage:
    _no_trailing_bytes(rest)
    return MetadataReject(piece)


def _parse_data(header: dict[bytes, Any], piece: int, rest: bytes) -> MetadataMessage:
    total_size = _int_in(header.get(b"total_size"), 1, MAX_METADATA_SIZE)
    if total_size is None:
        raise RemoteProtocolError("the peer's metadata size is missing or absurd")
    if len(rest) != metadata_piece_length(total_size, piece):
        raise RemoteProtocolError(f"metadata piece {piece} has the wrong length")
    return MetadataData(piece, total_size, bytes(rest))


def _no_trailing_bytes(rest: bytes) -> None:
    if rest:
        raise RemoteProtocolError("the peer's ut_metadata message has unexpected trailing data")


_METADATA_PARSERS: dict[int, Callable[[dict[bytes, Any], int, bytes], MetadataMessage]] = {
    _REQUEST: _parse_request,
    _DATA: _parse_data,
    _REJECT: _parse_reject,
}


def metadata_reply(raw_info: bytes | None, request: MetadataRequest) -> MetadataMessage:
    """Our answer to a request: the piece of ``raw_info``, or a reject if we cannot send it."""
    if raw_info is None or request.piece >= metadata_piece_count(len(raw_info)):
        return MetadataReject(request.piece)
    start = request.piece * METADATA_PIECE
    return MetadataData(request.piece, len(raw_info), raw_info[start : start + METADATA_PIECE])


class MetadataAssembler:
    """Collects the pieces of one torrent's info dictionary, from any number of peers.

    BEP 9: the whole is used only once its SHA-1 equals the info-hash (BEP 52: or, for a
    v2-only torrent, its SHA-256 truncated to 20 bytes does). On a mismatch every
    piece is thrown away (we cannot tell which peer lied) and fetching starts over.
    """

    def __init__(self, info_hash: bytes, size: int) -> None:
        if not 0 < size <= MAX_METADATA_SIZE:
            raise RemoteProtocolError(f"a metadata size of {size} bytes is absurd")
        self.info_hash = info_hash
        self.size = size
        self._pieces: list[bytes | None] = [None] * metadata_piece_count(size)

    def missing_pieces(self) -> list[int]:
        return [index for index, piece in enumerate(self._pieces) if piece is None]

    def add_piece(self, index: int, data: bytes) -> bytes | None:
        """Store one piece; return the info dictionary once it is whole and verified."""
        if len(data) != metadata_piece_length(self.size, index):
            raise RemoteProtocolError(f"metadata piece {index} has the wrong length")
        self._pieces[index] = bytes(data)
        pieces = [piece for piece in self._pieces if piece is not None]
        if len(pieces) < len(self._pieces):
            return None
        whole = b"".join(pieces)
        if self.info_hash not in (hashlib.sha1(whole).digest(), hashlib.sha256(whole).digest()[:20]):
            self._pieces = [None] * len(self._pieces)
            raise RemoteProtocolError("the metadata from peers does not match the info-hash")
        return whole


# ut_pex ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PexMessage:
    """One ut_pex message (BEP 11); hosts are IP addresses as ``str(ipaddress.ip_address())``.

    Each flags string holds one byte per added peer (PEX_* bits); parsed messages always
    have them, and a message to send may leave them empty.
    """

    added: tuple[Address, ...] = ()
    added_flags: bytes = b""
    dropped: tuple[Address, ...] = ()
    added6: tuple[Address, ...] = ()
    added6_flags: bytes = b""
    dropped6: tuple[Address, ...] = ()


_IP_LENGTH = {4: 4, 6: 16}


def encode_pex(message: PexMessage) -> bytes:
    flagged = ((message.added, message.added_flags), (message.added6, message.added6_flags))
    if any(flags and len(flags) != len(peers) for peers, flags in flagged):
        raise LocalProtocolError("a PEX message needs no flags or one flags byte per added peer")
    fields = {
        b"added": _compact(message.added, 4),
        b"added.f": message.added_flags,
        b"dropped": _compact(message.dropped, 4),
        b"added6": _compact(message.added6, 6),
        b"added6.f": message.added6_flags,
        b"dropped6": _compact(message.dropped6, 6),
    }
    return encode({key: value for key, value in fields.items() if value})


def _compact(peers: Iterable[Address], version: int) -> bytes:
    out = bytearray()
    for host, port in peers:
        address = _ip(host)
        if address is None or address.version != version or not 0 < port < 65536:
            raise LocalProtocolError(f"{host}:{port} cannot go in an IPv{version} PEX list")
        out += address.packed + port.to_bytes(2, "big")
    return bytes(out)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse_pex(payload: bytes) -> PexMessage:
    """The peers in a ut_pex message; entries with port 0 are dropped, bad flags are zeroed."""
    message = _bencoded_dict(payload, "PEX message")
    added, added_flags = _flagged(message, b"added", 4)
    added6, added6_flags = _flagged(message, b"added6", 6)
    return PexMessage(
        added=added,
        added_flags=added_flags,
        dropped=tuple(_uncompact(message, b"dropped", 4)),
        added6=added6,
        added6_flags=added6_flags,
        dropped6=tuple(_uncompact(message, b"dropped6", 6)),
    )


def _flagged(
    message: dict[bytes, Any], key: bytes, version: int
) -> tuple[tuple[Address, ...], bytes]:
    peers = _uncompact(message, key, version, keep_port_zero=True)
    flags = message.get(key + b".f")
    if not isinstance(flags, bytes) or len(flags) != len(peers):
        flags = bytes(len(peers))  # BEP 11: added.f is optional
    kept = [(peer, flag) for peer, flag in zip(peers, flags) if peer[1]]
    return tuple(peer for peer, _ in kept), bytes(flag for _, flag in kept)


def _uncompact(
    message: dict[bytes, Any], key: bytes, version: int, *, keep_port_zero: bool = False
) -> list[Address]:
    data = message.get(key)
    if not isinstance(data, bytes):
        return []
    size = _IP_LENGTH[version] + 2
    if len(data) % size:
        raise RemoteProtocolError(f"the peer's PEX {key.decode()!r} list has a broken entry")
    peers = []
    for start in range(0, len(data), size):
        host = str(ipaddress.ip_address(data[start : start + size - 2]))
        port = int.from_bytes(data[start + size - 2 : start + size], "big")
        if port or keep_port_zero:
            peers.append((host, port))
    return peers


class PexState:
    """What one connection's peer has been told; decides our next ut_pex message (BEP 11).

    Pure: the caller passes the peers it would advertise now (connected peers with a known
    listen address, hosts written as ``str(ipaddress.ip_address(...))``; anything else is
    skipped) and the time; at most one message a minute comes out, with at most 50 added
    and 50 dropped peers. Whatever did not fit goes in a later message.
    """

    def __init__(self) -> None:
        self._told: set[Address] = set()
        self._last_sent: float | None = None

    @property
    def next_send_time(self) -> float | None:
        """When ``diff`` may next return a message (None: right away)."""
        return None if self._last_sent is None else self._last_sent + PEX_INTERVAL

    def diff(
        self, current_peers: Set[Address], now: float, flags: Mapping[Address, int] | None = None
    ) -> PexMessage | None:
        """The message to send now, or None (too soon, or nothing changed)."""
        if self._last_sent is not None and now < self._last_sent + PEX_INTERVAL:
            return None
        current = {peer for peer in current_peers if _ip(peer[0]) is not None}
        added = sorted(current - self._told)[:MAX_PEX_ADDED]
        dropped = sorted(self._told - current)[:MAX_PEX_DROPPED]
        if not added and not dropped:
            return None
        self._told.update(added)
        self._told.difference_update(dropped)
        self._last_sent = now
        return _pex_message(added, dropped, flags or {})


def _pex_message(
    added: list[Address], dropped: list[Address], flags: Mapping[Address, int]
) -> PexMessage:
    added4 = [peer for peer in added if _is_ipv4(peer)]
    added6 = [peer for peer in added if not _is_ipv4(peer)]
    return PexMessage(
        added=tuple(added4),
        added_flags=bytes(flags.get(peer, 0) for peer in added4),
        dropped=tuple(peer for peer in dropped if _is_ipv4(peer)),
        added6=tuple(added6),
        added6_flags=bytes(flags.get(peer, 0) for peer in added6),
        dropped6=tuple(peer for peer in dropped if not _is_ipv4(peer)),
    )


def _is_ipv4(peer: Address) -> bool:
    address = _ip(peer[0])
    return address is not None and address.version == 4
