"""An in-process HTTP (BEP 3, 7, 23, 48) and UDP (BEP 15) tracker: the embedded one, and tests'.

The peer's address is the request's source address. The `ip` a client claims is believed only
when it is a loopback address, so tests can stand several peers on 127.0.0.2, 127.0.0.3 ...
while no one on a network can point the swarm at a third party.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from app.engine.errors import TrackerError
from app.engine.tracker import compact, http_codec, udp_codec
from app.engine.tracker.registry import SwarmPeer, SwarmRegistry
from app.engine.tracker.types import AnnounceResponse, ScrapeEntry
from app.engine.tracker.udp_codec import (
    AnnouncePacket,
    AnnounceReply,
    ConnectPacket,
    ConnectReply,
    ErrorReply,
    Reply,
    ScrapePacket,
    ScrapeReply,
)

log = logging.getLogger(__name__)

CONNECTION_ID_WINDOW = 60.0  # BEP 15: a connection id we hand out is accepted for 1 to 2 minutes


class TrackerServer:
    """`await start()`, hand out `http_url` / `udp_url`, `await close()`."""

    def __init__(
        self,
        *,
        interval: int = 1800,
        min_interval: int | None = None,
        peer_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        http_counts: bool = True,
        registry: SwarmRegistry | None = None,
    ) -> None:
        self._interval = interval
        self._http_counts = http_counts  # False: HTTP announces leave complete/incomplete out, as some trackers do
        self._min_interval = min_interval
        # A test may pass its own registry, one that also records what was announced.
        self._registry = registry or SwarmRegistry(peer_ttl=peer_ttl or 2.0 * interval)
        self._clock = clock
        self._secret = secrets.token_bytes(16)
        self._runner: web.AppRunner | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._http_url = self._udp_url = ""
        self._udp_handlers: dict[type, Callable[[Any, Any, int], Reply]] = {
            ConnectPacket: self._udp_connect,
            AnnouncePacket: self._udp_announce,
            ScrapePacket: self._udp_scrape,
        }

    @property
    def http_url(self) -> str:
        return self._http_url

    @property
    def udp_url(self) -> str:
        return self._udp_url

    async def start(self, host: str = "127.0.0.1", http_port: int = 0, udp_port: int = 0) -> None:
        family = compact.address_family(host) or socket.AF_INET
        netloc = f"[{host}]" if family == socket.AF_INET6 else host
        http_bound = await self._start_http(host, http_port, family)
        udp_bound = await self._start_udp(host, udp_port, family)
        self._http_url = f"http://{netloc}:{http_bound}/announce"
        self._udp_url = f"udp://{netloc}:{udp_bound}/announce"

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # HTTP ----------------------------------------------------------------------------------

    async def _start_http(self, host: str, port: int, family: int) -> int:
        app = web.Application()
        app.router.add_get("/announce", self._http_announce)
        app.router.add_get("/scrape", self._http_scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        await web.SockSite(self._runner, sock).start()
        return int(sock.getsockname()[1])

    async def _http_announce(self, request: web.Request) -> web.Response:
        try:
            query = http_codec.parse_announce_query(request.rel_url.raw_query_string)
        except TrackerError as error:
            return _bencoded(http_codec.encode_failure(str(error)))
        announce = query.request
        ip = _peer_ip(request.remote or "", query.ip)
        peer = SwarmPeer(announce.peer_id, ip, announce.port, announce.left)
        chosen, counts = self._registry.announce(
            announce.info_hash, peer, announce.event, announce.numwant, self._clock()
        )
        response = AnnounceResponse(
            interval=self._interval,
            min_interval=self._min_interval,
            peers=tuple((p.ip, p.port) for p in chosen),
            complete=counts.complete if self._http_counts else None,
            incomplete=counts.incomplete if self._http_counts else None,
            warning="",
            tracker_id=None,
        )
        ids = [p.peer_id for p in chosen]
        body = http_codec.encode_announce_response(
            response, compact_peers=query.compact, peer_ids=ids
        )
        return _bencoded(body)

    async def _http_scrape(self, request: web.Request) -> web.Response:
        info_hashes = http_codec.scrape_info_hashes(request.rel_url.raw_query_string)
        entries = self._registry.scrape(info_hashes, self._clock())
        return _bencoded(http_codec.encode_scrape_response(entries))

    # UDP -----------------------------------------------------------------------------------

    async def _start_udp(self, host: str, port: int, family: int) -> int:
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _UdpTrackerProtocol(self._udp_reply, family),
            local_addr=(host, port),
            family=family,
        )
        return int(self._udp.get_extra_info("sockname")[1])

    def _udp_reply(self, data: bytes, addr: Any, family: int) -> bytes | None:
        """The answer to one datagram; None for datagrams too broken to answer."""
        try:
            packet = udp_codec.decode_packet(data)
        except TrackerError:
            return None
        return udp_codec.encode(self._udp_handlers[type(packet)](packet, addr, family), family)

    def _udp_connect(self, packet: ConnectPacket, addr: Any, family: int) -> Reply:
        return ConnectReply(packet.transaction_id, self._connection_id(addr, self._epoch()))

    def _udp_announce(self, packet: AnnouncePacket, addr: Any, family: int) -> Reply:
        if not self._valid_connection(packet.connection_id, addr):
            return ErrorReply(packet.transaction_id, "invalid connection id")
        announce = packet.request
        claimed = str(ipaddress.IPv4Address(packet.ip)) if packet.ip else None
        peer = SwarmPeer(announce.peer_id, _peer_ip(addr[0], claimed), announce.port, announce.left)
        chosen, counts = self._registry.announce(
            announce.info_hash, peer, announce.event, announce.numwant, self._clock(), family
        )
        peers = tuple((p.ip, p.port) for p in chosen)
        return AnnounceReply(
            packet.transaction_id, self._interval, counts.incomplete, counts.complete, peers
        )

    def _udp_scrape(self, packet: ScrapePacket, addr: Any, family: int) -> Reply:
        if not self._valid_connection(packet.connection_id, addr):
            return ErrorReply(packet.transaction_id, "invalid connection id")
        entries = self._registry.scrape(packet.info_hashes, self._clock())
        counts: tuple[ScrapeEntry, ...] = tuple(entries[ih] for ih in packet.info_hashes)
        return ScrapeReply(packet.transaction_id, counts)

    def _epoch(self) -> int:
        return int(self._clock() // CONNECTION_ID_WINDOW)

    def _connection_id(self, addr: Any, epoch: int) -> int:
        """Stateless ids: a keyed hash of the client's IP and the minute, nothing to store.

        BEP 15's id only proves the client can receive at its source IP, so the port is left
        out, as opentracker does: a client may announce from another socket than it connected.
        """
        data = f"{addr[0]}|{epoch}".encode()
        return int.from_bytes(
            hashlib.blake2b(data, key=self._secret, digest_size=8).digest(), "big"
        )

    def _valid_connection(self, connection_id: int, addr: Any) -> bool:
        epoch = self._epoch()
        return connection_id in (
            self._connection_id(addr, epoch),
            self._connection_id(addr, epoch - 1),
        )


class _UdpTrackerProtocol(asyncio.DatagramProtocol):
    def __init__(self, reply: Callable[[bytes, Any, int], bytes | None], family: int) -> None:
        self._reply = reply
        self._family = family
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self._transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            answer = self._reply(data, addr, self._family)
        except Exception:
            log.exception("UDP tracker request from %s failed", addr)
            return
        if answer is not None and self._transport is not None:
            self._transport.sendto(answer, addr)


def _peer_ip(source: str, claimed: str | None) -> str:
    """The request's source address, or the claimed `ip` if that is a loopback address."""
    if claimed and compact.address_family(claimed) and ipaddress.ip_address(claimed).is_loopback:
        return claimed
    return source


def _bencoded(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/plain")
