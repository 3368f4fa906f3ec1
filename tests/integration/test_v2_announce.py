"""BEP 52 and trackers: a hybrid torrent is announced under its v1 id and its truncated v2 id, a
v2-only torrent under its truncated v2 id; a restored hybrid takes two of the paced announce turns."""

from __future__ import annotations

from pathlib import Path

from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from app.engine.session import RESTORED_ANNOUNCES_PER_SECOND
from app.engine.snapshots import TorrentState
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import ScrapeEntry
from tests.lt_peer import random_tree
from tests.swarm_helpers import eventually, running_session, running_tracker, wait_for_state

PIECE = 32 * 1024


async def scrape(tracker: TrackerServer, ids: list[bytes]) -> list[ScrapeEntry]:
    http = HttpTrackerClient()
    try:
        entries = await http.scrape(tracker.http_url, ids)
    finally:
        await http.close()
    return [entries[info_hash] for info_hash in ids]


def made(tmp_path: Path, name: str, format: str, url: str) -> tuple[bytes, Path]:
    content = random_tree(tmp_path / name, {f"{name}/a.bin": 5 * PIECE + 7, f"{name}/b.bin": 900})
    return create_torrent(content / name, piece_length=PIECE, trackers=[[url]], format=format), content


async def test_the_tracker_sees_a_hybrid_seed_under_both_ids_until_it_stops(tmp_path: Path) -> None:
    async with running_tracker("127.0.0.1", interval=1800) as tracker:
        torrent, content = made(tmp_path, "hybrid", "hybrid", tracker.udp_url)
        meta = parse_metainfo(torrent)
        assert meta.info_hash_v2 is not None
        ids = [meta.info_hash, meta.info_hash_v2[:20]]
        async with running_session() as session:
            info_hash = await session.add_torrent(torrent, content)
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
            trackers = session.torrents[meta.info_hash].trackers
            assert trackers.info_hashes == tuple(ids)
            # fingerprint(): one entry per tracker and id, its third field the seeds that id was told of
            await eventually(lambda: [entry[2] for entry in trackers.fingerprint()] == [1, 1], "both answers")
            assert await scrape(tracker, ids) == [ScrapeEntry(1, 0, 0)] * 2
        assert await scrape(tracker, ids) == [ScrapeEntry(0, 0, 0)] * 2  # 'stopped' under both


async def test_a_v2_only_torrent_is_announced_under_its_truncated_v2_id(tmp_path: Path) -> None:
    async with running_tracker("127.0.0.1", interval=1800) as tracker:
        torrent, content = made(tmp_path, "v2", "v2", tracker.http_url)
        meta = parse_metainfo(torrent)
        assert meta.info_hash_v2 is not None and meta.info_hash == meta.info_hash_v2[:20]
        async with running_session() as session:
            info_hash = await session.add_torrent(torrent, content)
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
            assert session.torrents[meta.info_hash].trackers.info_hashes == (meta.info_hash,)
            await eventually(lambda: session.torrents[meta.info_hash].trackers.seeds == 1)
            assert await scrape(tracker, [meta.info_hash]) == [ScrapeEntry(1, 0, 0)]


async def test_a_restored_hybrid_takes_two_announce_turns(tmp_path: Path) -> None:
    """Issue 19's pacing counts announces, not torrents: v1, hybrid, v1 start 0, 1 and 3 turns in."""
    url = "http://127.0.0.1:9/announce"  # the discard port: nothing answers
    torrents = [made(tmp_path, name, format, url) for name, format in
                (("first", "v1"), ("second", "hybrid"), ("third", "v1"))]
    profile = tmp_path / "profile"
    async with running_session(profile_dir=profile) as session:
        for torrent, content in torrents:
            await session.add_torrent(torrent, content)
    async with running_session(profile_dir=profile) as again:
        restored = [again.torrents[parse_metainfo(torrent).info_hash] for torrent, _ in torrents]
        assert [len(t.swarm_ids) for t in restored] == [1, 2, 1]
        starts = [t.first_announce_at for t in restored]
        turns = [round((at - starts[0]) * RESTORED_ANNOUNCES_PER_SECOND, 6) for at in starts]
        assert turns == [0, 1, 3]


async def test_a_magnet_that_turns_out_hybrid_joins_the_v2_swarm_too(tmp_path: Path) -> None:
    """A urn:btih-only link: the v2 id is learned with the metadata, and announced from then on."""
    async with running_tracker("127.0.0.1", interval=1800) as tracker:
        torrent, content = made(tmp_path, "hybrid", "hybrid", tracker.http_url)
        meta = parse_metainfo(torrent)
        assert meta.info_hash_v2 is not None
        ids = [meta.info_hash, meta.info_hash_v2[:20]]
        async with running_session() as seed, running_session("127.0.0.2") as leecher:
            await seed.add_torrent(torrent, content)
            link = f"magnet:?xt=urn:btih:{meta.info_hash.hex()}&tr={tracker.http_url}"
            info_hash = await leecher.add_torrent(link, tmp_path / "down")
            await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
            trackers = leecher.torrents[meta.info_hash].trackers
            assert trackers.info_hashes == tuple(ids)
            await eventually(lambda: [entry[2] for entry in trackers.fingerprint()][1:] == [2], "the v2 answer")
            assert (await scrape(tracker, ids))[1].complete == 2
