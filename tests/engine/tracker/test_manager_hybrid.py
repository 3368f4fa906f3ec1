"""BEP 52: a hybrid torrent is announced under its v1 id and its truncated v2 id, each on its own.

Against our embedded tracker (HTTP and UDP) for the swarm's view, and against a scripted HTTP
tracker that answers each id as the test says, with a fake clock for the schedule.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from aiohttp import web

from app.engine.tracker import http_codec
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.tracker.manager import FixedNetwork, TrackerManager
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import AnnounceEvent, AnnounceResponse, ScrapeEntry
from tests.http_server import handler_servers
from tests.swarm_helpers import eventually

V1 = bytes(range(1, 21))  # a hybrid's SHA-1 info-hash ...
V2 = bytes(range(101, 121))  # ... and its SHA-256 one, truncated to 20 bytes
Peer = tuple[str, int]


def make_manager(
    url: str, ids: Sequence[bytes], n: int, peers: list[Peer], *, left: list[int] | None = None,
    clock: Callable[[], float] | None = None,
) -> TrackerManager:
    stats = left if left is not None else [1000]
    return TrackerManager(
        [[url]], info_hashes=ids, peer_id=b"-PM0001-%012d" % n, network=FixedNetwork(7000 + n),
        stats=lambda: (0, 0, stats[0]), on_peers=peers.extend, rng=random.Random(n), udp_retry_base=0.05,
        **({"clock": clock} if clock is not None else {}),
    )


@pytest.fixture
async def managers() -> AsyncIterator[list[TrackerManager]]:
    """Managers the test made; stopped at its end (stopping twice is harmless)."""
    made: list[TrackerManager] = []
    yield made
    for manager in made:
        await manager.stop(timeout=1.0)


async def counts(server: TrackerServer, *ids: bytes) -> list[ScrapeEntry]:
    http = HttpTrackerClient()
    try:
        entries = await http.scrape(server.http_url, list(ids))
    finally:
        await http.close()
    return [entries[info_hash] for info_hash in ids]


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_a_hybrid_joins_both_swarms_and_hears_of_the_peers_of_each(
    kind: str, tracker_server: TrackerServer, managers: list[TrackerManager]
) -> None:
    url = tracker_server.http_url if kind == "http" else tracker_server.udp_url
    v1_only, v2_only, hybrid_peers = [], [], []  # type: ignore[var-annotated]
    for n, ids, sink in ((1, [V1], v1_only), (2, [V2], v2_only)):
        managers.append(make_manager(url, ids, n, sink))
        managers[-1].start()
    await eventually(lambda: all(m.snapshot()[0].status == "working" for m in managers))
    hybrid = make_manager(url, [V1, V2], 3, hybrid_peers)
    managers.append(hybrid)
    hybrid.start()
    await eventually(lambda: len(hybrid_peers) == 2, "the peers of both answers")
    assert sorted(hybrid_peers) == [("127.0.0.1", 7001), ("127.0.0.1", 7002)]
    assert await counts(tracker_server, V1, V2) == [ScrapeEntry(0, 2, 0), ScrapeEntry(0, 2, 0)]
    (row,) = hybrid.snapshot()  # one tracker, one row
    assert (row.url, row.status, row.peers) == (url, "working", 2)
    await hybrid.stop()
    assert await counts(tracker_server, V1, V2) == [ScrapeEntry(0, 1, 0), ScrapeEntry(0, 1, 0)]  # 'stopped' to both


async def test_completed_goes_out_under_both_ids(tracker_server: TrackerServer, managers: list[TrackerManager]) -> None:
    left = [1000]
    hybrid = make_manager(tracker_server.http_url, [V1, V2], 1, [], left=left)
    managers.append(hybrid)
    hybrid.start()
    await eventually(lambda: all(row.status == "working" for row in hybrid.snapshot()) and hybrid.peers == 1)
    left[0] = 0
    hybrid.completed()
    # fingerprint(): one entry per tracker and id, its third field the seeds that id was told of
    await eventually(lambda: [entry[2] for entry in hybrid.fingerprint()] == [1, 1], "both answers to 'completed'")
    assert await counts(tracker_server, V1, V2) == [ScrapeEntry(1, 0, 1), ScrapeEntry(1, 0, 1)]


class ScriptedTracker:
    """An HTTP tracker answering each info-hash with the body the test gives; it notes every
    announce (id, event) and every scrape (ids) it was asked."""

    def __init__(self, answers: dict[bytes, bytes], scrapes: dict[bytes, ScrapeEntry] | None = None) -> None:
        self.answers, self.scrape_counts = answers, scrapes or {}
        self.announces: list[tuple[bytes, AnnounceEvent]] = []
        self.scrapes: list[list[bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        query = request.rel_url.raw_query_string
        if request.path.endswith("/scrape"):
            asked = http_codec.scrape_info_hashes(query)
            self.scrapes.append(asked)
            body = http_codec.encode_scrape_response({ih: self.scrape_counts[ih] for ih in asked})
        else:
            announce = http_codec.parse_announce_query(query).request
            self.announces.append((announce.info_hash, announce.event))
            body = self.answers[announce.info_hash]
        return web.Response(body=body, content_type="text/plain")


def answer(interval: int, complete: int | None = None, incomplete: int | None = None, peers: tuple[Peer, ...] = ()) -> bytes:
    response = AnnounceResponse(interval, None, peers, complete, incomplete, "", None)
    return http_codec.encode_announce_response(response, compact_peers=True)


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[ScriptedTracker], object]]:
    async with handler_servers() as serve:

        async def start(tracker: ScriptedTracker) -> str:
            return await serve(tracker.handle) + "announce"

        yield start


async def test_each_id_keeps_its_own_schedule_events_and_failures(
    scripted: Callable[[ScriptedTracker], object], managers: list[TrackerManager]
) -> None:
    """The v1 id is answered (every 900 s), the v2 id refused: the row works, shows the v2 id's
    failure and its back-off (60 s) as the next announce; asked again, only the v2 id, which
    never got in, says 'started' again."""
    tracker = ScriptedTracker({V1: answer(900, 4, 2, (("127.0.0.9", 6881),)),
                               V2: http_codec.encode_failure("unregistered torrent")})
    url = await scripted(tracker)  # type: ignore[misc]
    now = [1000.0]
    peers: list[Peer] = []
    hybrid = make_manager(url, [V1, V2], 1, peers, clock=lambda: now[0])
    managers.append(hybrid)
    hybrid.start()
    await eventually(lambda: len(tracker.announces) == 2 and hybrid.snapshot()[0].status not in ("announcing",))
    (row,) = hybrid.snapshot()
    assert sorted(tracker.announces) == [(V1, AnnounceEvent.STARTED), (V2, AnnounceEvent.STARTED)]
    assert (row.status, row.message, row.seeds, row.peers) == ("working", "unregistered torrent", 4, 2)
    assert row.next_announce == 60.0  # the v2 id's back-off comes first; the v1 id waits 900 s
    assert hybrid.status_text == ""  # one id works: the torrent gets peers
    assert peers == [("127.0.0.9", 6881)]
    now[0] = 1061.0
    tracker.announces.clear()
    hybrid.announce_now()
    await eventually(lambda: len(tracker.announces) == 2)
    assert sorted(tracker.announces) == [(V1, AnnounceEvent.NONE), (V2, AnnounceEvent.STARTED)]


async def test_a_failing_row_shows_its_latest_failure(
    scripted: Callable[[ScriptedTracker], object], managers: list[TrackerManager]
) -> None:
    tracker = ScriptedTracker({V1: http_codec.encode_failure("v1 refused"), V2: http_codec.encode_failure("v2 refused")})
    url = await scripted(tracker)  # type: ignore[misc]
    hybrid = make_manager(url, [V1, V2], 1, [], clock=lambda: 50.0)
    managers.append(hybrid)
    hybrid.start()
    await eventually(lambda: hybrid.snapshot()[0].status == "error" and len(tracker.announces) == 2)
    assert hybrid.snapshot()[0].message in ("v1 refused", "v2 refused")
    assert hybrid.status_text.startswith("Tracker: v")


async def test_counts_are_the_larger_of_each_ids_and_a_tracker_without_them_is_scraped_per_id(
    scripted: Callable[[ScriptedTracker], object], managers: list[TrackerManager]
) -> None:
    """Most peers of a hybrid swarm announce under both ids: the larger count, not the sum
    (libtorrent's update_scrape_state does the same)."""
    tracker = ScriptedTracker({V1: answer(900), V2: answer(900)},
                              scrapes={V1: ScrapeEntry(5, 2, 9), V2: ScrapeEntry(3, 7, 1)})
    url = await scripted(tracker)  # type: ignore[misc]
    hybrid = make_manager(url, [V1, V2], 1, [], clock=lambda: 10.0)
    managers.append(hybrid)
    hybrid.start()
    await eventually(lambda: len(tracker.scrapes) == 2 and hybrid.snapshot()[0].peers == 7)
    assert sorted(tracker.scrapes) == [[V1], [V2]]
    (row,) = hybrid.snapshot()
    assert (row.seeds, row.peers) == (5, 7)
    assert (hybrid.seeds, hybrid.peers) == (5, 7)


async def test_an_id_learned_later_is_announced_from_then_on(
    scripted: Callable[[ScriptedTracker], object], managers: list[TrackerManager]
) -> None:
    """A magnet names the v1 id only; its metadata shows a hybrid: the v2 id joins."""
    tracker = ScriptedTracker({V1: answer(900, 0, 1), V2: answer(900, 0, 1)})
    url = await scripted(tracker)  # type: ignore[misc]
    manager = make_manager(url, [V1], 1, [])
    managers.append(manager)
    manager.start()
    await eventually(lambda: tracker.announces == [(V1, AnnounceEvent.STARTED)])
    manager.add_info_hashes([V1, V2])
    await eventually(lambda: len(tracker.announces) == 2)
    assert tracker.announces[1] == (V2, AnnounceEvent.STARTED)
    assert manager.info_hashes == (V1, V2) and len(manager.snapshot()) == 1
    await manager.stop()
    assert sorted(tracker.announces[2:]) == [(V1, AnnounceEvent.STOPPED), (V2, AnnounceEvent.STOPPED)]


async def test_a_delayed_hybrid_announces_nothing_until_its_turn(
    tracker_server: TrackerServer, managers: list[TrackerManager]
) -> None:
    hybrid = make_manager(tracker_server.http_url, [V1, V2], 1, [])
    managers.append(hybrid)
    hybrid.start(delay=3600.0)
    hybrid.add_info_hashes([bytes(20)])  # joins the wait too
    for _ in range(20):
        await asyncio.sleep(0.01)  # the loop turns; a start without delay would announce now
    assert await counts(tracker_server, V1, V2, bytes(20)) == [ScrapeEntry(0, 0, 0)] * 3
    hybrid.announce_now()
    await eventually(lambda: all(row.status == "working" for row in hybrid.snapshot()) and hybrid.peers == 1)
    assert await counts(tracker_server, V1, V2, bytes(20)) == [ScrapeEntry(0, 1, 0)] * 3
