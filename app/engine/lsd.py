"""Local Service Discovery (BEP 14): find peers of our torrents on the local network.

Peers multicast small HTTP-like ``BT-SEARCH`` datagrams to 239.192.152.143:6771 naming
their listen port and info-hashes; whoever hears one and has the same torrent may connect.

Sans-I/O codec:
    encode_announce(info_hashes, port, cookie) -> bytes
    parse_announce(data) -> LsdAnnounce(port, info_hashes, cookie)   raises RemoteProtocolError

Thin asyncio service (IPv4 only):
    service = LsdService(listen_port, on_peer, sockets=session_sockets)  # default: any interface
    service.set_info_hashes(hashes)       # what to announce, and whose peers to report
    await service.start()                 # join the group, announce now and every 5 minutes
    service.announce_now()                # e.g. after adding a torrent
    service.close()
    on_peer(info_hash, (ip, port)) is called for each of our torrents a neighbour announces;
    our own announces (looped back by the network stack) are recognised by their cookie.
Private torrents (BEP 27) must not be given to the service.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.engine.errors import RemoteProtocolError
from app.engine.sockets import Sockets

log = logging.getLogger(__name__)

MULTICAST_GROUP = "239.192.152.143"  # BEP 14: IPv4 org-local scope
LSD_PORT = 6771
ANNOUNCE_INTERVAL = 5 * 60.0  # BEP 14: announce each torrent about every 5 minutes
MAX_HASHES_PER_ANNOUNCE = 20  # keeps one datagram under 1,400 bytes
MULTICAST_TTL = 1  # the local network only
INFO_HASH_LENGTH = 20

_REQUEST_LINE = "BT-SEARCH * HTTP/1.1"
_HEX_HASH = re.compile(r"[0-9A-Fa-f]{40}")
_PORT = re.compile(r"[0-9]{1,5}")
_COOKIE = re.compile(r"[\x21-\x7e]*")  # visible ASCII: it is a header value

PeerFound = Callable[[bytes, tuple[str, int]], None]


@dataclass(frozen=True, slots=True)
class LsdAnnounce:
    port: int  # the announcer's listen port; its address is the datagram's source
    info_hashes: tuple[bytes, ...]
    cookie: str  # "" when absent


def encode_announce(info_hashes: Sequence[bytes], port: int, cookie: str) -> bytes:
    """One BT-SEARCH datagram announcing ``info_hashes`` (BEP 14 allows several)."""
    if not info_hashes or any(len(info_hash) != INFO_HASH_LENGTH for info_hash in info_hashes):
        raise ValueError("an announce needs one or more 20-byte info-hashes")
    if not 0 < port < 65536 or not _COOKIE.fullmatch(cookie):
        raise ValueError("the port must be 1..65535 and the cookie visible ASCII")
    lines = [_REQUEST_LINE, f"Host: {MULTICAST_GROUP}:{LSD_PORT}", f"Port: {port}"]
    lines += [f"Infohash: {info_hash.hex()}" for info_hash in info_hashes]
    if cookie:
        lines.append(f"cookie: {cookie}")
    # BEP 14: the message ends with an empty line, then one more.
    return ("\r\n".join(lines) + "\r\n\r\n\r\n").encode("ascii")


def parse_announce(data: bytes) -> LsdAnnounce:
    """The announce in one datagram; RemoteProtocolError if it is anything else."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        raise RemoteProtocolError("the LSD message is not ASCII text") from error
    request_line, *header_lines = text.replace("\r\n", "\n").split("\n")
    if request_line != _REQUEST_LINE:
        raise RemoteProtocolError("the LSD message is not a BT-SEARCH request")
    headers = _headers(header_lines)
    ports, cookies = headers.get("port", []), headers.get("cookie", [""])
    if len(ports) != 1 or not _PORT.fullmatch(ports[0]) or not 0 < int(ports[0]) < 65536:
        raise RemoteProtocolError("the LSD message does not have one valid Port header")
    return LsdAnnounce(int(ports[0]), _info_hashes(headers.get("infohash", [])), cookies[0])


def _headers(lines: list[str]) -> dict[str, list[str]]:
    """Header values by lower-case name, up to the first empty line."""
    headers: dict[str, list[str]] = {}
    for line in lines:
        if not line:
            break
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise RemoteProtocolError("the LSD message has a malformed header line")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return headers


def _info_hashes(values: list[str]) -> tuple[bytes, ...]:
    if not values or not all(_HEX_HASH.fullmatch(value) for value in values):
        raise RemoteProtocolError("the LSD message lacks a valid Infohash header")
    return tuple(dict.fromkeys(bytes.fromhex(value) for value in values))


class LsdService(asyncio.DatagramProtocol):
    """Joins the LSD multicast group on one interface, announces our torrents, reports peers."""

    def __init__(
        self,
        listen_port: int,
        on_peer: PeerFound,
        *,
        sockets: Sockets = Sockets(),
        group_port: int = LSD_PORT,
        interval: float = ANNOUNCE_INTERVAL,
        cookie: str | None = None,
    ) -> None:
        self._listen_port = listen_port
        self._on_peer = on_peer
        self._sockets = sockets  # joins the group on the chosen interface, sends from its address
        self._group_port = group_port
        self._interval = interval
        self.cookie = cookie or secrets.token_hex(8)
        self._info_hashes: set[bytes] = set()
        self._transport: asyncio.DatagramTransport | None = None
        self._task: asyncio.Task[None] | None = None

    def set_info_hashes(self, info_hashes: Iterable[bytes]) -> None:
        self._info_hashes = set(info_hashes)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = self._sockets.multicast(MULTICAST_GROUP, self._group_port, ttl=MULTICAST_TTL)
        try:
            self._transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        except BaseException:
            sock.close()
            raise
        self._task = asyncio.create_task(self._announce_forever(), name="lsd-announce")

    def announce_now(self) -> None:
        if self._transport is None:
            return
        hashes = sorted(self._info_hashes)
        for start in range(0, len(hashes), MAX_HASHES_PER_ANNOUNCE):
            chunk = hashes[start : start + MAX_HASHES_PER_ANNOUNCE]
            message = encode_announce(chunk, self._listen_port, self.cookie)
            self._transport.sendto(message, (MULTICAST_GROUP, self._group_port))

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.close()
        self._task = self._transport = None

    async def _announce_forever(self) -> None:
        while True:
            self.announce_now()
            await asyncio.sleep(self._interval)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            announce = parse_announce(data)
        except RemoteProtocolError as error:
            log.debug("ignoring an LSD datagram from %s: %s", addr[0], error)
            return
        if announce.cookie == self.cookie:
            return  # our own announce, looped back
        for info_hash in announce.info_hashes:
            if info_hash in self._info_hashes:
                self._on_peer(info_hash, (str(addr[0]), announce.port))

    def error_received(self, exc: Exception) -> None:
        log.debug("LSD socket error: %s", exc)  # e.g. no multicast route: announces are lost
