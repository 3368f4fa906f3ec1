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
        self._external: dict[str, int] = {}  # transport -> the external port the router gave
        self.status = PortMapStatus(MapState.TRYING)

    async def run(self) -> None:
        if self._host is not None and ipaddress.ip_address(self._host).version == 6:
            self.status = PortMapStatus(MapState.FAILED, reason="UPnP is not tried from an IPv6 address")
            return
        while True:
            try:
                await self._map()
                await asyncio.sleep(self._lifetime / 2)
            except UpnpError as exc:
                if self._client is not None:
                    self._client = None  # renewing failed: discover the router again at once
                    continue
                self.status = PortMapStatus(MapState.FAILED, reason=str(exc))
                await asyncio.sleep(self._retry_after)

    async def _map(self) -> None:
        client, address = self._client, self.status.external_address
        if client is None:
            client = UpnpClient(self._host, self._discovery_ms)
            address = await asyncio.to_thread(client.discover)
        for transport, port in self._ports.items():
            self._external[transport] = await asyncio.to_thread(
                client.add, transport, port, self._lifetime, DESCRIPTION, self._external.get(transport))
        self._client = client
        mappings = tuple(Mapping(t, self._ports[t], e, "UPnP") for t, e in self._external.items())
        self.status = PortMapStatus(MapState.MAPPED, mappings, address)

    async def delete(self) -> None:
        """Remove what was mapped; a router gone meanwhile is only logged."""
        client, self._client = self._client, None
        for transport, external in list(self._external.items()) if client is not None else ():
            try:
                await asyncio.to_thread(client.delete, transport, external)
            except UpnpError as exc:
                log.info("could not remove the UPnP mapping of %s port %s: %s", transport, external, exc)
        self._external.clear()
