import asyncio
import contextlib
import re
import struct
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from app.engine import bencode
from app.engine.tracker import http_codec, udp_codec
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest

INFO_HASH = b"\xff" * 20


def announce(n: int, **extra: str) -> str:
    """An announce query string for peer n, with extra raw parameters."""
    request = AnnounceRequest(
        INFO_HASH, b"-PM0001-%012d" % n, 7000 + n, 0, 0, 5, AnnounceEvent.STARTED
    )
    url = http_codec.announce_url("http://127.0.0.1/announce", request)
    return url.split("?", 1)[1] + "".join(f"&{k}={v}" for k, v in extra.items())


async def get(server: TrackerServer, path_and_query: str) -> Any:
    base = server.http_url.removesuffix("/announce")
    async with aiohttp.ClientSession() as session, session.get(base + path_and_query) as response:
        assert response.status == 200
        return bencode.decode(await response.read())


class UdpEndpoint(asyncio.DatagramProtocol):
    """One client socket talking to the server's UDP side."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    async def ask(self, datagram: bytes) -> bytes | None:
        """The answer to `datagram`, None if none comes within 0.2 s."""
        assert self.transport is not None
        self.transport.sendto(datagram)
        try:
            return await asyncio.wait_for(self.queue.get(), 0.2)
        except TimeoutError:
            return None


@contextlib.asynccontextmanager
async def udp_endpoint(server: TrackerServer, source: str = "127.0.0.1") -> AsyncIterator[UdpEndpoint]:
    port = int(server.udp_url.rsplit(":", 1)[1].split("/")[0])
    loop = asyncio.get_running_loop()
    transport, endpoint = await loop.create_datagram_endpoint(
        UdpEndpoint, local_addr=(source, 0), remote_addr=("127.0.0.1", port)
    )
    try:
        yield endpoint
    finally:
        transport.close()


async def test_urls_name_the_bound_ports(tracker_server: TrackerServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/announce", tracker_server.http_url)
    assert re.fullmatch(r"udp://127\.0\.0\.1:\d+/announce", tracker_server.udp_url)


async def test_non_compact_answer_lists_peer_ids(tracker_server: TrackerServer) -> None:
    await get(tracker_server, "/announce?" + announce(1))
    answer = await get(tracker_server, "/announce?" + announce(2).replace("compact=1", "compact=0"))
    assert answer[b"peers"] == [
        {b"ip": b"127.0.0.1", b"peer id": b"-PM0001-000000000001", b"port": 7001}
    ]
    assert (answer[b"complete"], answer[b"incomplete"], answer[b"interval"]) == (0, 2, 1800)


async def test_a_loopback_ip_parameter_is_believed_and_others_are_not(
    tracker_server: TrackerServer,
) -> None:
    await get(tracker_server, "/announce?" + announce(1, ip="127.0.0.2"))
    await get(tracker_server, "/announce?" + announce(2, ip="192.0.2.7"))
    await get(tracker_server, "/announce?" + announce(3, ip="::1"))
    answer = await get(tracker_server, "/announce?" + announce(4))
    peers = http_codec.parse_announce_response(bencode.encode(answer)).peers
    assert sorted(peers) == [("127.0.0.1", 7002), ("127.0.0.2", 7001), ("::1", 7003)]
    assert len(answer[b"peers6"]) == 18


async def test_a_bad_announce_gets_a_failure_reason(tracker_server: TrackerServer) -> None:
    answer = await get(tracker_server, "/announce?info_hash=short&port=1")
    assert answer == {b"failure reason": b"invalid info_hash"}


async def test_scrape_without_hashes_lists_every_torrent(tracker_server: TrackerServer) -> None:
    await get(tracker_server, "/announce?" + announce(1))
    answer = await get(tracker_server, "/scrape")
    assert answer == {b"files": {INFO_HASH: {b"complete": 0, b"downloaded": 0, b"incomplete": 1}}}


async def test_udp_wants_a_connection_id_it_gave_out(tracker_server: TrackerServer) -> None:
    request = AnnounceRequest(INFO_HASH, b"p" * 20, 7001, 0, 0, 5, AnnounceEvent.STARTED)
    async with udp_endpoint(tracker_server) as endpoint:
        reply = await endpoint.ask(udp_codec.encode(udp_codec.ConnectPacket(1)))
    connected = udp_codec.decode_reply(reply or b"")
    assert isinstance(connected, udp_codec.ConnectReply) and connected.transaction_id == 1
    async with udp_endpoint(tracker_server, "127.0.0.2") as other:  # another IP: the id is not its own
        reply = await other.ask(
            udp_codec.encode(udp_codec.AnnouncePacket(connected.connection_id, 77, request))
        )
    assert udp_codec.decode_reply(reply or b"") == udp_codec.ErrorReply(77, "invalid connection id")


async def test_udp_announce_with_a_claimed_loopback_ip(tracker_server: TrackerServer) -> None:
    request = AnnounceRequest(INFO_HASH, b"p" * 20, 7001, 0, 0, 5, AnnounceEvent.STARTED)
    async with udp_endpoint(tracker_server) as endpoint:
        connected = udp_codec.decode_reply(
            await endpoint.ask(udp_codec.encode(udp_codec.ConnectPacket(1))) or b""
        )
        assert isinstance(connected, udp_codec.ConnectReply)
        claimed = udp_codec.AnnouncePacket(connected.connection_id, 2, request, ip=0x7F000009)
        reply = udp_codec.decode_reply(await endpoint.ask(udp_codec.encode(claimed)) or b"")
    assert isinstance(reply, udp_codec.AnnounceReply) and reply.transaction_id == 2
    answer = await get(tracker_server, "/announce?" + announce(2))
    assert http_codec.parse_announce_response(bencode.encode(answer)).peers == (
        ("127.0.0.9", 7001),
    )


async def test_udp_garbage_gets_no_answer(tracker_server: TrackerServer) -> None:
    async with udp_endpoint(tracker_server) as endpoint:
        assert await endpoint.ask(b"hello") is None
        assert await endpoint.ask(struct.pack(">QII", 1, 0, 5)) is None
