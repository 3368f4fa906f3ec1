"""One UDP socket shared by uTP and the DHT, on the same port number as the TCP listener (as
libtorrent and uTorrent do), so a peer that learnt our port from a tracker, the DHT or PEX can
reach us over either.

Datagrams are told apart by their first byte (BEP 29 / BEP 5): a uTP header has version 1 in its
low nibble and a type of 0..4 in its high one; a KRPC message is a bencoded dictionary, `d`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, Protocol

from app.engine.sockets import Sockets
from app.engine.transport.utp_codec import looks_like_utp

log = logging.getLogger(__name__)


class DatagramHandler(Protocol):
    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None: ...


class UdpSocket(asyncio.DatagramProtocol):
    """The shared socket: `utp` and `dht` receive what is theirs; both send through `transport`."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.utp: DatagramHandler | None = None
        self.dht: DatagramHandler | None = None
        self.dropped = 0  # datagrams for nobody (a disabled service, noise)

    async def start(self, sockets: Sockets, port: int) -> None:
        await sockets.datagram(lambda: self, port=port, family=socket.AF_INET)

    @property
    def port(self) -> int:
        assert self.transport is not None, "the UDP socket is not started"
        return int(self.transport.get_extra_info("sockname")[1])

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    # asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        handler = self.utp if looks_like_utp(data) else self.dht if data[:1] == b"d" else None
        if handler is None:
            self.dropped += 1
            return
        handler.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP socket error: %s", exc)  # ICMP unreachable: uTP and the DHT time out on their own
