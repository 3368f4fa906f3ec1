"""The asyncio side of UDP trackers (BEP 15): a connected datagram endpoint around `UdpExchange`."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from app.engine.errors import TrackerError
from app.engine.sockets import Sockets
from app.engine.tracker.types import AnnounceRequest, AnnounceResponse, ScrapeEntry
from app.engine.tracker.udp_codec import MAX_SCRAPE_HASHES, Answered, Query, Send, UdpExchange

INBOX_SIZE = 64  # datagrams waiting to be read; beyond that a flooding tracker is ignored


class _Inbox(asyncio.DatagramProtocol):
    """Puts what the socket reports, datagrams and errors alike, in one queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue(INBOX_SIZE)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self._put(data)

    def error_received(self, exc: Exception) -> None:
        self._put(exc)  # e.g. ICMP port unreachable on a connected socket

    def connection_lost(self, exc: Exception | None) -> None:
        self._put(exc or ConnectionAbortedError("socket closed"))

    def drain(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()

    def _put(self, item: bytes | Exception) -> None:
        if not self.queue.full():
            self.queue.put_nowait(item)


class UdpTrackerClient:
    """Announces to and scrapes one `udp://host:port` tracker, one query at a time."""

    def __init__(
        self,
        url: str,
        *,
        retry_base: float = 15.0,
        max_attempts: int = 3,
        rng: random.Random | None = None,
        sockets: Sockets = Sockets(),
    ) -> None:
        self._host, self._port = _host_and_port(url)
        self.sockets = sockets  # "VPN only": announce from the chosen address, trackers see it
        self._retry_base = retry_base
        self._max_attempts = max_attempts
        self._rng = rng
        self._lock = asyncio.Lock()
        self._exchange: UdpExchange | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._inbox: _Inbox | None = None

    async def announce(self, request: AnnounceRequest) -> AnnounceResponse:
        result = await self._run(request)
        assert isinstance(result, AnnounceResponse)
        return result

    async def scrape(self, info_hashes: Sequence[bytes]) -> dict[bytes, ScrapeEntry]:
        result = await self._run(tuple(info_hashes[:MAX_SCRAPE_HASHES]))
        assert isinstance(result, dict)
        return result

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._inbox = self._exchange = None

    async def _run(self, query: Query) -> AnnounceResponse | dict[bytes, ScrapeEntry]:
        async with self._lock:
            exchange, transport, inbox = await self._endpoint()
            loop = asyncio.get_running_loop()
            inbox.drain()
            try:
                transport.sendto(exchange.begin(query, loop.time()))
                while not isinstance(outcome := await self._next(exchange, inbox), Answered):
                    if outcome is not None:
                        transport.sendto(outcome.datagram)
                return outcome.result
            finally:
                exchange.abandon()

    async def _next(self, exchange: UdpExchange, inbox: _Inbox) -> Send | Answered | None:
        """Wait for a datagram or for the retransmit deadline, whichever comes first."""
        loop = asyncio.get_running_loop()
        deadline = exchange.deadline or loop.time()
        try:
            item = await asyncio.wait_for(inbox.queue.get(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            return Send(exchange.timed_out(loop.time()))
        if isinstance(item, Exception):
            raise _socket_error(item)
        return exchange.receive(item, loop.time())

    async def _endpoint(self) -> tuple[UdpExchange, asyncio.DatagramTransport, _Inbox]:
        if self._transport is None or self._transport.is_closing() or self._inbox is None:
            self.close()
            family, address = await _resolve(self._host, self._port, self.sockets.family)
            try:
                self._transport, self._inbox = await self.sockets.datagram(
                    _Inbox, remote=address, family=family
                )
            except OSError as error:
                raise _socket_error(error) from error
            self._exchange = UdpExchange(
                family, rng=self._rng, retry_base=self._retry_base, max_attempts=self._max_attempts
            )
        assert self._exchange is not None
        return self._exchange, self._transport, self._inbox


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "udp" or not parts.hostname or not port:
        raise TrackerError("invalid tracker URL")
    return parts.hostname, port


async def _resolve(host: str, port: int, family: int) -> tuple[int, tuple[Any, ...]]:
    """The tracker's first address in `family` (0: any), the family of our chosen address."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError):
        raise TrackerError("host not found") from None
    if not infos:
        raise TrackerError("host not found")
    family, _, _, _, address = infos[0]
    return family, address


def _socket_error(error: Exception) -> TrackerError:
    if isinstance(error, ConnectionRefusedError):
        return TrackerError("connection refused")
    if isinstance(error, OSError) and error.strerror:
        return TrackerError(error.strerror.lower())
    return TrackerError("network error")
