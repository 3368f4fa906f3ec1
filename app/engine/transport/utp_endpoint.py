"""The session's UDP endpoints: per address family, one socket on the listen port number for
uTP and that family's DHT node; and the order in which an outgoing peer connection tries the
transports.

`transport` is the user's setting (`DIAL_ORDERS`): "both" dials TCP first and falls back to uTP
when TCP fails, "utp-first" the other way round (as libtorrent does), "tcp" and "utp" use only
one. Incoming uTP is accepted unless the setting is "tcp"; incoming TCP always.

    endpoint = UtpEndpoint(accept, socket.AF_INET6); await endpoint.start(sockets, port)
    order = dial_order("both", speaks_utp=True)    # ("utp", "tcp"): PEX said it speaks uTP
    transport, protocol = await dial(order, {AF_INET6: endpoint}, sockets, factory, address, 10.0)
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, TypeVar

from app.engine.sockets import BlockedAddressError, Sockets
from app.engine.tracker.compact import address_family
from app.engine.transport.udp_socket import UdpSocket
from app.engine.transport.utp_transport import UtpManager, UtpTransport

log = logging.getLogger(__name__)

TCP: Final = "tcp"
UTP: Final = "utp"
# The transports a setting dials, in order. "both" (the default) tries TCP first: our uTP costs
# several times TCP's CPU per GiB today (Python packetizes and acknowledges every 1.4 KB), so
# TCP carries whatever it can reach and uTP the peers that take only uTP. "utp-first" is for
# whoever wants uTP's yielding to other traffic (LEDBAT) more than that CPU.
DIAL_ORDERS: Final[dict[str, tuple[str, ...]]] = {
    "both": (TCP, UTP),
    "utp-first": (UTP, TCP),
    "tcp": (TCP,),
    "utp": (UTP,),
}
TRANSPORTS: Final = tuple(DIAL_ORDERS)
UTP_CONNECT_TIMEOUT = 3.0  # libtorrent's utp_connect_timeout: then "utp-first" tries TCP

_Protocol = TypeVar("_Protocol", bound=asyncio.BaseProtocol)


def dial_order(setting: str, *, speaks_utp: bool = False) -> tuple[str, ...]:
    """The transports to try for one peer, first to last.

    BEP 11: a PEX flag 0x04 says the peer that told us reaches this one over uTP, so uTP goes
    first for it whenever the setting allows both (libtorrent does the same)."""
    order = DIAL_ORDERS[setting]
    if speaks_utp and UTP in order:
        return (UTP, *(name for name in order if name != UTP))
    return order


class UtpEndpoint:
    """One family's shared UDP socket and its uTP connections."""

    def __init__(self, accept: Callable[[UtpTransport], None], family: int = socket.AF_INET) -> None:
        self.family = family
        self.udp = UdpSocket(family)
        self.manager = UtpManager(self.udp.sendto, accept=accept, send_many=self.udp.send_many)
        self.udp.utp = self.manager

    async def start(self, sockets: Sockets, port: int) -> None:
        """Bind to `port` (the TCP port's number) or, if it is taken, any port (uTP out only)."""
        try:
            await self.udp.start(sockets, port)
        except OSError as exc:
            log.warning("UDP port %s is taken (%s): peers cannot reach us over uTP", port, exc.strerror or exc)
            await self.udp.start(sockets, 0)
        self.manager.sockname = self.udp.sockname
        self.manager.route_mtu = sockets.route_mtu

    @property
    def port(self) -> int:
        return self.udp.port

    def set_limits(self, max_connections: int, max_half_open: int) -> None:
        self.manager.max_connections = max_connections
        self.manager.max_half_open = max_half_open

    async def connect(
        self, factory: Callable[[], _Protocol], address: tuple[str, int]
    ) -> tuple[UtpTransport, _Protocol]:
        """Dial over uTP; OSError (or TimeoutError) if that does not work."""
        transport, protocol = await asyncio.wait_for(self.manager.connect(factory, *address), UTP_CONNECT_TIMEOUT)
        return transport, protocol  # type: ignore[return-value]

    def close(self) -> None:
        self.manager.close()
        self.udp.close()


async def dial(
    order: tuple[str, ...],
    endpoints: Mapping[int, UtpEndpoint],
    sockets: Sockets,
    factory: Callable[[], _Protocol],
    address: tuple[str, int],
    tcp_timeout: float,
) -> tuple[asyncio.Transport, _Protocol]:
    """Connect to a peer over each transport of `order` in turn until one works (refused, timed
    out or unavailable: the next one); the last tried one's error if none does. A peer the IP
    filter blocks is dialed over none of them."""
    sockets.refuse_blocked(address[0])
    dialers: dict[str, Callable[[], Awaitable[tuple[asyncio.Transport, _Protocol]]]] = {
        TCP: lambda: asyncio.wait_for(sockets.connect(factory, address), tcp_timeout),
        UTP: lambda: _dial_utp(endpoints, factory, address),
    }
    failure: BaseException | None = None
    for name in order:
        try:
            return await dialers[name]()
        except BlockedAddressError:
            raise
        except _Unavailable as exc:
            failure = failure or exc
        except (OSError, TimeoutError) as exc:
            log.debug("%s to %s:%s failed (%s)", name, *address, exc)
            failure = exc
    raise failure or _Unavailable("no transport to dial")


class _Unavailable(OSError):
    """The transport cannot reach this address at all (no uTP socket of its family): not tried."""


async def _dial_utp(
    endpoints: Mapping[int, UtpEndpoint], factory: Callable[[], _Protocol], address: tuple[str, int]
) -> tuple[asyncio.Transport, _Protocol]:
    endpoint = endpoints.get(address_family(address[0]) or socket.AF_UNSPEC)
    if endpoint is None:
        raise _Unavailable(f"uTP is not available to {address[0]}")
    return await endpoint.connect(factory, address)
