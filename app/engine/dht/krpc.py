"""KRPC (BEP 5): the mainline DHT's bencoded messages over UDP, sans-I/O.

`decode(datagram)` gives one frozen message or raises `KrpcError`; `encode(message)` gives
the datagram. A KRPC response does not say which query it answers, so every response
decodes to one `Response` carrying whatever of `nodes`, `values` and `token` it holds; the
caller knows from the transaction id what it asked.

BEP 32 (IPv6): compact node info is 26 bytes in `nodes` (IPv4) and 38 in `nodes6` (IPv6);
compact peer info 6 or 18 bytes by the peer's family; a find_node or get_peers query may say
which it `want`s (b"n4", b"n6").
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from app.engine import bencode
from app.engine.errors import BencodeError, LocalProtocolError, RemoteProtocolError

Address = tuple[str, int]

ID_LENGTH = 20
NODE_LENGTH = ID_LENGTH + 6  # BEP 5: "Compact node info": 20-byte id, then compact IP/port
NODE6_LENGTH = ID_LENGTH + 18  # BEP 32: the same with a 16-byte IPv6 address
PEER_LENGTH = 6  # BEP 5: "Compact IP-address/port info": 4-byte IPv4, 2-byte port
IPV6_PEER_LENGTH = 18  # BEP 32: 16-byte IPv6, 2-byte port
WANT_TOKENS = {socket.AF_INET: b"n4", socket.AF_INET6: b"n6"}  # BEP 32 `want`
_IP_VERSIONS = {PEER_LENGTH: 4, IPV6_PEER_LENGTH: 6}
MAX_TRANSACTION_ID = 32  # the id is echoed back: a long one only serves amplification


class ErrorCode(IntEnum):
    """BEP 5: the error codes of a KRPC error message."""

    GENERIC = 201
    SERVER = 202
    PROTOCOL = 203
    METHOD_UNKNOWN = 204


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A DHT node: its 160-bit id and the UDP address it answers on."""

    node_id: bytes
    host: str
    port: int

    @property
    def address(self) -> Address:
        return (self.host, self.port)


@dataclass(frozen=True, slots=True)
class Ping:
    transaction_id: bytes
    sender_id: bytes
    version: bytes | None = None
    ip: Address | None = None


@dataclass(frozen=True, slots=True)
class FindNode:
    transaction_id: bytes
    sender_id: bytes
    target: bytes
    version: bytes | None = None
    ip: Address | None = None
    want: tuple[bytes, ...] = ()  # BEP 32: b"n4", b"n6"; empty: the family the query came over


@dataclass(frozen=True, slots=True)
class GetPeers:
    transaction_id: bytes
    sender_id: bytes
    info_hash: bytes
    version: bytes | None = None
    ip: Address | None = None
    want: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class AnnouncePeer:
    """BEP 5: with `implied_port` the peer's port is the UDP source port, not `port`."""

    transaction_id: bytes
    sender_id: bytes
    info_hash: bytes
    port: int
    token: bytes
    implied_port: bool = False
    version: bytes | None = None
    ip: Address | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """Any response: ping and announce_peer carry only the id, find_node adds `nodes`,
    get_peers adds a `token` and `values` or `nodes`. BEP 42: `ip` is the requester's address
    as the responder saw it. BEP 32: IPv6 nodes come in `nodes6`."""

    transaction_id: bytes
    sender_id: bytes
    nodes: tuple[NodeInfo, ...] = ()
    values: tuple[Address, ...] = ()
    token: bytes | None = None
    version: bytes | None = None
    ip: Address | None = None
    nodes6: tuple[NodeInfo, ...] = ()

    def nodes_of(self, family: int) -> tuple[NodeInfo, ...]:
        return self.nodes6 if family == socket.AF_INET6 else self.nodes


@dataclass(frozen=True, slots=True)
class Error:
    transaction_id: bytes
    code: int
    message: str
    version: bytes | None = None
    ip: Address | None = None


Query = Ping | FindNode | GetPeers | AnnouncePeer
Message = Ping | FindNode | GetPeers | AnnouncePeer | Response | Error


class KrpcError(RemoteProtocolError):
    """A datagram that is not a valid KRPC message; `reply` is the error to send back, if any.

    A malformed query whose transaction id could be read gets a reply (BEP 5: 203 protocol
    error, 204 method unknown); anything else is dropped silently.
    """

    def __init__(self, message: str, reply: Error | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class TransactionIds:
    """Two-byte transaction ids in sequence (BEP 5: "typically 2 characters are enough")."""

    def __init__(self, start: int = 0) -> None:
        self._next = start % 0x10000

    def next(self) -> bytes:
        value = self._next
        self._next = (value + 1) % 0x10000
        return value.to_bytes(2, "big")


# ---------------------------------------------------------------- compact formats


def encode_nodes(nodes: tuple[NodeInfo, ...] | list[NodeInfo], version: int = 4) -> bytes:
    """`nodes` (version 4) or `nodes6` (version 6, BEP 32): every node must be of that family."""
    return b"".join(node.node_id + _pack_address(node.address, version) for node in nodes)


def decode_nodes(data: bytes, version: int = 4) -> tuple[NodeInfo, ...]:
    size = NODE_LENGTH if version == 4 else NODE6_LENGTH
    if len(data) % size:
        raise KrpcError(f"compact node info of {len(data)} bytes is not a multiple of {size}")
    return tuple(
        NodeInfo(data[start : start + ID_LENGTH], *_unpack_address(data[start + ID_LENGTH : start + size]))
        for start in range(0, len(data), size)
    )


def encode_peer(address: Address) -> bytes:
    return _pack_address(address)


def decode_peer(data: bytes) -> Address:
    if len(data) not in _IP_VERSIONS:
        raise KrpcError(f"compact peer info of {len(data)} bytes, not {PEER_LENGTH} or {IPV6_PEER_LENGTH}")
    return _unpack_address(data)


def _pack_address(address: Address, version: int | None = None) -> bytes:
    """Compact IP/port; `version` (4 or 6) when only that family may go there."""
    host, port = address
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise LocalProtocolError(f"{host!r} is not an IP address") from None
    if version is not None and ip.version != version:
        raise LocalProtocolError(f"{host!r} is not an IPv{version} address")
    if not 0 <= port < 0x10000:
        raise LocalProtocolError(f"port {port} is out of range")
    return ip.packed + port.to_bytes(2, "big")


def _unpack_address(data: bytes) -> Address:
    """Compact IP/port of either family (BEP 32), told apart by its length."""
    return str(ipaddress.ip_address(data[:-2])), int.from_bytes(data[-2:], "big")


# ---------------------------------------------------------------- encoding


def encode(message: Message) -> bytes:
    """The datagram for `message` (keys sorted, as bencode requires)."""
    kind, body = _BODY_ENCODERS[type(message)](message)
    envelope: dict[bytes, Any] = {b"t": message.transaction_id, b"y": kind, **body}
    if message.version is not None:
        envelope[b"v"] = message.version
    if message.ip is not None:
        envelope[b"ip"] = _pack_address(message.ip)
    return bencode.encode(envelope)


def _query_body(method: bytes, sender_id: bytes, **arguments: Any) -> tuple[bytes, dict[bytes, Any]]:
    return b"q", {b"q": method, b"a": {b"id": sender_id, **arguments}}


def _encode_ping(message: Ping) -> tuple[bytes, dict[bytes, Any]]:
    return _query_body(b"ping", message.sender_id)


def _encode_find_node(message: FindNode) -> tuple[bytes, dict[bytes, Any]]:
    return _query_body(b"find_node", message.sender_id, target=message.target, **_want(message.want))


def _encode_get_peers(message: GetPeers) -> tuple[bytes, dict[bytes, Any]]:
    return _query_body(b"get_peers", message.sender_id, info_hash=message.info_hash, **_want(message.want))


def _want(want: tuple[bytes, ...]) -> dict[str, Any]:
    return {"want": list(want)} if want else {}


def _encode_announce_peer(message: AnnouncePeer) -> tuple[bytes, dict[bytes, Any]]:
    return _query_body(
        b"announce_peer",
        message.sender_id,
        info_hash=message.info_hash,
        port=message.port,
        token=message.token,
        implied_port=int(message.implied_port),
    )


def _encode_response(message: Response) -> tuple[bytes, dict[bytes, Any]]:
    body: dict[bytes, Any] = {b"id": message.sender_id}
    if message.nodes:
        body[b"nodes"] = encode_nodes(message.nodes, 4)
    if message.nodes6:
        body[b"nodes6"] = encode_nodes(message.nodes6, 6)
    if message.values:
        body[b"values"] = [encode_peer(peer) for peer in message.values]
    if message.token is not None:
        body[b"token"] = message.token
    return b"r", {b"r": body}


def _encode_error(message: Error) -> tuple[bytes, dict[bytes, Any]]:
    return b"e", {b"e": [int(message.code), message.message.encode("utf-8")]}


_BODY_ENCODERS: dict[type, Callable[[Any], tuple[bytes, dict[bytes, Any]]]] = {
    Ping: _encode_ping,
    FindNode: _encode_find_node,
    GetPeers: _encode_get_peers,
    AnnouncePeer: _encode_announce_peer,
    Response: _encode_response,
    Error: _encode_error,
}


# ---------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class _Envelope:
    """What every message carries besides its body."""

    transaction_id: bytes
    version: bytes | None
    ip: Address | None


def decode(data: bytes) -> Message:
    """The message in one datagram; raises KrpcError (and nothing else) when it is malformed."""
    try:
        value = bencode.decode(data)
    except BencodeError as error:
        raise KrpcError(f"not a bencoded message: {error}") from None
    if type(value) is not dict:
        raise KrpcError("a KRPC message is a dictionary")
    envelope = _decode_envelope(value)
    kind = value.get(b"y")
    decoder = _BODY_DECODERS.get(kind) if type(kind) is bytes else None
    if decoder is None:
        raise KrpcError("the message type 'y' is missing or unknown")
    return decoder(value, envelope)


def _decode_envelope(value: dict[bytes, Any]) -> _Envelope:
    transaction_id = value.get(b"t")
    if type(transaction_id) is not bytes or len(transaction_id) > MAX_TRANSACTION_ID:
        raise KrpcError("the transaction id 't' is missing or invalid")
    version = value.get(b"v")
    if version is not None and type(version) is not bytes:
        raise KrpcError("the version 'v' is not a string")
    ip = value.get(b"ip")
    if ip is not None and (type(ip) is not bytes or len(ip) not in _IP_VERSIONS):
        raise KrpcError("the address 'ip' is not a compact IPv4 or IPv6 address")
    return _Envelope(transaction_id, version, None if ip is None else _unpack_address(ip))


def _decode_query(value: dict[bytes, Any], envelope: _Envelope) -> Query:
    try:
        return _decode_query_body(value, envelope)
    except KrpcError as error:
        # BEP 5: a malformed query gets "203 Protocol Error" back.
        error.reply = error.reply or _error(envelope, ErrorCode.PROTOCOL, str(error))
        raise


def _decode_query_body(value: dict[bytes, Any], envelope: _Envelope) -> Query:
    method, arguments = value.get(b"q"), value.get(b"a")
    decoder = _QUERY_DECODERS.get(method) if type(method) is bytes else None
    if decoder is None:
        raise KrpcError(f"unknown query method {method!r}", _error(envelope, ErrorCode.METHOD_UNKNOWN))
    if type(arguments) is not dict:
        raise KrpcError("the query has no argument dictionary 'a'")
    return decoder(arguments, _node_id(arguments, b"id"), envelope)


def _error(envelope: _Envelope, code: ErrorCode, message: str = "") -> Error:
    return Error(envelope.transaction_id, int(code), message or code.name.replace("_", " ").title())


def _decode_ping(arguments: dict[bytes, Any], sender_id: bytes, envelope: _Envelope) -> Ping:
    return Ping(envelope.transaction_id, sender_id, envelope.version, envelope.ip)


def _lookup_decoder(
    kind: type[FindNode] | type[GetPeers], key: bytes
) -> Callable[[dict[bytes, Any], bytes, _Envelope], FindNode | GetPeers]:
    """find_node and get_peers: the 20-byte id looked for, under `key`, and BEP 32's `want`."""

    def decode(arguments: dict[bytes, Any], sender_id: bytes, envelope: _Envelope) -> FindNode | GetPeers:
        wanted = _node_id(arguments, key)
        return kind(envelope.transaction_id, sender_id, wanted, envelope.version, envelope.ip, _decode_want(arguments))

    return decode


def _decode_want(arguments: dict[bytes, Any]) -> tuple[bytes, ...]:
    """BEP 32 `want`: the families we know; anything else in it is ignored, as libtorrent does."""
    want = arguments.get(b"want")
    if type(want) is not list:
        return ()
    return tuple(token for token in want if token in WANT_TOKENS.values())


def _decode_announce_peer(arguments: dict[bytes, Any], sender_id: bytes, envelope: _Envelope) -> AnnouncePeer:
    info_hash = _node_id(arguments, b"info_hash")
    token = arguments.get(b"token")
    if type(token) is not bytes:
        raise KrpcError("announce_peer has no token")
    implied = arguments.get(b"implied_port", 0)
    if type(implied) is not int:
        raise KrpcError("announce_peer's implied_port is not an integer")
    port = arguments.get(b"port", 0)
    # BEP 5: with implied_port the port argument "should be ignored", so only check it otherwise.
    if type(port) is not int or not (implied or 0 < port < 0x10000):
        raise KrpcError("announce_peer's port is missing or out of range")
    return AnnouncePeer(
        envelope.transaction_id, sender_id, info_hash, port, token, bool(implied), envelope.version, envelope.ip
    )


def _decode_response(value: dict[bytes, Any], envelope: _Envelope) -> Response:
    body = value.get(b"r")
    if type(body) is not dict:
        raise KrpcError("the response has no dictionary 'r'")
    nodes, nodes6 = body.get(b"nodes", b""), body.get(b"nodes6", b"")
    token = body.get(b"token")
    if type(nodes) is not bytes or type(nodes6) is not bytes:
        raise KrpcError("the response's 'nodes' or 'nodes6' is not a string")
    if token is not None and type(token) is not bytes:
        raise KrpcError("the response's token is not a string")
    return Response(
        envelope.transaction_id,
        _node_id(body, b"id"),
        decode_nodes(nodes, 4),
        _decode_values(body.get(b"values", [])),
        token,
        envelope.version,
        envelope.ip,
        decode_nodes(nodes6, 6),
    )


def _decode_values(values: Any) -> tuple[Address, ...]:
    if type(values) is not list or any(type(value) is not bytes for value in values):
        raise KrpcError("the response's 'values' is not a list of strings")
    return tuple(decode_peer(value) for value in values)


def _decode_error(value: dict[bytes, Any], envelope: _Envelope) -> Error:
    body = value.get(b"e")
    if type(body) is not list or len(body) != 2 or type(body[0]) is not int or type(body[1]) is not bytes:
        raise KrpcError("the error 'e' is not a [code, message] list")
    message = body[1].decode("utf-8", errors="replace")
    return Error(envelope.transaction_id, body[0], message, envelope.version, envelope.ip)


def _node_id(arguments: dict[bytes, Any], key: bytes) -> bytes:
    value = arguments.get(key)
    if type(value) is not bytes or len(value) != ID_LENGTH:
        raise KrpcError(f"{key.decode()!r} is not a {ID_LENGTH}-byte id")
    return value


_QUERY_DECODERS: dict[bytes, Callable[[dict[bytes, Any], bytes, _Envelope], Query]] = {
    b"ping": _decode_ping,
    b"find_node": _lookup_decoder(FindNode, b"target"),
    b"get_peers": _lookup_decoder(GetPeers, b"info_hash"),
    b"announce_peer": _decode_announce_peer,
}

_BODY_DECODERS: dict[bytes, Callable[[dict[bytes, Any], _Envelope], Message]] = {
    b"q": _decode_query,
    b"r": _decode_response,
    b"e": _decode_error,
}
