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
    server = await Sockets(CHOSEN).listen(asyncio.Protocol, 0)
    try:
        assert server.sockets[0].getsockname()[0] == CHOSEN
    finally:
        server.close()


def test_an_address_the_machine_lacks_is_an_os_error() -> None:
    with pytest.raises(OSError):
        Sockets("192.0.2.1").multicast("239.192.152.143", 0, ttl=1)
