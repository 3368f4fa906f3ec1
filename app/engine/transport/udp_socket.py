"""One UDP socket of one address family shared by uTP and that family's DHT node (BEP 32: the
IPv6 DHT has a socket of its own), on the same port number as the TCP listener (as libtorrent
and uTorrent do), so a peer that learnt our port from a tracker, the DHT or PEX can reach us
over either.

Datagrams are told apart by their first byte (BEP 29 / BEP 5): a uTP header has version 1 in its
low nibble and a type of 0..4 in its high one; a KRPC message is a bencoded dictionary, `d`.

On a selector loop the socket is drained in batches (asyncio reads one datagram per loop turn):
uTP then answers a whole burst with one ACK, as libtorrent does when its socket is drained.
On Linux, a run of equal-sized datagrams to one address leaves in one system call (UDP GSO:
the kernel cuts the buffer into datagrams), so a uTP sender pays one call per burst, not per
packet; the datagrams on the wire are the same.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from app.engine.sockets import Sockets
from app.engine.transport.utp_codec import looks_like_utp

log = logging.getLogger(__name__)
SOCKET_BUFFER = 4 * 1024 * 1024  # a burst of uTP packets waits here while Python catches up
MAX_BATCH = 64  # datagrams read per wake-up before the other callbacks get a turn
SOL_UDP = getattr(socket, "SOL_UDP", 17)
UDP_SEGMENT = getattr(socket, "UDP_SEGMENT", 103)  # Linux <netinet/udp.h>: the GSO segment size
MAX_SEGMENTS = 64  # Linux's UDP_MAX_SEGMENTS
MAX_GSO_BYTES = 65000  # a GSO send is one IP datagram before the kernel cuts it: under 64 KiB
# EIO: a device without checksum offload; EINVAL: a segment over the route's MTU, among others
GSO_UNSUPPORTED = {errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO, errno.EMSGSIZE}


def segment_runs(datagrams: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    """Consecutive datagrams that one GSO send can carry: all of one size but the last, which
    may be shorter (the kernel cuts the joined buffer every `len(run[0])` bytes)."""
    start = 0
    while start < len(datagrams):
        size = len(datagrams[start])
        limit = min(len(datagrams), start + MAX_SEGMENTS, start + max(1, MAX_GSO_BYTES // max(1, size)))
        end = start + 1
        while end < limit and len(datagrams[end]) <= size and len(datagrams[end - 1]) == size:
            end += 1
        yield datagrams[start:end]
        start = end


def _enlarge_buffers(sock: socket.socket) -> None:
    """The default (about 200 KiB) overflows under a fast uTP sender: lost packets halve its
    window. The system caps what we ask (net.core.rmem_max on Linux); less is still better."""
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
        except OSError as exc:
            log.debug("UDP socket buffer: %s", exc)


class DatagramHandler(Protocol):
    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None: ...


class BatchHandler(DatagramHandler, Protocol):
    def drained(self) -> None:
        """Every datagram that was waiting has been handed over: time to answer."""


class UdpSocket(asyncio.DatagramProtocol):
    """The shared socket: `utp` and `dht` receive what is theirs; both send through `transport`."""

    def __init__(self, family: int = socket.AF_INET) -> None:
        self.family = family
        self.transport: asyncio.DatagramTransport | None = None
        self.utp: BatchHandler | None = None
        self.dht: DatagramHandler | None = None
        self.dropped = 0  # datagrams for nobody (a disabled service, noise)
        self._reader: socket.socket | None = None  # our own handle on the socket: drains it, sends runs
        self._gso = sys.platform == "linux"  # until the kernel says it cannot

    async def start(self, sockets: Sockets, port: int) -> None:
        await sockets.datagram(lambda: self, port=port, family=self.family)

    @property
    def sockname(self) -> tuple[str, int]:
        assert self.transport is not None, "the UDP socket is not started"
        host, port = self.transport.get_extra_info("sockname")[:2]  # IPv6: also flow info and scope
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.sockname[1]

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def send_many(self, datagrams: Sequence[bytes], addr: tuple[str, int]) -> None:
        """Datagrams for one address, in order; runs of equal size in one system call each."""
        if not self._gso or self._reader is None or len(datagrams) < 2 or self._queued_by_asyncio():
            for datagram in datagrams:
                self.sendto(datagram, addr)
            return
        for run in segment_runs(datagrams):
            if len(run) == 1 or not self._send_segmented(run, addr):
                for datagram in run:
                    self.sendto(datagram, addr)

    def _send_segmented(self, run: Sequence[bytes], addr: tuple[str, int]) -> bool:
        """One GSO send; False if the run must go one datagram at a time (asyncio then queues
        what the socket cannot take now, and reports errors as for any datagram)."""
        assert self._reader is not None
        size = struct.pack("=H", len(run[0]))
        try:
            self._reader.sendmsg([b"".join(run)], [(SOL_UDP, UDP_SEGMENT, size)], 0, addr)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in GSO_UNSUPPORTED:
                log.debug("UDP GSO is not available here (%s): one datagram per call", exc)
                self._gso = False
            return False
        return True

    def _queued_by_asyncio(self) -> bool:
        """Datagrams asyncio holds for a full socket go first: ours must not pass them."""
        return self.transport is None or self.transport.get_write_buffer_size() > 0

    def close(self) -> None:
        if self._reader is not None:
            asyncio.get_running_loop().remove_reader(self._reader.fileno())
            self._reader.close()
            self._reader = None
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    # asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _enlarge_buffers(sock)
            self._take_over_reading(transport, sock)

    def _take_over_reading(self, transport: asyncio.DatagramTransport, sock: Any) -> None:
        """Read in batches where the loop lets us watch the socket (not on Windows' proactor)."""
        loop = asyncio.get_running_loop()
        pause = getattr(transport, "pause_reading", None)  # asyncio's selector transports have it
        if pause is None:
            return
        reader: socket.socket = sock.dup()
        reader.setblocking(False)
        try:
            loop.add_reader(reader.fileno(), self._drain)
        except NotImplementedError:
            reader.close()
            return
        pause()  # asyncio's own one-datagram reader stops
        self._reader = reader

    def _drain(self) -> None:
        assert self._reader is not None
        for _ in range(MAX_BATCH):
            try:
                data, addr = self._reader.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # ICMP errors arrive here on Linux
                self.error_received(exc)
                break
            self._route(data, addr)
        if self.utp is not None:
            self.utp.drained()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._route(data, addr)
        if self.utp is not None:
            self.utp.drained()

    def _route(self, data: bytes, addr: tuple[Any, ...]) -> None:
        handler = self.utp if looks_like_utp(data) else self.dht if data[:1] == b"d" else None
        if handler is None:
            self.dropped += 1
            return
        handler.datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP socket error: %s", exc)  # ICMP unreachable: uTP and the DHT time out on their own
