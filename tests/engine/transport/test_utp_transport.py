"""The uTP asyncio adapter on loopback: one shared UDP socket per side, streams through
UtpTransport as a stream protocol sees them, the DHT on the same socket, and the caps on
incoming connections."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.engine.dht import krpc
from app.engine.sockets import Sockets
from app.engine.transport.udp_socket import UdpSocket
from app.engine.transport.utp_codec import PacketType, decode_packet, encode_header
from app.engine.transport.utp_transport import UtpManager, UtpTransport
from tests.engine.dht.helpers import unlimited_node

WAIT = 20.0  # seconds any single wait may take before the test fails


class Sink(asyncio.BufferedProtocol):
    """Collects a stream the way PeerConnection reads one: into its own buffer."""

    def __init__(self) -> None:
        self.buffer = bytearray(64 * 1024)
        self.data = bytearray()
        self.transport: UtpTransport | None = None
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.eof = False
        self.arrived = asyncio.Event()
        self.expect = 0
        self.paused_writing = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, UtpTransport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buffer)[:1000]  # smaller than a packet: the adapter must cut

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.buffer[:nbytes]
        if self.expect and len(self.data) >= self.expect:
            self.arrived.set()

    def eof_received(self) -> bool:
        self.eof = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    def pause_writing(self) -> None:
        self.paused_writing += 1

    def resume_writing(self) -> None:
        pass


@dataclass
class Side:
    udp: UdpSocket
    utp: UtpManager
    accepted: asyncio.Queue[tuple[UtpTransport, Sink]]
    host: str = "127.0.0.1"

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.udp.port)


async def open_side(host: str = "127.0.0.1", **caps: int) -> Side:
    sockets = Sockets(host)
    udp = UdpSocket(sockets.family)
    await udp.start(sockets, 0)
    accepted: asyncio.Queue[tuple[UtpTransport, Sink]] = asyncio.Queue()

    def accept(transport: UtpTransport) -> None:
        sink = Sink()
        transport.attach(sink)
        accepted.put_nowait((transport, sink))

    manager = UtpManager(udp.sendto, accept=accept, sockname=udp.sockname, send_many=udp.send_many, **caps)
    udp.utp = manager
    return Side(udp, manager, accepted, host)


@pytest.fixture(params=["127.0.0.1", "::1"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Side, Side]]:
    """Two sides on IPv4 loopback, then on IPv6 loopback: uTP runs the same over both."""
    a, b = await open_side(request.param), await open_side(request.param)
    yield a, b
    for side in (a, b):
        side.utp.close()
        side.udp.close()


async def dial(a: Side, b: Side) -> tuple[UtpTransport, Sink, UtpTransport, Sink]:
    transport, sink = await asyncio.wait_for(a.utp.connect(Sink, *b.address), WAIT)
    accepted, accepted_sink = await asyncio.wait_for(b.accepted.get(), WAIT)
    return transport, sink, accepted, accepted_sink


async def test_a_stream_crosses_both_ways_byte_for_byte(pair: tuple[Side, Side]) -> None:
    a, b = pair
    transport, sink, accepted, accepted_sink = await dial(a, b)
    up, down = os.urandom(3_000_000), os.urandom(500_000)
    accepted_sink.expect, sink.expect = len(up), len(down)
    transport.writelines([up[:1_000_000], memoryview(up)[1_000_000:]])
    accepted.write(down)
    await asyncio.wait_for(asyncio.gather(accepted_sink.arrived.wait(), sink.arrived.wait()), WAIT)
    assert accepted_sink.data == up and sink.data == down
    assert accepted.get_extra_info("peername") == a.address
    assert transport.get_extra_info("peername") == b.address
    assert transport.get_extra_info("socket") is None  # no TCP socket options to set
    assert transport.get_extra_info("sockname") == a.address


async def test_the_writer_is_paused_over_the_high_water_mark(pair: tuple[Side, Side]) -> None:
    a, b = pair
    transport, sink, _, accepted_sink = await dial(a, b)
    transport.set_write_buffer_limits(high=64 * 1024)
    accepted_sink.expect = 1_000_000
    transport.write(os.urandom(1_000_000))
    assert sink.paused_writing == 1
    assert transport.get_write_buffer_size() > 64 * 1024
    await asyncio.wait_for(accepted_sink.arrived.wait(), WAIT)
    assert transport.get_write_buffer_size() == 0


async def test_paused_reading_holds_the_data_until_it_resumes(pair: tuple[Side, Side]) -> None:
    a, b = pair
    transport, _, accepted, accepted_sink = await dial(a, b)
    accepted.pause_reading()
    data = os.urandom(2_500_000)  # more than the receive window: the sender must stop and wait
    transport.write(data)
    await asyncio.sleep(1.0)
    assert accepted_sink.data == b"" and not accepted.is_reading()
    assert transport.get_write_buffer_size() > 0  # the window closed on it
    accepted_sink.expect = len(data)
    accepted.resume_reading()
    await asyncio.wait_for(accepted_sink.arrived.wait(), WAIT)
    assert accepted_sink.data == data


async def test_close_delivers_everything_then_both_protocols_hear_of_it(pair: tuple[Side, Side]) -> None:
    a, b = pair
    transport, sink, _, accepted_sink = await dial(a, b)
    data = os.urandom(300_000)
    transport.write(data)
    transport.close()
    assert transport.is_closing()
    assert await asyncio.wait_for(accepted_sink.lost, WAIT) is None
    assert await asyncio.wait_for(sink.lost, WAIT) is None
    assert accepted_sink.data == data and accepted_sink.eof
    await asyncio.sleep(0.1)
    assert not a.utp.connections and not b.utp.connections


async def test_abort_resets_the_peer(pair: tuple[Side, Side]) -> None:
    a, b = pair
    transport, _, _, accepted_sink = await dial(a, b)
    transport.write(b"hello")
    await asyncio.sleep(0.1)
    transport.abort()
    reason = await asyncio.wait_for(accepted_sink.lost, WAIT)
    assert isinstance(reason, ConnectionResetError) and "reset" in str(reason)


async def test_a_dial_that_is_given_up_leaves_nothing_behind(pair: tuple[Side, Side]) -> None:
    a, _ = pair
    silent = socket.socket(a.udp.family, socket.SOCK_DGRAM)
    silent.bind((a.host, 0))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(a.utp.connect(Sink, *silent.getsockname()[:2]), 0.5)
        assert not a.utp.connections
    finally:
        silent.close()


async def test_a_host_name_is_not_dialled(pair: tuple[Side, Side]) -> None:
    a, _ = pair
    with pytest.raises(ValueError):
        await a.utp.connect(Sink, "localhost", 1)


class Raw(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait(data)


async def open_raw(host: str = "127.0.0.1") -> tuple[asyncio.DatagramTransport, Raw]:
    loop = asyncio.get_running_loop()
    return await loop.create_datagram_endpoint(Raw, local_addr=(host, 0))


async def test_a_syn_flood_is_capped() -> None:
    side = await open_side(max_half_open=5, max_connections=8)
    raw, listener = await open_raw()
    try:
        for conn_id in range(0, 200, 2):
            raw.sendto(encode_header(PacketType.SYN, conn_id, 1, 0, 0, 7, 0), side.address)
        states = [await asyncio.wait_for(listener.received.get(), WAIT) for _ in range(5)]
        await asyncio.sleep(0.2)
        assert listener.received.empty()
        assert all(decode_packet(state).type is PacketType.STATE for state in states)
        assert len(side.utp.connections) == 5 == side.accepted.qsize()
    finally:
        raw.close()
        side.utp.close()
        side.udp.close()


async def test_the_dht_and_utp_share_one_socket(pair: tuple[Side, Side]) -> None:
    """BEP 32: the IPv6 node shares the IPv6 uTP socket as the IPv4 node shares the IPv4 one."""
    a, b = pair
    node = unlimited_node(bootstrap=(), family=b.udp.family)
    assert b.udp.transport is not None
    await node.start(shared=b.udp.transport)
    b.udp.dht = node
    raw, listener = await open_raw(b.host)
    try:
        assert node.port == b.udp.port
        raw.sendto(krpc.encode(krpc.Ping(b"aa", b"C" * 20)), b.address)
        transport, _, _, accepted_sink = await dial(a, b)
        answer = krpc.decode(await asyncio.wait_for(listener.received.get(), WAIT))
        assert isinstance(answer, krpc.Response) and answer.transaction_id == b"aa"
        accepted_sink.expect = 100_000
        transport.write(bytes(100_000))
        await asyncio.wait_for(accepted_sink.arrived.wait(), WAIT)
        raw.sendto(b"\xff not for anyone", b.address)
        await asyncio.sleep(0.05)
        assert b.udp.dropped == 1
    finally:
        raw.close()
        await node.close()
    assert b.udp.transport is not None and not b.udp.transport.is_closing()  # the DHT left it open
