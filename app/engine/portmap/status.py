"""What port mapping achieved, as the snapshot carries it to the window and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MapState(Enum):
    OFF = "off"  # switched off by the user
    TRYING = "trying"  # asking the router
    MAPPED = "mapped"  # at least one port is open
    FAILED = "failed"  # no router answered, or it refused (the reason says which)


@dataclass(frozen=True, slots=True)
class Mapping:
    """One open port on the router: `external_port` may differ from the one asked for."""

    transport: str  # "TCP" or "UDP"
    internal_port: int
    external_port: int
    method: str  # "UPnP", "PCP" or "NAT-PMP"


@dataclass(frozen=True, slots=True)
class PortMapStatus:
    state: MapState = MapState.OFF
    mappings: tuple[Mapping, ...] = ()
    external_address: str = ""
    reason: str = ""  # why FAILED, in plain words

    @property
    def summary(self) -> str:
        """One sentence for the status bar: 'Port 51413 open through UPnP (203.0.113.7)'."""
        return _SUMMARIES[self.state](self)


def _mapped(status: PortMapStatus) -> str:
    tcp = next((m for m in status.mappings if m.transport == "TCP"), status.mappings[0])
    where = f" ({status.external_address})" if status.external_address else ""
    return f"Port {tcp.external_port} open through {tcp.method}{where}"


_SUMMARIES = {
    MapState.OFF: lambda status: "Port mapping is off",
    MapState.TRYING: lambda status: "Asking the router to open the port…",
    MapState.MAPPED: _mapped,
    MapState.FAILED: lambda status: f"No port mapping: {status.reason}",
}
