"""Every socket the engine opens, from the address the user chose (DESIGN.md, "Connections").

"VPN only" is a promise: bound to an address, nothing leaves from another one. So peers
(TCP listen and dial), HTTP trackers (aiohttp), UDP trackers, the DHT and LSD all get their
sockets here, never from the loop directly. The IP filter and the user's bans (`gate`,
app/engine/peer_gate.py) stop a blocked peer here: never dialed, over TCP or uTP; an accepted
one is refused by the session before any handshake byte. The encryption policy and connection
limits are meant to join this one place later.

    sockets = Sockets("10.8.0.2")                 # or Sockets() for "any address"
    listener = await sockets.listen(factory, port)  # listener.port, listener.close()
    transport, protocol = await sockets.connect(factory, (ip, port))
    transport, protocol = await sockets.datagram(factory, port=6881)            # DHT
    transport, protocol = await sockets.datagram(factory, remote=(ip, port))    # UDP tracker
    family = sockets.family                       # resolve remote names in this family only
    families = sockets.families                   # the stacks we speak: (AF_INET, AF_INET6) unbound
    http = sockets.http_client()                  # an aiohttp session (http_clients(): per family)
    sock = sockets.multicast(group, port, ttl=1)  # LSD (IPv4 or IPv6 group), router announcements

Multicast (LSD, and NAT-PMP/PCP restart announcements on 224.0.0.1:5350) is the one kind of
socket not bound to the chosen address: to hear a group, a socket
binds to the group's address (on Linux; to the port only on Windows). Bound here means the
group is joined on the chosen interface only and datagrams go out from the chosen address
(IP_MULTICAST_IF), so a neighbour sees them come from it.

Both stacks: with no chosen address we listen on 0.0.0.0 and on [::] (IPV6_V6ONLY, as asyncio
sets it) at the same port, two sockets rather than one dual-stack "::" socket: IPV6_V6ONLY's
default differs between Linux, Windows and the BSDs (OpenBSD has no dual-stack sockets at
all), and a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d, which would then need
unmapping everywhere. libtorrent does the same ("0.0.0.0:6881,[::]:6881"). The UDP sockets of
uTP and the DHT pair up the same way, so their IPv6 one is made IPV6_V6ONLY here (asyncio does
not for datagram endpoints). A chosen IPv4 address speaks IPv4 only, a chosen IPv6 address
IPv6 only.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import psutil

log = logging.getLogger(__name__)

from app.engine.peer_gate import PeerGate

ANY_HOSTS = ("", "0.0.0.0", "::")
BOTH_FAMILIES = (socket.AF_INET, socket.AF_INET6)
IP_MTU = getattr(socket, "IP_MTU", 14)  # Linux values; elsewhere the getsockopt fails and
IPV6_MTU = getattr(socket, "IPV6_MTU", 24)  # route_mtu answers None
PORT_0_ATTEMPTS = 5  # port 0: the IPv4 socket's free port may be taken on IPv6; try another

_Protocol = TypeVar("_Protocol", bound=asyncio.BaseProtocol)
_Datagram = TypeVar("_Datagram", bound=asyncio.DatagramProtocol)


class BlockedAddressError(ConnectionRefusedError):
    """The peer's address is in the IP filter or banned: it was not dialed."""


@dataclass(frozen=True, slots=True)
class Sockets:
    """Makes the engine's sockets, all from `host` unless it is an any-address ("" or 0.0.0.0)."""

    host: str = "0.0.0.0"
    gate: PeerGate = field(default_factory=PeerGate, compare=False)  # shared by every copy `replace` makes

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

    @property
    def families(self) -> tuple[int, ...]:
        """The address families the engine speaks: the chosen address's, or both when unbound."""
        if self.bound:
            return (self.family or socket.AF_INET,)
        return BOTH_FAMILIES if socket.has_ipv6 else (socket.AF_INET,)

    def local_address(self) -> tuple[str, int] | None:
        """Where outgoing connections start from (any port), or None for the system's choice."""
        return (self.host, 0) if self.bound else None

    def route_mtu(self, address: tuple[str, int]) -> int | None:
        """The MTU the system knows for the path to `address` (its route's interface, or less
        once an ICMP "fragmentation needed" said so), from the chosen address; None if unknown.
        A connected UDP socket asks the routing table and sends nothing (Linux: IP_MTU)."""
        v6 = ":" in address[0]
        option = (socket.IPPROTO_IPV6, IPV6_MTU) if v6 else (socket.IPPROTO_IP, IP_MTU)
        try:
            with socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM) as probe:
                if self.bound:
                    probe.bind((self.host, 0))
                probe.connect(address)
                return probe.getsockopt(*option)
        except OSError:
            return None  # no such option here, no route, or another family than the chosen one

    async def listen(self, factory: Callable[[], asyncio.BaseProtocol], port: int) -> Listener:
        """TCP listening on the chosen address, or on both stacks at one port when unbound.

        IPv6 that cannot be had (no IPv6 on this machine) leaves IPv4 alone, with a warning.
        """
        if self.bound:
            return Listener((await _serve(factory, self.host, port),))
        for _ in range(PORT_0_ATTEMPTS if port == 0 else 1):
            first = await _serve(factory, "0.0.0.0", port)
            try:
                return Listener((first, await _serve(factory, "::", first.sockets[0].getsockname()[1])))
            except OSError as exc:
                if port == 0 and exc.errno == errno.EADDRINUSE:
                    first.close()
                    continue
                log.warning("not listening on IPv6: %s", exc.strerror or exc)
                return Listener((first,))
        log.warning("not listening on IPv6: no port free on both stacks")
        return Listener((await _serve(factory, "0.0.0.0", port),))

    async def connect(
        self, factory: Callable[[], _Protocol], address: tuple[str, int]
    ) -> tuple[asyncio.Transport, _Protocol]:
        """A TCP connection to a peer; BlockedAddressError, with nothing sent, if the gate blocks it."""
        self.refuse_blocked(address[0])
        return await asyncio.get_running_loop().create_connection(
            factory, *address, local_addr=self.local_address(), family=self.family
        )

    def refuse_blocked(self, host: str) -> None:
        """BlockedAddressError if the IP filter or a ban blocks `host` (uTP dials ask this too)."""
        if self.gate.refuses(host):
            raise BlockedAddressError(errno.ECONNREFUSED, "blocked by the IP filter")

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
        loop = asyncio.get_running_loop()
        if family == socket.AF_INET6 and remote is None:
            return await loop.create_datagram_endpoint(factory, sock=_ipv6_only_udp(host, port))
        return await loop.create_datagram_endpoint(factory, local_addr=(host, port), remote_addr=remote, family=family)

    def http_client(self, family: int | None = None) -> aiohttp.ClientSession:
        """An aiohttp session whose connections all start from the chosen address (and, given a
        `family`, go to servers' addresses of that family only)."""
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(local_addr=self.local_address(), family=family or self.family)
        )

    def http_clients(self) -> dict[int, aiohttp.ClientSession]:
        """One HTTP client per family we speak (trackers hear from us over each, BEP 7), and
        under AF_UNSPEC one that goes to a server over whichever family it has (web seeds)."""
        families = (socket.AF_UNSPEC, *self.families)
        return {family: self.http_client(family) for family in families}

    def multicast(self, group: str, port: int, *, ttl: int) -> socket.socket:
        """A non-blocking UDP socket in `group` (IPv4 or IPv6) on the chosen interface, sending
        from it, with loop-back on so that other clients on this machine hear us too."""
        family = socket.AF_INET6 if ":" in group else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # other clients share it
            # Binding to the group filters out other traffic; Windows only binds to an interface.
            sock.bind(("" if sys.platform == "win32" else group, port))
            _JOINERS[family](self, sock, group, ttl)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    def _join_ipv4(self, sock: socket.socket, group: str, ttl: int) -> None:
        interface = socket.inet_aton(self.host if self.bound else "0.0.0.0")
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)

    def _join_ipv6(self, sock: socket.socket, group: str, ttl: int) -> None:
        """IPv6 names the interface by index, not by address (RFC 3493 ipv6_mreq)."""
        index = self.interface_index()
        membership = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, membership)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)

    def interface_index(self) -> int:
        """The index of the interface that holds the chosen address (0: the system's choice)."""
        if not self.bound:
            return 0
        chosen = ipaddress.ip_address(self.host.split("%")[0])
        for name, addresses in psutil.net_if_addrs().items():
            if any(_same_ip(address.address, chosen) for address in addresses):
                return socket.if_nametoindex(name)
        raise OSError(errno.EADDRNOTAVAIL, f"no interface has the address {self.host}")


_JOINERS: dict[int, Callable[[Sockets, socket.socket, str, int], None]] = {
    socket.AF_INET: Sockets._join_ipv4,
    socket.AF_INET6: Sockets._join_ipv6,
}


def _ipv6_only_udp(host: str, port: int) -> socket.socket:
    """A UDP socket bound to [host]:port that takes IPv6 only. asyncio sets IPV6_V6ONLY on the
    TCP servers it makes but not on datagram endpoints: on Linux [::]:port would then be
    dual-stack and clash with the IPv4 socket already on 0.0.0.0:port (uTP, the DHT)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _same_ip(text: str, chosen: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(text.split("%")[0]) == chosen
    except ValueError:  # a MAC address in the list
        return False


@dataclass(frozen=True, slots=True)
class Listener:
    """The engine's listening TCP sockets: one per address family, all on one port."""

    servers: tuple[asyncio.Server, ...]

    @property
    def port(self) -> int:
        return int(self.servers[0].sockets[0].getsockname()[1])

    @property
    def families(self) -> tuple[int, ...]:
        return tuple(server.sockets[0].family for server in self.servers)

    @property
    def sockets(self) -> list[socket.socket]:
        return [sock for server in self.servers for sock in server.sockets]

    def close(self) -> None:
        for server in self.servers:
            server.close()

    async def wait_closed(self) -> None:
        for server in self.servers:
            await server.wait_closed()


async def _serve(factory: Callable[[], asyncio.BaseProtocol], host: str, port: int) -> asyncio.Server:
    return await asyncio.get_running_loop().create_server(factory, host, port, reuse_address=True)
