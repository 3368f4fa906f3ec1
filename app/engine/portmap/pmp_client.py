"""The asyncio side of PCP / NAT-PMP: one UDP socket to the gateway's port 5351 driving a PmpMapper.

The socket comes from Sockets (the chosen address) and is connected to the gateway, so the
system drops datagrams from anyone else (RFC 6886 3.1: answers count only from the gateway).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from app.engine.portmap import natpmp
from app.engine.portmap.gateway import ROUTES, default_gateway
from app.engine.portmap.pmp_mapper import ATTEMPTS, PmpMapper
from app.engine.portmap.status import MapState, PortMapStatus
from app.engine.sockets import Sockets

log = logging.getLogger(__name__)

NO_GATEWAY = "no router found (this computer has no default gateway)"
NO_ROUTE_TABLE = "NAT-PMP and PCP are not tried: this system does not tell the router's address"


class _Inbox(asyncio.DatagramProtocol):
    """Datagrams from the gateway, and None when it says that nothing listens on the port."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.queue.full():  # a flooding router loses its surplus, not our memory
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("NAT-PMP/PCP socket: %s", exc)
        if isinstance(exc, ConnectionRefusedError) and not self.queue.full():
            self.queue.put_nowait(None)  # ICMP port unreachable


class PmpClient:
    def __init__(self, sockets: Sockets, ports: dict[str, int], *, lifetime: int, attempts: int = ATTEMPTS) -> None:
        self._sockets, self._ports, self._lifetime, self._attempts = sockets, ports, lifetime, attempts
        self._mapper: PmpMapper | None = None
        self._transport: asyncio.DatagramTransport | None = None
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
        self._transport, inbox = await self._sockets.datagram(_Inbox, remote=(gateway, natpmp.SERVER_PORT))
        client_ip = self._transport.get_extra_info("sockname")[0]
        self._mapper = PmpMapper(client_ip, dict(self._ports), lifetime=self._lifetime, attempts=self._attempts)
        await self._drive(self._mapper, self._transport, inbox.queue)

    async def _drive(self, mapper: PmpMapper, transport: asyncio.DatagramTransport,
                     inbox: asyncio.Queue[bytes | None]) -> None:
        loop = asyncio.get_running_loop()
        mapper.start(loop.time())
        while True:
            mapper.handle_timer(loop.time())
            for datagram in mapper.datagrams_to_send():
                transport.sendto(datagram)
            due = mapper.next_timer()
            timeout = None if due is None else max(0.0, due - loop.time())
            try:
                data = await asyncio.wait_for(inbox.get(), timeout)
            except TimeoutError:
                continue
            if data is None:
                mapper.unreachable(loop.time())
            else:
                mapper.receive(data, loop.time())

    def close(self) -> None:
        """Send the deletes (best effort: UDP, no waiting for the answers) and close the socket."""
        if self._mapper is not None and self._transport is not None:
            self._mapper.stop()
            for datagram in self._mapper.datagrams_to_send():
                self._transport.sendto(datagram)
        if self._transport is not None:
            self._transport.close()
