"""The session's port mapping: UPnP and PCP / NAT-PMP side by side, kept alive, removed on exit.

    service = PortMapService(sockets, {"TCP": 51413, "UDP": 51413})
    await service.start()
    service.status            # PortMapStatus: what the window's status bar says
    await service.close()     # deletes the mappings

Both methods run at once: whichever the router speaks opens the port (many speak both; a
mapping made both ways is the same mapping to the router). Bound to a loopback address,
nothing is asked: nobody outside this computer could reach it anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.engine.portmap.pmp_client import PmpClient
from app.engine.portmap.pmp_mapper import ATTEMPTS
from app.engine.portmap.status import MapState, PortMapStatus
from app.engine.portmap.upnp import DISCOVERY_MS
from app.engine.portmap.upnp_mapper import UpnpMapper
from app.engine.sockets import Sockets

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0  # removing the mappings on exit waits at most this long for the router


@dataclass(frozen=True, slots=True)
class PortMapOptions:
    lifetime: int = 3600  # seconds a mapping is asked for; renewed at half of it
    attempts: int = ATTEMPTS  # PCP / NAT-PMP tries before the router is taken as absent
    retry_after: float = 300.0  # a router that did not answer UPnP is looked for again after this
    discovery_ms: int = DISCOVERY_MS
    upnp: bool = True
    pmp: bool = True


class PortMapService:
    def __init__(self, sockets: Sockets, ports: dict[str, int], options: PortMapOptions = PortMapOptions()) -> None:
        self._sockets, self._ports, self._options = sockets, ports, options
        self._upnp = UpnpMapper(sockets, ports, lifetime=options.lifetime, retry_after=options.retry_after,
                                discovery_ms=options.discovery_ms) if options.upnp else None
        self._pmp = PmpClient(sockets, ports, lifetime=options.lifetime, attempts=options.attempts) if options.pmp else None
        self._tasks: list[asyncio.Task[None]] = []
        self._refusal = _loopback_refusal(sockets)

    @property
    def status(self) -> PortMapStatus:
        if self._refusal:
            return PortMapStatus(MapState.FAILED, reason=self._refusal)
        methods = (("UPnP", self._upnp), ("NAT-PMP/PCP", self._pmp))
        return merged({name: m.status for name, m in methods if m is not None})

    async def start(self) -> None:
        if self._refusal:
            return
        for method in (self._upnp, self._pmp):
            if method is not None:
                self._tasks.append(asyncio.ensure_future(self._guarded(method.run)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pmp is not None:
            self._pmp.close()
        if self._upnp is not None and self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._upnp.delete(), CLOSE_TIMEOUT)
        self._tasks.clear()

    @staticmethod
    async def _guarded(run: Callable[[], Awaitable[None]]) -> None:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:  # a task boundary: the other method goes on
            log.exception("port mapping failed")


def merged(statuses: dict[str, PortMapStatus]) -> PortMapStatus:
    """One status from several methods: every open port, else every reason, else 'trying'."""
    mappings = tuple(m for status in statuses.values() for m in status.mappings)
    address = next((s.external_address for s in statuses.values() if s.external_address), "")
    if mappings:
        return PortMapStatus(MapState.MAPPED, mappings, address)
    if not statuses or any(s.state != MapState.FAILED for s in statuses.values()):
        return PortMapStatus(MapState.TRYING if statuses else MapState.OFF)
    reasons = {s.reason for s in statuses.values()}
    if len(reasons) == 1:  # "the router did not answer", whichever way it was asked
        return PortMapStatus(MapState.FAILED, reason=reasons.pop())
    return PortMapStatus(MapState.FAILED, reason="; ".join(f"{name}: {s.reason}" for name, s in statuses.items()))


def _loopback_refusal(sockets: Sockets) -> str:
    try:
        loopback = sockets.bound and ipaddress.ip_address(sockets.host).is_loopback
    except ValueError:
        return ""
    return f"the client is bound to {sockets.host}, which only this computer can reach" if loopback else ""
