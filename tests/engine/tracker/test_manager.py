import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest

from app.engine.tracker import udp_codec
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.sockets import Sockets
from app.engine.tracker.manager import FixedNetwork, TrackerManager
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import AnnounceEvent, ScrapeEntry
from tests.swarm_helpers import eventually

INFO_HASH = bytes(range(1, 21))
Peer = tuple[str, int]


class Announcer:
    """One torrent's side of the test: its stats, the peers it was given, its manager."""

    def __init__(
        self, tiers: list[list[str]], n: int, left: int = 1000, udp_retry_base: float = 0.05
    ) -> None:
        self.left = left
        self.peers: list[list[Peer]] = []
        self.statuses: list[str] = []  # what snapshot() showed each time on_change was called
        self.port = 7000 + n
        self.manager = TrackerManager(
            tiers,
            info_hashes=[INFO_HASH],
            peer_id=b"-PM0001-%012d" % n,
            network=FixedNetwork(self.port),
            stats=lambda: (0, 0, self.left),
            on_peers=self.peers.append,
            on_change=lambda: self.statuses.append(self.manager.snapshot()[0].status),
            rng=random.Random(n),
            udp_retry_base=udp_retry_base,
        )

    def status_of(self, url: str) -> str:
        return next(t.status for t in self.manager.snapshot() if t.url == url)


@pytest.fixture
async def announcers() -> AsyncIterator[Callable[..., Announcer]]:
    made: list[Announcer] = []

    def make(*args: object, **kwargs: object) -> Announcer:
        made.append(Announcer(*args, **kwargs))  # type: ignore[arg-type]
        made[-1].manager.start()
        return made[-1]

    yield make
    for announcer in made:
        await announcer.manager.stop(timeout=1.0)


async def scrape(server: TrackerServer) -> ScrapeEntry:
    http = HttpTrackerClient()
    try:
        return (await http.scrape(server.http_url, [INFO_HASH]))[INFO_HASH]
    finally:
        await http.close()


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/announce"


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_two_torrents_find_each_other(
    kind: str, tracker_server: TrackerServer, announcers: Callable[..., Announcer]
) -> None:
    url = tracker_server.http_url if kind == "http" else tracker_server.udp_url
    first = announcers([[url]], 1)
    await eventually(lambda: first.status_of(url) == "working")
    second = announcers([[url]], 2, left=0)
    await eventually(lambda: second.peers)
    assert second.peers == [[("127.0.0.1", first.port)]]
    assert first.peers == []  # it was alone when it announced
    first.manager.announce_now()
    await eventually(lambda: first.peers)
    assert first.peers == [[("127.0.0.1", second.port)]]
    assert (second.manager.seeds, second.manager.peers) == (1, 1)
    assert first.manager.status_text == ""


class ChangingNetwork:
    """The session's side of the manager: a listen port the user changes while it runs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http = None
        self.sockets = Sockets()


async def test_each_announce_asks_the_network_for_the_current_port(
    tracker_server: TrackerServer, announcers: Callable[..., Announcer]
) -> None:
    network = ChangingNetwork(7100)
    announces = [0]

    def stats() -> tuple[int, int, int]:
        announces[0] += 1  # asked once per announce, before it is sent
        return 0, 0, 1

    manager = TrackerManager(
        [[tracker_server.http_url]], info_hashes=[INFO_HASH], peer_id=b"c" * 20, network=network,
        stats=stats, on_peers=lambda peers: None,
    )
    manager.start()
    try:
        await eventually(lambda: manager.snapshot()[0].status == "working")
        network.port = 7200
        manager.announce_now()
        await eventually(lambda: announces[0] == 2 and manager.snapshot()[0].status == "working")
        other = announcers([[tracker_server.http_url]], 3)
        await eventually(lambda: other.peers)
        assert other.peers == [[("127.0.0.1", 7200)]]  # the new port replaced the old one
    finally:
        await manager.stop(timeout=1.0)


async def test_the_torrent_hears_when_what_its_trackers_show_changed(
    tracker_server: TrackerServer, announcers: Callable[..., Announcer]
):
    """Issue 19: a quiet torrent's snapshot is looked at again when an announce begins or ends,
    not at every refresh."""
    working = announcers([[tracker_server.http_url]], 1)
    failing = announcers([[refused_url()]], 2)
    await eventually(lambda: len(working.statuses) >= 2 and len(failing.statuses) >= 2)
    assert working.statuses[:2] == ["announcing", "working"]
    assert failing.statuses[:2] == ["announcing", "error"]


async def test_stop_says_stopped_and_is_idempotent(
    tracker_server: TrackerServer, announcers: Callable[..., Announcer]
) -> None:
    first = announcers([[tracker_server.http_url]], 1)
    second = announcers([[tracker_server.udp_url]], 2)
    await eventually(lambda: first.manager.peers is not None and second.manager.peers is not None)
    assert await scrape(tracker_server) == ScrapeEntry(0, 2, 0)
    await first.manager.stop()
    await second.manager.stop()
    await first.manager.stop()
    assert await scrape(tracker_server) == ScrapeEntry(0, 0, 0)


async def test_completed_is_announced_once(
    tracker_server: TrackerServer, announcers: Callable[..., Announcer]
) -> None:
    other = announcers([[tracker_server.http_url]], 2)
    await eventually(lambda: other.manager.peers == 1)
    announcer = announcers(
        [[tracker_server.http_url]], 1
    )  # every answer brings `other`: one list each
    await eventually(lambda: len(announcer.peers) == 1)
    announcer.left = 0
    announcer.manager.completed()
    await eventually(lambda: len(announcer.peers) == 2)
    assert await scrape(tracker_server) == ScrapeEntry(1, 1, 1)
    announcer.manager.announce_now()
    await eventually(lambda: len(announcer.peers) == 3)
    assert await scrape(tracker_server) == ScrapeEntry(1, 1, 1)


async def test_refused_tracker_shows_in_the_status(announcers: Callable[..., Announcer]) -> None:
    url = refused_url()
    announcer = announcers([[url]], 1)
    await eventually(lambda: announcer.manager.status_text)
    assert announcer.manager.status_text == "Tracker: connection refused"
    (tracker,) = announcer.manager.snapshot()
    assert (tracker.status, tracker.message, tracker.tier) == ("error", "connection refused", 0)
    assert tracker.next_announce is not None and 55 < tracker.next_announce <= 60  # the back-off
    assert (announcer.manager.seeds, announcer.manager.peers) == (None, None)


async def test_a_refused_tier_hands_over_to_the_next(
    tracker_server: TrackerServer, announcers: Callable[..., Announcer]
) -> None:
    dead = refused_url()
    other = announcers([[tracker_server.http_url]], 2)
    await eventually(lambda: other.manager.peers == 1)
    announcer = announcers([[dead], [tracker_server.http_url]], 1)
    await eventually(lambda: announcer.peers)
    assert announcer.peers == [[("127.0.0.1", other.port)]]
    snapshot = {t.url: t for t in announcer.manager.snapshot()}
    assert (snapshot[dead].status, snapshot[dead].message) == ("error", "connection refused")
    assert (snapshot[tracker_server.http_url].status, snapshot[tracker_server.http_url].tier) == (
        "working",
        1,
    )
    assert snapshot[tracker_server.http_url].last_announce == pytest.approx(time.time(), abs=5)
    assert announcer.manager.status_text == ""


async def test_dead_udp_tracker_times_out(
    silent_udp: socket.socket, announcers: Callable[..., Announcer]
) -> None:
    url = f"udp://127.0.0.1:{silent_udp.getsockname()[1]}/announce"
    announcer = announcers([[url]], 1, udp_retry_base=0.05)
    await eventually(lambda: announcer.manager.status_text)
    assert announcer.manager.status_text == "Tracker: timed out"


async def test_stop_gives_up_on_a_silent_tracker_after_the_timeout(
    silent_udp: socket.socket,
) -> None:
    server = TrackerServer()
    await server.start()
    announcer = Announcer([[server.udp_url]], 1, udp_retry_base=15.0)
    announcer.manager.start()
    await eventually(lambda: announcer.manager.peers == 1)
    await server.close()
    port = int(server.udp_url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket(
        socket.AF_INET, socket.SOCK_DGRAM
    ) as stand_in:  # the tracker is there, but mute
        stand_in.bind(("127.0.0.1", port))
        async with asyncio.timeout(10):  # a mute tracker must not hold stop() up
            await announcer.manager.stop(timeout=0.3)
        packet = udp_codec.decode_packet(stand_in.recv(2048))
    assert isinstance(packet, udp_codec.AnnouncePacket)  # the connection id was still fresh
    assert packet.request.event is AnnounceEvent.STOPPED and packet.request.numwant == 0


async def test_errors_stay_inside_the_loop(tracker_server: TrackerServer) -> None:
    def broken_stats() -> tuple[int, int, int]:
        raise RuntimeError("boom")

    def broken_sink(peers: list[Peer]) -> None:
        raise RuntimeError("boom")

    other = Announcer([[tracker_server.http_url]], 2)
    other.manager.start()
    await eventually(lambda: other.manager.peers == 1)

    def make(
        url: str, stats: Callable[[], tuple[int, int, int]], sink: Callable[..., None]
    ) -> TrackerManager:
        return TrackerManager(
            [[url]], info_hashes=[INFO_HASH], peer_id=b"x" * 20, network=FixedNetwork(1), stats=stats, on_peers=sink
        )

    managers = [
        make(tracker_server.http_url, broken_stats, lambda peers: None),
        make(tracker_server.http_url, lambda: (0, 0, 1), broken_sink),
        make("wss://127.0.0.1/announce", lambda: (0, 0, 1), lambda peers: None),
    ]
    for manager in managers:
        manager.start()
    try:
        await eventually(
            lambda: all(m.snapshot()[0].status in ("working", "error") for m in managers)
        )
        assert managers[0].status_text == "Tracker: internal error"
        assert managers[1].snapshot()[0].status == "working"
        assert managers[2].status_text == "Tracker: unsupported tracker URL"
        assert all(m._tasks and not any(task.done() for task in m._tasks) for m in managers)
    finally:
        for manager in [*managers, other.manager]:
            await manager.stop(timeout=1.0)


async def test_no_trackers_no_trouble() -> None:
    manager = TrackerManager(
        [],
        info_hashes=[INFO_HASH],
        peer_id=b"a" * 20,
        network=FixedNetwork(1),
        stats=lambda: (0, 0, 1),
        on_peers=lambda peers: None,
    )
    manager.start()
    await asyncio.sleep(0.02)
    assert (manager.snapshot(), manager.status_text, manager.seeds) == ((), "", None)
    await manager.stop()


async def test_a_delayed_start_announces_nothing_until_its_time_or_announce_now(
    tracker_server: TrackerServer,
) -> None:
    announcer = Announcer([[tracker_server.http_url]], 1)
    announcer.manager.start(delay=3600.0)  # one of thousands restored: its turn is an hour away
    try:
        for _ in range(20):
            await asyncio.sleep(0.01)  # the loop turns; a start without delay would announce now
        assert await scrape(tracker_server) == ScrapeEntry(0, 0, 0)
        assert announcer.status_of(tracker_server.http_url) == "not contacted"
        announcer.manager.announce_now()
        await eventually(lambda: announcer.status_of(tracker_server.http_url) == "working")
        assert await scrape(tracker_server) == ScrapeEntry(0, 1, 0)
    finally:
        await announcer.manager.stop(timeout=1.0)


async def test_a_tracker_that_omits_the_counts_is_scraped_for_them(announcers: Callable[..., Announcer]) -> None:
    server = TrackerServer(http_counts=False)
    await server.start("127.0.0.1")
    try:
        seed = announcers([[server.http_url]], 1, left=0)
        await eventually(lambda: seed.status_of(server.http_url) == "working")
        leecher = announcers([[server.http_url]], 2)
        await eventually(lambda: leecher.manager.snapshot()[0].seeds is not None)
        (shown,) = leecher.manager.snapshot()
        assert (shown.seeds, shown.peers) == (1, 1)  # from the scrape: the announce had none
        assert (leecher.manager.seeds, leecher.manager.peers) == (1, 1)
    finally:
        await server.close()
