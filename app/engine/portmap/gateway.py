"""Where the router is: the default gateway, on the interface of the chosen address if one was.

NAT-PMP and PCP talk to the default gateway (RFC 6886 3, RFC 6887 8.1). Linux tells it in
/proc/net/route; elsewhere there is no file to read, and the caller says so in plain words.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

ROUTES = Path("/proc/net/route")
_GATEWAY_FLAG = 0x2  # RTF_GATEWAY


@dataclass(frozen=True, slots=True)
class _Route:
    interface: str
    destination: int
    gateway: int
    flags: int
    mask: int

    def holds(self, address: int) -> bool:
        return not self.flags & _GATEWAY_FLAG and address & self.mask == self.destination


def default_gateway(bound_host: str | None = None, routes: Path = ROUTES) -> str | None:
    """The IPv4 default gateway (through the interface whose network holds `bound_host`)."""
    try:
        table = [route for line in routes.read_text().splitlines()[1:] if (route := _parse(line))]
    except (OSError, ValueError):
        return None
    if bound_host:
        address = int(ipaddress.IPv4Address(bound_host))
        interfaces = {r.interface for r in table if r.holds(address)}
        table = [r for r in table if r.interface in interfaces]
    gateway = next((r.gateway for r in table if r.destination == 0 and r.mask == 0
                    and r.flags & _GATEWAY_FLAG), None)
    return None if gateway is None else str(ipaddress.IPv4Address(gateway))


def _parse(line: str) -> _Route | None:
    columns = line.split()
    if len(columns) < 8:
        return None
    return _Route(columns[0], _number(columns[1]), _number(columns[2]), int(columns[3], 16), _number(columns[7]))


def _number(column: str) -> int:
    """/proc/net/route writes addresses as hex numbers in the host's byte order."""
    return int.from_bytes(int(column, 16).to_bytes(4, sys.byteorder), "big")
