import asyncio
import socket

import pytest

from app.engine.errors import TrackerError
from app.engine.tracker import udp_codec
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, ScrapeEntry
from app.engine.tracker.udp_client import UdpTrackerClient

INFO_HASH = bytes(range(50, 70))


def request(
    n: int, event: AnnounceEvent = AnnounceEvent.STARTED, left: int = 1000
) -> AnnounceRequest:
    return AnnounceRequest(INFO_HASH, b"-PM0001-%012d" % n, 7000 + n, 0, 0, left, event)


async def test_two_announcers_see_each_other(tracker_server: TrackerServer) -> None:
    one, two = UdpTrackerClient(tracker_server.udp_url), UdpTrackerClient(tracker_server.udp_url)
    try:
        first = await one.announce(request(1))
        assert first.peers == () and (first.complete, first.incomplete) == (0, 1)
        second = await two.announce(request(2, left=0))
        assert second.peers == (("127.0.0.1", 7001),)
        assert (second.complete, second.incomplete, second.interval) == (1, 1, 1800)
        assert (await one.announce(request(1, AnnounceEvent.NONE))).peers == (("127.0.0.1", 7002),)
    finally:
        one.close()
        two.close()


async def test_stopped_removes_and_scrape_counts(tracker_server: TrackerServer) -> None:
    client = UdpTrackerClient(tracker_server.udp_url)
    other = b"o" * 20
    try:
        await client.announce(request(1))
        await client.announce(request(2, left=0))
        await client.announce(request(1, AnnounceEvent.COMPLETED, left=0))
        counts = await client.scrape([INFO_HASH, other])
        assert counts == {INFO_HASH: ScrapeEntry(2, 0, 1), other: ScrapeEntry(0, 0, 0)}
        await client.announce(request(2, AnnounceEvent.STOPPED, left=0))
        assert (await client.announce(request(1, AnnounceEvent.NONE, left=0))).peers == ()
        assert await client.scrape([INFO_HASH]) == {INFO_HASH: ScrapeEntry(1, 0, 1)}
    finally:
        client.close()


async def test_dead_tracker_fails_after_the_retries(silent_udp: socket.socket) -> None:
    port = silent_udp.getsockname()[1]
    client = UdpTrackerClient(f"udp://127.0.0.1:{port}/announce", retry_base=0.05, max_attempts=3)
    try:
        with pytest.raises(TrackerError, match="^timed out$"):
            async with asyncio.timeout(10):  # the retry schedule itself: test_udp_codec, on a fake clock
                await client.announce(request(1))
    finally:
        client.close()
    datagrams = []
    while True:
        try:
            datagrams.append(silent_udp.recv(2048))
        except BlockingIOError:
            break
    assert len(datagrams) == 3
    assert all(isinstance(udp_codec.decode_packet(d), udp_codec.ConnectPacket) for d in datagrams)
    assert len(set(datagrams)) == 1  # retransmissions keep the transaction id


async def test_closed_port_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = UdpTrackerClient(f"udp://127.0.0.1:{port}/announce", retry_base=1.0)
    try:
        with pytest.raises(TrackerError, match="^connection refused$"):
            await asyncio.wait_for(client.announce(request(1)), 5)
    finally:
        client.close()


async def test_a_cancelled_query_frees_the_client(silent_udp: socket.socket) -> None:
    port = silent_udp.getsockname()[1]
    client = UdpTrackerClient(f"udp://127.0.0.1:{port}/announce", retry_base=0.05, max_attempts=2)
    try:
        task = asyncio.create_task(client.announce(request(1)))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(TrackerError, match="^timed out$"):
            await client.announce(request(1))
    finally:
        client.close()


@pytest.mark.parametrize(
    "url", ["udp://127.0.0.1/announce", "udp://127.0.0.1:x/", "http://127.0.0.1:80/"]
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(TrackerError, match="^invalid tracker URL$"):
        UdpTrackerClient(url)
