"""Sans-I/O UDP tracker protocol (BEP 15): datagrams and `now` in; messages and deadlines out.

Messages a client sends are `*Packet`s, messages a tracker sends are `*Reply`s; `encode` and the
two decoders cover both roles, so the embedded tracker (server.py) shares this code.
`UdpExchange` is the client's state for one tracker: connection id, transaction ids, retries.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from app.engine.errors import TrackerError
from app.engine.tracker import compact
from app.engine.tracker.http_codec import DEFAULT_INTERVAL, clamp_interval
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry

PROTOCOL_ID = 0x41727101980  # BEP 15: the magic constant that opens a connect request
CONNECT, ANNOUNCE, SCRAPE, ERROR = 0, 1, 2, 3
CONNECTION_ID_LIFETIME = 60.0  # BEP 15: a client may use a connection id for one minute
MAX_SCRAPE_HASHES = 74  # BEP 15: what fits in one datagram

# BEP 15 numbers the events differently from their order in BEP 3.
EVENT_CODES = {
    AnnounceEvent.NONE: 0,
    AnnounceEvent.COMPLETED: 1,
    AnnounceEvent.STARTED: 2,
    AnnounceEvent.STOPPED: 3,
}
EVENTS_BY_CODE = {code: event for event, code in EVENT_CODES.items()}

_CONNECT = struct.Struct(">QII")  # protocol id / connection id, action, transaction id
_CONNECT_REPLY = struct.Struct(">IIQ")
_HEADER = struct.Struct(">QII")  # connection id, action, transaction id
_REPLY_HEADER = struct.Struct(">II")  # action, transaction id
_ANNOUNCE_BODY = struct.Struct(">20s20sQQQIIIiH")
_ANNOUNCE_REPLY_BODY = struct.Struct(">III")  # interval, leechers, seeders
_SCRAPE_ENTRY = struct.Struct(">III")  # seeders, completed, leechers


@dataclass(frozen=True, slots=True)
class ConnectPacket:
    transaction_id: int


@dataclass(frozen=True, slots=True)
class AnnouncePacket:
    connection_id: int
    transaction_id: int
    request: AnnounceRequest
    ip: int = 0  # IPv4 address as an integer; 0 means "the packet's source address"


@dataclass(frozen=True, slots=True)
class ScrapePacket:
    connection_id: int
    transaction_id: int
    info_hashes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ConnectReply:
    transaction_id: int
    connection_id: int


@dataclass(frozen=True, slots=True)
class AnnounceReply:
    transaction_id: int
    interval: int
    leechers: int
    seeders: int
    peers: tuple[compact.Peer, ...]


@dataclass(frozen=True, slots=True)
class ScrapeReply:
    transaction_id: int
    entries: tuple[ScrapeEntry, ...]


@dataclass(frozen=True, slots=True)
class ErrorReply:
    transaction_id: int
    message: str


Packet = ConnectPacket | AnnouncePacket | ScrapePacket
Reply = ConnectReply | AnnounceReply | ScrapeReply | ErrorReply


# Encoding ----------------------------------------------------------------------------------


def _encode_connect(m: ConnectPacket, family: int) -> bytes:
    return _CONNECT.pack(PROTOCOL_ID, CONNECT, m.transaction_id)


def _encode_announce(m: AnnouncePacket, family: int) -> bytes:
    r = m.request
    body = _ANNOUNCE_BODY.pack(
        r.info_hash,
        r.peer_id,
        r.downloaded,
        r.left,
        r.uploaded,
        EVENT_CODES[r.event],
        m.ip,
        r.key & 0xFFFFFFFF,
        r.numwant,
        r.port,
    )
    return _HEADER.pack(m.connection_id, ANNOUNCE, m.transaction_id) + body


def _encode_scrape(m: ScrapePacket, family: int) -> bytes:
    return _HEADER.pack(m.connection_id, SCRAPE, m.transaction_id) + b"".join(m.info_hashes)


def _encode_connect_reply(m: ConnectReply, family: int) -> bytes:
    return _CONNECT_REPLY.pack(CONNECT, m.transaction_id, m.connection_id)


def _encode_announce_reply(m: AnnounceReply, family: int) -> bytes:
    head = _REPLY_HEADER.pack(ANNOUNCE, m.transaction_id)
    body = _ANNOUNCE_REPLY_BODY.pack(m.interval, m.leechers, m.seeders)
    return head + body + compact.encode_peers(m.peers, family)


def _encode_scrape_reply(m: ScrapeReply, family: int) -> bytes:
    entries = (_SCRAPE_ENTRY.pack(e.complete, e.downloaded, e.incomplete) for e in m.entries)
    return _REPLY_HEADER.pack(SCRAPE, m.transaction_id) + b"".join(entries)


def _encode_error(m: ErrorReply, family: int) -> bytes:
    return _REPLY_HEADER.pack(ERROR, m.transaction_id) + m.message.encode()


_ENCODERS: dict[type, Callable[[Any, int], bytes]] = {
    ConnectPacket: _encode_connect,
    AnnouncePacket: _encode_announce,
    ScrapePacket: _encode_scrape,
    ConnectReply: _encode_connect_reply,
    AnnounceReply: _encode_announce_reply,
    ScrapeReply: _encode_scrape_reply,
    ErrorReply: _encode_error,
}


def encode(message: Packet | Reply, family: int = socket.AF_INET) -> bytes:
    """The datagram for `message`; `family` picks 6- or 18-byte peers in an AnnounceReply."""
    return _ENCODERS[type(message)](message, family)


# Decoding: the tracker's side ------------------------------------------------------------


def _decode_announce(connection_id: int, transaction_id: int, body: bytes) -> AnnouncePacket:
    if len(body) < _ANNOUNCE_BODY.size:
        raise TrackerError("truncated announce request")
    fields = _ANNOUNCE_BODY.unpack_from(body)
    info_hash, peer_id, downloaded, left, uploaded, event, ip, key, numwant, port = fields
    if event not in EVENTS_BY_CODE:
        raise TrackerError("invalid event")
    request = AnnounceRequest(
        info_hash=info_hash,
        peer_id=peer_id,
        port=port,
        uploaded=uploaded,
        downloaded=downloaded,
        left=left,
        event=EVENTS_BY_CODE[event],
        numwant=numwant,
        key=key,
    )
    return AnnouncePacket(connection_id, transaction_id, request, ip)


def _decode_scrape(connection_id: int, transaction_id: int, body: bytes) -> ScrapePacket:
    if not body or len(body) % 20 or len(body) > 20 * MAX_SCRAPE_HASHES:
        raise TrackerError("invalid scrape request")
    hashes = tuple(body[i : i + 20] for i in range(0, len(body), 20))
    return ScrapePacket(connection_id, transaction_id, hashes)


_PACKET_DECODERS: dict[int, Callable[[int, int, bytes], Packet]] = {
    ANNOUNCE: _decode_announce,
    SCRAPE: _decode_scrape,
}


def decode_packet(data: bytes) -> Packet:
    """A client's datagram; anything malformed raises TrackerError."""
    if len(data) < _HEADER.size:
        raise TrackerError("truncated request")
    connection_id, action, transaction_id = _HEADER.unpack_from(data)
    if action == CONNECT:
        if connection_id != PROTOCOL_ID:
            raise TrackerError("not a UDP tracker connect request")
        return ConnectPacket(transaction_id)
    decoder = _PACKET_DECODERS.get(action)
    if decoder is None:
        raise TrackerError("unknown action")
    return decoder(connection_id, transaction_id, data[_HEADER.size :])


# Decoding: the client's side -------------------------------------------------------------


def _decode_connect_reply(transaction_id: int, body: bytes, family: int) -> ConnectReply:
    if len(body) < 8:
        raise TrackerError("truncated tracker response")
    return ConnectReply(transaction_id, int.from_bytes(body[:8], "big"))


def _decode_announce_reply(transaction_id: int, body: bytes, family: int) -> AnnounceReply:
    if len(body) < _ANNOUNCE_REPLY_BODY.size:
        raise TrackerError("truncated tracker response")
    interval, leechers, seeders = _ANNOUNCE_REPLY_BODY.unpack_from(body)
    peers = compact.decode_peers(body[_ANNOUNCE_REPLY_BODY.size :], family)
    return AnnounceReply(transaction_id, interval, leechers, seeders, tuple(peers))


def _decode_scrape_reply(transaction_id: int, body: bytes, family: int) -> ScrapeReply:
    if len(body) % _SCRAPE_ENTRY.size:
        raise TrackerError("truncated tracker response")
    counts = (_SCRAPE_ENTRY.unpack_from(body, i) for i in range(0, len(body), _SCRAPE_ENTRY.size))
    entries = tuple(ScrapeEntry(complete=s, incomplete=n, downloaded=c) for s, c, n in counts)
    return ScrapeReply(transaction_id, entries)


def _decode_error(transaction_id: int, body: bytes, family: int) -> ErrorReply:
    return ErrorReply(transaction_id, body.decode("utf-8", "replace").strip("\0 "))


_REPLY_DECODERS: dict[int, Callable[[int, bytes, int], Reply]] = {
    CONNECT: _decode_connect_reply,
    ANNOUNCE: _decode_announce_reply,
    SCRAPE: _decode_scrape_reply,
    ERROR: _decode_error,
}


def decode_reply(data: bytes, family: int = socket.AF_INET) -> Reply:
    """A tracker's datagram; BEP 15: peers are 6 bytes from an IPv4 tracker, 18 from an IPv6 one."""
    if len(data) < _REPLY_HEADER.size:
        raise TrackerError("truncated tracker response")
    action, transaction_id = _REPLY_HEADER.unpack_from(data)
    decoder = _REPLY_DECODERS.get(action)
    if decoder is None:
        raise TrackerError("tracker sent an unknown action")
    return decoder(transaction_id, data[_REPLY_HEADER.size :], family)


# The client's state ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send this datagram now."""

    datagram: bytes


@dataclass(frozen=True, slots=True)
class Answered:
    """The exchange is over: the tracker answered the query."""

    result: AnnounceResponse | dict[bytes, ScrapeEntry]


Query = AnnounceRequest | tuple[bytes, ...]  # an announce, or the info-hashes to scrape


class UdpExchange:
    """One tracker's BEP 15 client state: a cached connection id and at most one query at a time.

    `begin` returns the first datagram; feed every datagram from the tracker to `receive` and
    call `timed_out` once `deadline` has passed. A tracker that never answers fails after
    `max_attempts` waits of retry_base * 2**n seconds (15 + 30 + 60 s by default: about two
    minutes, where BEP 15 would go on for over an hour).
    """

    def __init__(
        self,
        family: int = socket.AF_INET,
        *,
        rng: random.Random | None = None,
        retry_base: float = 15.0,
        max_attempts: int = 3,
    ) -> None:
        self._family = family
        self._rng = rng or random.SystemRandom()
        self._retry_base = retry_base
        self._max_attempts = max_attempts
        self._connection_id: int | None = None
        self._connected_at = 0.0
        self._query: Query | None = None
        self._transaction_id = 0
        self._attempt = 0
        self._deadline: float | None = None

    @property
    def deadline(self) -> float | None:
        """When `timed_out` is due; None when no query is in flight."""
        return self._deadline

    def begin(self, query: Query, now: float) -> bytes:
        if self._query is not None:
            raise RuntimeError("a UDP tracker query is already in flight")
        self._query = query
        self._attempt = 0
        return self._next_datagram(now, fresh=True)

    def receive(self, data: bytes, now: float) -> Send | Answered | None:
        """What to do with a datagram from the tracker; None if it is stale or not for us."""
        if self._query is None:
            return None
        try:
            reply = decode_reply(data, self._family)
        except TrackerError:
            self._finish()
            raise
        if reply.transaction_id != self._transaction_id:
            return None  # BEP 15: the transaction id must match; this answers something else
        return self._handle(reply, now)

    def timed_out(self, now: float) -> bytes:
        """The datagram to retransmit; raises TrackerError once the attempts are spent."""
        self._attempt += 1
        if self._attempt >= self._max_attempts:
            self._finish()
            raise TrackerError("timed out")
        return self._next_datagram(now, fresh=False)

    def abandon(self) -> None:
        """Forget the query in flight (the caller gave up); the connection id stays cached."""
        self._finish()

    def _handle(self, reply: Reply, now: float) -> Send | Answered:
        if isinstance(reply, ErrorReply):
            self._connection_id = None  # the error may be about the connection id: get a new one
            self._fail(reply.message or "tracker refused the request")
        if self._connection_id is None:
            if not isinstance(reply, ConnectReply):
                self._fail("tracker sent an unexpected response")
            self._connection_id, self._connected_at = reply.connection_id, now
            return Send(self._next_datagram(now, fresh=True))
        result = self._result(reply)
        self._finish()
        return Answered(result)

    def _result(self, reply: Reply) -> AnnounceResponse | dict[bytes, ScrapeEntry]:
        query = self._query
        if isinstance(query, AnnounceRequest) and isinstance(reply, AnnounceReply):
            return AnnounceResponse(
                interval=clamp_interval(reply.interval) or DEFAULT_INTERVAL,
                min_interval=None,
                peers=reply.peers,
                complete=reply.seeders,
                incomplete=reply.leechers,
                warning="",
                tracker_id=None,
            )
        if isinstance(query, tuple) and isinstance(reply, ScrapeReply):
            return dict(zip(query, reply.entries, strict=False))
        return self._fail("tracker sent an unexpected response")

    def _next_datagram(self, now: float, *, fresh: bool) -> bytes:
        """The connect request if the connection id is missing or stale, else the query itself.

        A retransmission keeps its transaction id, so a slow answer to the first copy still counts.
        """
        if self._connection_id is not None and now - self._connected_at >= CONNECTION_ID_LIFETIME:
            self._connection_id, fresh = None, True
        if fresh:
            self._transaction_id = self._rng.getrandbits(32)
        self._deadline = now + self._retry_base * 2**self._attempt  # BEP 15: 15 * 2**n seconds
        return encode(self._packet(), self._family)

    def _packet(self) -> Packet:
        if self._connection_id is None:
            return ConnectPacket(self._transaction_id)
        if isinstance(self._query, AnnounceRequest):
            return AnnouncePacket(self._connection_id, self._transaction_id, self._query)
        return ScrapePacket(self._connection_id, self._transaction_id, self._query or ())

    def _fail(self, message: str) -> NoReturn:
        self._finish()
        raise TrackerError(message)

    def _finish(self) -> None:
        self._query = None
        self._deadline = None
