"""The asyncio side of PCP / NAT-PMP: one UDP socket to the gateway's port 5351 driving a PmpMapper,
and one in the group 224.0.0.1 at port 5350, where a restarted router says so (RFC 6886 3.2.1).

The sockets come from Sockets (the chosen address and interface). The first is connected to the
gateway, so the system drops datagrams from anyone else (RFC 6886 3.1: answers count only from
the gateway); on the second anyone may speak, and the mapper believes the gateway only.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from app.engine.portmap import natpmp
from app.engine.portmap.gateway import ROUTES, default_gateway
from app.engine.portmap.pmp_mapper import ATTEMPTS, PmpMapper
from app.engine.portmap.status import MapState, PortMapStatus
from app.engine.sockets import Sockets

log = logging.getLogger(__name__)

NO_GATEWAY = "no router found (this computer has no default gateway)"
NO_ROUTE_TABLE = "NAT-PMP and PCP are not tried: this system does not tell the router's address"


Event = Callable[[PmpMapper, float], None]  # what was heard, to be told to the mapper at `now`


class _Inbox(asyncio.DatagramProtocol):
    """Datagrams from the gateway, and word when it says that nothing listens on the port."""

    def __init__(self, queue: asyncio.Queue[Event]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        _put(self.queue, lambda mapper, now: mapper.receive(data, now))

    def error_received(self, exc: Exception) -> None:
        log.debug("NAT-PMP/PCP socket: %s", exc)
        if isinstance(exc, ConnectionRefusedError):  # ICMP port unreachable
            _put(self.queue, lambda mapper, now: mapper.unreachable(now))


class _Announcements(asyncio.DatagramProtocol):
    """What is multicast to 224.0.0.1:5350: a router's restart, or anyone's noise (the mapper judges)."""

    def __init__(self, queue: asyncio.Queue[Event]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        _put(self.queue, lambda mapper, now: mapper.announced(data, addr[0], now))


def _put(queue: asyncio.Queue[Event], event: Event) -> None:
    if not queue.full():  # a flooding router (or neighbour) loses its surplus, not our memory
        queue.put_nowait(event)


class PmpClient:
    def __init__(self, sockets: Sockets, ports: dict[str, int], *, lifetime: int, attempts: int = ATTEMPTS) -> None:
        self._sockets, self._ports, self._lifetime, self._attempts = sockets, ports, lifetime, attempts
        self._mapper: PmpMapper | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._listener: asyncio.DatagramTransport | None = None  # 224.0.0.1:5350, router announcements
        self._failure = ""

    @property
    def status(self) -> PortMapStatus:
        if self._failure:
            return PortMapStatus(MapState.FAILED, reason=self._failure)
        return self._mapper.status if self._mapper is not None else PortMapStatus(MapState.TRYING)

    async def run(self) -> None:
        """Map, renew, remap until cancelled."""
        if self._sockets.family == socket.AF_INET6:
            self._failure = "NAT-PMP and PCP are not tried from an IPv6 address"
            return
        host = self._sockets.host if self._sockets.bound else None
        gateway = await asyncio.to_thread(default_gateway, host)
        if gateway is None:
            self._failure = NO_GATEWAY if ROUTES.exists() else NO_ROUTE_TABLE
            return
        inbox: asyncio.Queue[Event] = asyncio.Queue(maxsize=64)
        self._transport, _ = await self._sockets.datagram(lambda: _Inbox(inbox), remote=(gateway, natpmp.SERVER_PORT))
        self._listener = await self._listen_for_announcements(inbox)
        client_ip = self._transport.get_extra_info("sockname")[0]
        self._mapper = PmpMapper(client_ip, dict(self._ports), gateway=gateway, lifetime=self._lifetime,
                                 attempts=self._attempts)
        await self._drive(self._mapper, self._transport, inbox)

    async def _listen_for_announcements(self, inbox: asyncio.Queue[Event]) -> asyncio.DatagramTransport | None:
        """RFC 6886 3.2.1: join 224.0.0.1:5350 (on the chosen interface) to hear a router's
        restart at once; without it (the port refused us) renewals still notice, later."""
        try:
            sock = self._sockets.multicast(natpmp.ANNOUNCE_GROUP, natpmp.CLIENT_PORT, ttl=1)
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Announcements(inbox), sock=sock)
        except OSError as exc:
            log.info("not listening for router restart announcements: %s", exc.strerror or exc)
            return None
        return transport

    async def _drive(self, mapper: PmpMapper, transport: asyncio.DatagramTransport,
                     inbox: asyncio.Queue[Event]) -> None:
        loop = asyncio.get_running_loop()
        mapper.start(loop.time())
        while True:
            mapper.handle_timer(loop.time())
            for datagram in mapper.datagrams_to_send():
                transport.sendto(datagram)
            due = mapper.next_timer()
            timeout = None if due is None else max(0.0, due - loop.time())
            try:
                event = await asyncio.wait_for(inbox.get(), timeout)
            except TimeoutError:
                continue
            event(mapper, loop.time())

    def close(self) -> None:
        """Send the deletes (best effort: UDP, no waiting for the answers) and close the socket."""
        if self._mapper is not None and self._transport is not None:
            self._mapper.stop()
            for datagram in self._mapper.datagrams_to_send():
                self._transport.sendto(datagram)
        for transport in (self._transport, self._listener):
            if transport is not None:
                transport.close()
