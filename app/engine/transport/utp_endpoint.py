"""The session's UDP endpoint: one socket on the listen port number for uTP and the DHT, and
the choice of transport for each outgoing peer connection.

`transport` is the user's setting: "both" dials TCP first and falls back to uTP when TCP
fails (libtorrent tries uTP first; ours costs more CPU than TCP for now, see `dial`), "utp" and
"tcp" use only one. Incoming uTP is accepted unless the setting is "tcp".
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import TypeVar

from app.engine.sockets import BlockedAddressError, Sockets
from app.engine.transport.udp_socket import UdpSocket
from app.engine.transport.utp_transport import UtpManager, UtpTransport

log = logging.getLogger(__name__)

TRANSPORTS = ("both", "tcp", "utp")
UTP_CONNECT_TIMEOUT = 3.0  # libtorrent's utp_connect_timeout: then "both" tries TCP

_Protocol = TypeVar("_Protocol", bound=asyncio.BaseProtocol)


class UtpEndpoint:
    """The shared UDP socket and its uTP connections."""

    def __init__(self, accept: Callable[[UtpTransport], None]) -> None:
        self.udp = UdpSocket()
        self.manager = UtpManager(self.udp.sendto, accept=accept, send_many=self.udp.send_many)
        self.udp.utp = self.manager

    async def start(self, sockets: Sockets, port: int) -> None:
        """Bind to `port` (the TCP port's number) or, if it is taken, any port (uTP out only)."""
        try:
            await self.udp.start(sockets, port)
        except OSError as exc:
            log.warning("UDP port %s is taken (%s): peers cannot reach us over uTP", port, exc.strerror or exc)
            await self.udp.start(sockets, 0)
        self.manager.sockname = (sockets.host, self.udp.port)

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
        try:
            ipaddress.IPv4Address(address[0])
        except ValueError:
            raise OSError(f"uTP dials IPv4 addresses, not {address[0]}") from None
        transport, protocol = await asyncio.wait_for(self.manager.connect(factory, *address), UTP_CONNECT_TIMEOUT)
        return transport, protocol  # type: ignore[return-value]

    def close(self) -> None:
        self.manager.close()
        self.udp.close()


async def dial(
    transport: str,
    endpoint: UtpEndpoint | None,
    sockets: Sockets,
    factory: Callable[[], _Protocol],
    address: tuple[str, int],
    tcp_timeout: float,
) -> tuple[asyncio.Transport, _Protocol]:
    """Connect to a peer over the transport the setting asks for.

    "both" dials TCP first and falls back to uTP when TCP fails (refused, timed out): our uTP
    costs several times TCP's CPU per GiB today, so TCP carries whatever it can reach and uTP
    reaches the peers that take only uTP. Incoming connections are taken over both.
    """
    if transport != "utp":
        try:
            return await asyncio.wait_for(sockets.connect(factory, address), tcp_timeout)
        except BlockedAddressError:
            raise  # not over uTP either
        except (OSError, TimeoutError) as exc:
            if transport == "tcp" or endpoint is None:
                raise
            log.debug("TCP to %s:%s failed (%s): trying uTP", *address, exc)
    if endpoint is None:
        raise OSError("uTP is not available")
    sockets.refuse_blocked(address[0])
    return await endpoint.connect(factory, address)
