"""The asyncio adapter around the uTP core: `UtpManager` routes datagrams of one UDP socket to
connections and dials or accepts them; `UtpTransport` is an `asyncio.Transport` over one
connection, so a stream protocol (the peer wire's PeerConnection) runs on uTP unchanged.

All protocol decisions live in utp.py; this module moves datagrams, timers and events.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from app.engine.callbacks import logged
from app.engine.transport.utp import (
    CLOSED_BY_PEER,
    Closed,
    Connected,
    DataReceived,
    Event,
    State,
    UtpConnection,
    max_payload,
)
from app.engine.transport.utp_codec import SEQ_MASK, PacketType, UtpError, decode_packet

log = logging.getLogger(__name__)

Address = tuple[str, int]
ProtocolFactory = Callable[[], asyncio.BaseProtocol]
SendMany = Callable[[Sequence[bytes], Address], None]
DEFAULT_HIGH_WATER = 1024 * 1024  # bytes waiting to be packetized before the writer is paused


_logged = logged(log, "uTP")  # one bad datagram or timer must not stop the socket


class UtpManager:
    """Every uTP connection on one UDP socket, keyed by the peer's address and our receive id.

    `accept` gets each new incoming transport (None: incoming uTP is refused). New SYNs are
    ignored beyond `max_connections` connections or `max_half_open` accepted ones that have
    not yet heard from their peer (a flood of spoofed SYNs costs one ST_STATE each, no more).
    `send_many`, if given, sends what one connection has to send at once (in fewer system calls).
    """

    def __init__(
        self,
        sendto: Callable[[bytes, Address], None],
        *,
        accept: Callable[[UtpTransport], None] | None = None,
        max_connections: int = 200,
        max_half_open: int = 30,
        sockname: Address = ("0.0.0.0", 0),
        send_many: SendMany | None = None,
        route_mtu: Callable[[Address], int | None] = lambda _address: None,
    ) -> None:
        self._sendto = sendto
        self.route_mtu = route_mtu  # Sockets.route_mtu once the endpoint starts: packet sizes per path
        self._send_many = send_many
        self.accept = accept
        self.max_connections = max_connections
        self.max_half_open = max_half_open
        self.sockname = sockname
        self.connections: dict[tuple[Address, int], UtpTransport] = {}
        self._touched: dict[UtpTransport, None] = {}  # got datagrams since the socket was last drained
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def sendto(self, data: bytes, address: Address) -> None:
        self._sendto(data, address)

    def send_many(self, datagrams: Sequence[bytes], address: Address) -> None:
        if self._send_many is not None:
            self._send_many(datagrams, address)
            return
        for datagram in datagrams:
            self._sendto(datagram, address)

    async def connect(self, protocol_factory: ProtocolFactory, host: str, port: int) -> tuple[UtpTransport, Any]:
        """Dial (host, port): like `loop.create_connection`, OSError if the peer does not answer."""
        address = (str(ipaddress.ip_address(host)), port)  # uTP dials addresses, not names
        core = UtpConnection.outgoing(
            self._free_id(address), secrets.randbelow(SEQ_MASK + 1), payload=self._payload(address)
        )
        transport = self._add(address, core)
        core.connect(self.loop.time())
        transport.service()
        try:
            await transport.connected
        except asyncio.CancelledError:
            transport.abort()  # the dialler gave up (a timeout): no half-made connection stays
            raise
        protocol = protocol_factory()
        transport.attach(protocol)
        return transport, protocol

    def close(self) -> None:
        for transport in list(self.connections.values()):
            transport.abort()

    def drained(self) -> None:
        """The socket is drained: each connection that received something answers once."""
        touched, self._touched = self._touched, {}
        for transport in touched:
            _serve(transport)

    @_logged
    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        address = (str(addr[0]), int(addr[1]))  # IPv6 adds flow info and scope id: not part of the key
        kind, conn_id = data[0] >> 4, int.from_bytes(data[2:4], "big")
        if kind == PacketType.SYN:
            existing = self.connections.get((address, (conn_id + 1) & SEQ_MASK))
            if existing is not None:
                self._receive(existing, data)
            else:
                self._accept(data, address)
            return
        transport = self.connections.get((address, conn_id))
        if transport is not None:
            self._receive(transport, data)

    def _receive(self, transport: UtpTransport, data: bytes) -> None:
        transport.core.receive_datagram(data, self.loop.time())
        self._touched[transport] = None

    def _accept(self, data: bytes, address: Address) -> None:
        if self.accept is None or not self._room_for_one_more():
            return
        try:
            syn = decode_packet(data)
        except UtpError:
            return
        core = UtpConnection.incoming(
            syn, secrets.randbelow(SEQ_MASK + 1), self.loop.time(), payload=self._payload(address)
        )
        if (address, core.recv_id) in self.connections:
            return  # BEP 29: a colliding id fails the attempt
        transport = self._add(address, core)
        transport.connected.set_result(None)
        self.accept(transport)
        transport.service()

    def _payload(self, address: Address) -> int:
        return max_payload(self.route_mtu(address), ipv6=":" in address[0])

    def _room_for_one_more(self) -> bool:
        if len(self.connections) >= self.max_connections:
            return False
        half_open = sum(1 for transport in self.connections.values() if transport.half_open)
        return half_open < self.max_half_open

    def _add(self, address: Address, core: UtpConnection) -> UtpTransport:
        transport = UtpTransport(self, core, address)
        self.connections[(address, core.recv_id)] = transport
        return transport

    def _free_id(self, address: Address) -> int:
        while True:
            recv_id = secrets.randbelow(SEQ_MASK + 1)
            if (address, recv_id) not in self.connections and (address, (recv_id + 1) & SEQ_MASK) not in self.connections:
                return recv_id

    def forget(self, transport: UtpTransport) -> None:
        key = (transport.address, transport.core.recv_id)
        if self.connections.get(key) is transport:
            del self.connections[key]


class UtpTransport(asyncio.Transport):
    """One uTP connection as an asyncio stream transport (BufferedProtocol or Protocol)."""

    def __init__(self, manager: UtpManager, core: UtpConnection, address: Address) -> None:
        super().__init__()
        self.manager = manager
        self.core = core
        self.address = address
        self.connected: asyncio.Future[None] = manager.loop.create_future()
        self._protocol: asyncio.BaseProtocol | None = None
        self._pending: deque[memoryview] = deque()  # received, not yet handed to the protocol
        self._backlog: deque[bytes] = deque()  # written, not yet taken by the core
        self._backlog_bytes = 0
        self._high = DEFAULT_HIGH_WATER
        self._low = DEFAULT_HIGH_WATER // 4
        self._writing_paused = False
        self._reading_paused = False
        self._closing = False
        self._closed: Closed | None = None
        self._lost = False
        self._flush_soon: asyncio.Handle | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    @property
    def half_open(self) -> bool:
        """Accepted and not yet confirmed by a packet after the SYN."""
        return self.core.state is State.CONNECTED and not self.core.confirmed

    def attach(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        protocol.connection_made(self)
        self._deliver()
        self._tell_the_end()

    # ------------------------------------------------------------------ asyncio.Transport

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        info = {"peername": self.address, "sockname": self.manager.sockname, "transport": "uTP"}
        return info.get(name, default)

    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        if self.is_closing():
            return
        self._closing = True  # the core closes once it has taken the whole backlog
        self.service()

    def abort(self) -> None:
        if self._lost:
            return
        self._closing = True
        self.core.abort(self.manager.loop.time())
        self.service()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.is_closing() or not data:
            return
        self._backlog.append(bytes(data))
        self._backlog_bytes += len(data)
        self._push_backlog()
        self._check_high_water()
        if self._flush_soon is None:
            self._flush_soon = self.manager.loop.call_soon(self._flush)  # one packet for many small writes

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("uTP has no half-close")

    def get_write_buffer_size(self) -> int:
        return self.core.send_buffer_size + self._backlog_bytes

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._low, self._high

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = DEFAULT_HIGH_WATER if high is None else high
        self._low = self._high // 4 if low is None else low
        self._check_high_water()

    def pause_reading(self) -> None:
        self._reading_paused = True
        self.core.pause_reading()

    def resume_reading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        self._deliver()
        if not self._reading_paused:
            self.core.resume_reading()
            self.service()

    def is_reading(self) -> bool:
        return not self._reading_paused

    # ------------------------------------------------------------------ driving the core

    def service(self) -> None:
        """After anything happened: send what the core wants sent, hand out its events, rearm."""
        self._push_backlog()
        now = self.manager.loop.time()
        datagrams = self.core.datagrams_to_send(now)
        if datagrams:
            self.manager.send_many(datagrams, self.address)
        for event in self.core.events():
            _EVENT_HANDLERS[type(event)](self, event)
        self._check_low_water()
        self._rearm()
        self._forget_when_done()

    @_logged
    def _flush(self) -> None:
        self._flush_soon = None
        if self.core.state is not State.CLOSED:
            self.service()

    @_logged
    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.core.timeout(self.manager.loop.time())
        self.service()

    def _rearm(self) -> None:
        deadline = self.core.next_timer()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = None if deadline is None else self.manager.loop.call_at(deadline, self._on_timer)

    def _push_backlog(self) -> None:
        while self._backlog and self.core.send_capacity and self.core.can_send:
            head = self._backlog[0]
            taken = self.core.send(head)
            self._backlog_bytes -= taken
            if taken == len(head):
                self._backlog.popleft()
            else:
                self._backlog[0] = head[taken:]
        if self._closing and not self._backlog and self.core.can_send:
            self.core.close()

    def _check_high_water(self) -> None:
        if not self._writing_paused and self._protocol is not None and self.get_write_buffer_size() > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def _check_low_water(self) -> None:
        if self._writing_paused and self._protocol is not None and self.get_write_buffer_size() <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()

    # ------------------------------------------------------------------ events from the core

    def _on_connected(self, event: Connected) -> None:
        if not self.connected.done():
            self.connected.set_result(None)

    def _on_data(self, event: DataReceived) -> None:
        self._pending.append(memoryview(event.data))
        self._deliver()

    def _deliver(self) -> None:
        """Hand pending data to the protocol, stopping as soon as it pauses reading."""
        protocol = self._protocol
        while self._pending and protocol is not None and not self._reading_paused and not self._lost:
            view = self._pending.popleft()
            if isinstance(protocol, asyncio.BufferedProtocol):
                buffer = protocol.get_buffer(len(view))
                size = min(len(buffer), len(view))
                buffer[:size] = view[:size]
                if size < len(view):
                    self._pending.appendleft(view[size:])
                protocol.buffer_updated(size)
            else:
                assert isinstance(protocol, asyncio.Protocol)
                protocol.data_received(bytes(view))
        self._tell_the_end()

    def _on_closed(self, event: Closed) -> None:
        self._closing = True
        self._closed = event
        if not self.connected.done():
            self.connected.set_exception(ConnectionRefusedError(event.reason))
            self.connected.exception()  # retrieved: the dialler may have given up already
        self._tell_the_end()

    def _tell_the_end(self) -> None:
        """The protocol hears of the end once it has every byte that came before it."""
        event, protocol = self._closed, self._protocol
        if event is None or protocol is None or self._pending or self._lost:
            return
        self._lost = True
        if event is CLOSED_BY_PEER and isinstance(protocol, asyncio.Protocol | asyncio.BufferedProtocol):
            protocol.eof_received()  # no half-close in uTP: the connection ends either way
        protocol.connection_lost(ConnectionResetError(event.reason) if event.error else None)

    def _forget_when_done(self) -> None:
        """The core may linger after the protocol is told (our FIN awaiting its ACK)."""
        if self.core.state is State.CLOSED and (self._lost or self._protocol is None):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = self._timer_at = None
            self.manager.forget(self)


@_logged
def _serve(transport: UtpTransport) -> None:
    """One connection's turn after a drained socket: its failure is logged, the others go on."""
    transport.service()


_EVENT_HANDLERS: dict[type[Event], Callable[[UtpTransport, Any], None]] = {
    Connected: UtpTransport._on_connected,
    DataReceived: UtpTransport._on_data,
    Closed: UtpTransport._on_closed,
}
