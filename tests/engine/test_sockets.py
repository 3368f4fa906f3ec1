"""Every kind of socket `Sockets` makes leaves from the chosen address, as its peer sees it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from app.engine.sockets import Sockets

CHOSEN = "127.0.0.2"


class _Sources(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.sources: asyncio.Queue[str] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.sources.put_nowait(addr[0])


@pytest.fixture
async def tcp_sources() -> AsyncIterator[tuple[int, asyncio.Queue[str]]]:
    """A TCP server on 127.0.0.1 that notes each client's address and answers HTTP 200."""
    sources: asyncio.Queue[str] = asyncio.Queue()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sources.put_nowait(writer.get_extra_info("peername")[0])
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], sources
    finally:
        server.close()


def test_family_follows_the_chosen_address() -> None:
    assert Sockets().family == socket.AF_UNSPEC
    assert Sockets("0.0.0.0").family == socket.AF_UNSPEC
    assert Sockets("").family == socket.AF_UNSPEC
    assert Sockets(CHOSEN).family == socket.AF_INET
    assert Sockets("::1").family == socket.AF_INET6
    assert Sockets().local_address() is None
    assert Sockets(CHOSEN).local_address() == (CHOSEN, 0)


async def test_tcp_connection_starts_from_the_chosen_address(
    tcp_sources: tuple[int, asyncio.Queue[str]],
) -> None:
    port, sources = tcp_sources
    transport, _ = await Sockets(CHOSEN).connect(asyncio.Protocol, ("127.0.0.1", port))
    try:
        assert await asyncio.wait_for(sources.get(), 5) == CHOSEN
    finally:
        transport.close()


async def test_http_client_starts_from_the_chosen_address(
    tcp_sources: tuple[int, asyncio.Queue[str]],
) -> None:
    port, sources = tcp_sources
    async with Sockets(CHOSEN).http_client() as http:
        async with http.get(f"http://127.0.0.1:{port}/announce") as response:
            assert await response.read() == b"ok"
    assert sources.get_nowait() == CHOSEN


async def test_udp_endpoints_send_from_the_chosen_address() -> None:
    loop = asyncio.get_running_loop()
    server, sink = await loop.create_datagram_endpoint(_Sources, local_addr=("127.0.0.1", 0))
    remote = server.get_extra_info("sockname")
    connected, _ = await Sockets(CHOSEN).datagram(asyncio.DatagramProtocol, remote=remote, family=socket.AF_INET)
    listening, _ = await Sockets(CHOSEN).datagram(asyncio.DatagramProtocol, port=0)
    try:
        assert listening.get_extra_info("sockname")[0] == CHOSEN
        connected.sendto(b"tracker")
        listening.sendto(b"dht", remote)
        assert [await asyncio.wait_for(sink.sources.get(), 5) for _ in range(2)] == [CHOSEN, CHOSEN]
    finally:
        for transport in (server, connected, listening):
            transport.close()


async def test_listening_socket_is_on_the_chosen_address() -> None:
    listener = await Sockets(CHOSEN).listen(asyncio.Protocol, 0)
    try:
        assert [sock.getsockname()[0] for sock in listener.sockets] == [CHOSEN]
    finally:
        listener.close()


def test_an_address_the_machine_lacks_is_an_os_error() -> None:
    with pytest.raises(OSError):
        Sockets("192.0.2.1").multicast("239.192.152.143", 0, ttl=1)


def test_families_follow_the_chosen_address() -> None:
    assert Sockets().families == (socket.AF_INET, socket.AF_INET6)
    assert Sockets("").families == (socket.AF_INET, socket.AF_INET6)
    assert Sockets(CHOSEN).families == (socket.AF_INET,)
    assert Sockets("::1").families == (socket.AF_INET6,)


async def _accepts_from(port: int, host: str) -> None:
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.close()


@pytest.mark.parametrize("port", [0, None])
async def test_unbound_listening_is_on_both_stacks_at_one_port(port: int | None) -> None:
    if port is None:  # a fixed port: one the system just gave out
        probe = await Sockets().listen(asyncio.Protocol, 0)
        port = probe.port
        probe.close()
        await asyncio.gather(*(server.wait_closed() for server in probe.servers))
    listener = await Sockets().listen(asyncio.Protocol, port)
    try:
        assert listener.families == (socket.AF_INET, socket.AF_INET6)
        assert {sock.getsockname()[1] for sock in listener.sockets} == {listener.port}
        assert port in (0, listener.port)
        await _accepts_from(listener.port, "127.0.0.1")
        await _accepts_from(listener.port, "::1")
    finally:
        listener.close()


async def test_listening_on_an_ipv6_address_is_ipv6_only() -> None:
    listener = await Sockets("::1").listen(asyncio.Protocol, 0)
    try:
        assert listener.families == (socket.AF_INET6,)
        await _accepts_from(listener.port, "::1")
        with pytest.raises(OSError):
            await _accepts_from(listener.port, "127.0.0.1")
    finally:
        listener.close()


async def test_an_ipv6_port_that_is_taken_leaves_ipv4_listening(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # someone else's IPv6 only
        taken.bind(("::", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listener = await Sockets().listen(asyncio.Protocol, port)
        try:
            assert listener.families == (socket.AF_INET,) and listener.port == port
            assert "not listening on IPv6" in caplog.text
        finally:
            listener.close()


async def test_unbound_udp_takes_one_port_number_on_both_stacks() -> None:
    """uTP and the DHT: an IPv4 and an IPv6 UDP socket on one port, each hearing its own family."""
    ipv4, sink4 = await Sockets().datagram(_Sources, port=0, family=socket.AF_INET)
    port = ipv4.get_extra_info("sockname")[1]
    try:
        ipv6, sink6 = await Sockets().datagram(_Sources, port=port, family=socket.AF_INET6)
    except OSError as exc:
        ipv4.close()
        pytest.fail(f"no IPv6 UDP socket beside the IPv4 one on port {port}: {exc}")
    sender6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        assert ipv6.get_extra_info("socket").getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        sender6.sendto(b"six", ("::1", port))
        assert await asyncio.wait_for(sink6.sources.get(), 5) == "::1"
        assert sink4.sources.empty()
    finally:
        sender6.close()
        ipv4.close()
        ipv6.close()


def test_the_route_mtu_is_the_loopback_interfaces() -> None:
    """Linux: a connected UDP socket tells the route's MTU and sends nothing (lo: 65536, which
    IPv4 reports as 65535): big enough that uTP sends its largest packets there."""
    assert Sockets().route_mtu(("127.0.0.1", 9)) in (65535, 65536)
    assert Sockets(host="127.0.0.1").route_mtu(("127.0.0.1", 9)) in (65535, 65536)
    assert Sockets().route_mtu(("::1", 9)) == 65536
    assert Sockets(host="127.0.0.1").route_mtu(("::1", 9)) is None  # the chosen address is IPv4
