"""The asyncio side of UPnP: discover, map, renew at half the lease, rediscover when it fails.

Every miniupnpc call runs in a thread (asyncio.to_thread), never on the loop. A renewal is
AddPortMapping again: it extends the lease, and it re-creates a mapping the router forgot
(a restart, a full table). A renewal that fails means the router moved or restarted (its
control URL changes with it): the next round discovers it again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from app.engine.portmap.status import Mapping, MapState, PortMapStatus
from app.engine.portmap.upnp import DISCOVERY_MS, UpnpClient, UpnpError
from app.engine.sockets import Sockets

log = logging.getLogger(__name__)

DESCRIPTION = "Piecemeal"  # how the mapping is named in the router's list


class UpnpMapper:
    def __init__(self, sockets: Sockets, ports: dict[str, int], *, lifetime: int, retry_after: float,
                 discovery_ms: int = DISCOVERY_MS) -> None:
        self._host = sockets.host if sockets.bound else None
        self._ports, self._lifetime, self._retry_after = ports, lifetime, retry_after
        self._discovery_ms = discovery_ms
        self._client: UpnpClient | None = None
        self._address = ""
        self._external: dict[str, int] = {}  # transport -> the external port the router gave
        self._inflight: asyncio.Future[str] | None = None
        self.status = PortMapStatus(MapState.TRYING)

    async def run(self) -> None:
        if self._host is not None and ipaddress.ip_address(self._host).version == 6:
            self.status = PortMapStatus(MapState.FAILED, reason="UPnP is not tried from an IPv6 address")
            return
        while True:
            try:
                address = await self._in_thread()
            except UpnpError as exc:
                await self._failed(exc)
                continue
            mappings = tuple(Mapping(t, self._ports[t], e, "UPnP") for t, e in self._external.items())
            self.status = PortMapStatus(MapState.MAPPED, mappings, address)
            await asyncio.sleep(self._lifetime / 2)

    async def _failed(self, exc: UpnpError) -> None:
        self._client = None
        if self.status.state == MapState.MAPPED:  # renewing failed: the router moved or restarted
            self.status = PortMapStatus(MapState.TRYING)  # look for it again at once
            return
        self.status = PortMapStatus(MapState.FAILED, reason=str(exc))
        await asyncio.sleep(self._retry_after)

    async def _in_thread(self) -> str:
        """One round in a thread. Cancelling the task does not stop the thread: `delete` waits
        for the round to end, or a mapping could appear after it had removed them all."""
        self._inflight = asyncio.ensure_future(asyncio.to_thread(self._round))
        return await asyncio.shield(self._inflight)

    def _round(self) -> str:
        """Blocking: discover (unless known), then add or renew every mapping."""
        if self._client is None:
            client = UpnpClient(self._host, self._discovery_ms)
            self._address = client.discover()
            self._client = client
        for transport, port in self._ports.items():
            self._external[transport] = self._client.add(
                transport, port, self._lifetime, DESCRIPTION, self._external.get(transport))
        return self._address

    async def delete(self) -> None:
        """Remove what was mapped (after a round still running); a router gone is only logged."""
        inflight = self._inflight
        if inflight is not None:
            await asyncio.wait([inflight])
            if not inflight.cancelled():
                inflight.exception()  # its failure was the cancelled task's to hear: seen here
        client, self._client = self._client, None
        for transport, external in list(self._external.items()) if client is not None else ():
            try:
                await asyncio.to_thread(client.delete, transport, external)
            except UpnpError as exc:
                log.info("could not remove the UPnP mapping of %s port %s: %s", transport, external, exc)
        self._external.clear()
