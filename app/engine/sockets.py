"""Every socket the engine opens, from the address the user chose (DESIGN.md, "Connections").

"VPN only" is a promise: bound to an address, nothing leaves from another one. So peers
(TCP listen and dial), HTTP trackers (aiohttp), UDP trackers, the DHT and LSD all get their
sockets here, never from the loop directly. The encryption policy, an IP filter and
connection limits are meant to join this one place later.

    sockets = Sockets("10.8.0.2")                 # or Sockets() for "any address"
    server = await sockets.listen(factory, port)
    transport, protocol = await sockets.connect(factory, (ip, port))
    transport, protocol = await sockets.datagram(factory, port=6881)            # DHT
    transport, protocol = await sockets.datagram(factory, remote=(ip, port))    # UDP tracker
    family = sockets.family                       # resolve remote names in this family only
    http = sockets.http_client()                  # an aiohttp session
    sock = sockets.multicast(group, port, ttl=1)  # LSD

Multicast (LSD) is the one socket not bound to the chosen address: to hear a group, a socket
binds to the group's address (on Linux; to the port only on Windows). Bound here means the
group is joined on the chosen interface only and datagrams go out from the chosen address
(IP_MULTICAST_IF), so a neighbour sees them come from it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

ANY_HOSTS = ("", "0.0.0.0", "::")

_Protocol = TypeVar("_Protocol", bound=asyncio.BaseProtocol)
_Datagram = TypeVar("_Datagram", bound=asyncio.DatagramProtocol)


@dataclass(frozen=True, slots=True)
class Sockets:
    """Makes the engine's sockets, all from `host` unless it is an any-address ("" or 0.0.0.0)."""

    host: str = "0.0.0.0"

    @property
    def bound(self) -> bool:
        return self.host not in ANY_HOSTS

    @property
    def family(self) -> int:
        """The address family every remote address must have: the chosen address's (0: any)."""
        try:
            version = ipaddress.ip_address(self.host).version
        except ValueError:
            return socket.AF_UNSPEC  # a host name: the system picks the family
        if not self.bound:
            return socket.AF_UNSPEC
        return socket.AF_INET6 if version == 6 else socket.AF_INET

    def local_address(self) -> tuple[str, int] | None:
        """Where outgoing connections start from (any port), or None for the system's choice."""
        return (self.host, 0) if self.bound else None

    async def listen(self, factory: Callable[[], asyncio.BaseProtocol], port: int) -> asyncio.Server:
        return await asyncio.get_running_loop().create_server(
            factory, self.host or None, port, reuse_address=True
        )

    async def connect(
        self, factory: Callable[[], _Protocol], address: tuple[str, int]
    ) -> tuple[asyncio.Transport, _Protocol]:
        return await asyncio.get_running_loop().create_connection(
            factory, *address, local_addr=self.local_address(), family=self.family
        )

    async def datagram(
        self,
        factory: Callable[[], _Datagram],
        *,
        port: int = 0,
        remote: tuple[Any, ...] | None = None,
        family: int | None = None,
    ) -> tuple[asyncio.DatagramTransport, _Datagram]:
        """A UDP endpoint on the chosen address (any address: IPv4 unless `family` says)."""
        family = family or self.family or socket.AF_INET
        host = self.host if self.bound else ("::" if family == socket.AF_INET6 else "0.0.0.0")
        return await asyncio.get_running_loop().create_datagram_endpoint(
            factory, local_addr=(host, port), remote_addr=remote, family=family
        )

    def http_client(self) -> aiohttp.ClientSession:
        """An aiohttp session whose connections all start from the chosen address."""
        local = self.local_address()
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=local, family=self.family) if local else None
        )

    def multicast(self, group: str, port: int, *, ttl: int) -> socket.socket:
        """A non-blocking IPv4 UDP socket in `group` on the chosen interface, sending from it,
        with loop-back on so that other clients on this machine hear us too."""
        interface = self.host if self.bound else "0.0.0.0"
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # other clients share it
            # Binding to the group filters out other traffic; Windows only binds to an interface.
            sock.bind(("" if sys.platform == "win32" else group, port))
            membership = socket.inet_aton(group) + socket.inet_aton(interface)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock
