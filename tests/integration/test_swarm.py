"""Piecemeal sessions swarming on 127.0.0.1 through the embedded HTTP and UDP trackers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.snapshots import TorrentState, TrackerSnapshot
from app.engine.tracker.server import TrackerServer
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, running_session, running_tracker, torrent_snapshot, wait_for_state

# Awkward sizes around a 32 KiB piece: empty files first, middle and last, files smaller
# than a block, a file of exactly one piece, a short last piece.
SIZES = {
    "0-empty-first": 0,
    "a-tiny.txt": 1,
    "b-small.bin": 5_000,
    "c-empty-middle": 0,
    "d-one-piece.bin": 32 * 1024,
    "e-big.bin": 700_001,
    "f/deep/g.bin": 123_457,
    "z-empty-last": 0,
}
NAMES = [f"payload/{name}" for name in SIZES]


@pytest.fixture
async def tracker() -> AsyncIterator[TrackerServer]:
    async with running_tracker("127.0.0.1") as server:
        yield server


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", SIZES)


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_one_seed_three_leechers(kind: str, tracker: TrackerServer, payload: Path, tmp_path: Path) -> None:
    url = tracker.http_url if kind == "http" else tracker.udp_url
    torrent = create_torrent(payload, trackers=[[url]], piece_length=32 * 1024)
    async with running_session() as seed, running_session() as l1, running_session() as l2, running_session() as l3:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        for i, leecher in enumerate((l1, l2, l3)):
            await leecher.add_torrent(torrent, tmp_path / f"leech{i}")
        for i, leecher in enumerate((l1, l2, l3)):
            await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
            assert_same_files(payload.parent, tmp_path / f"leech{i}", NAMES)
        snap = torrent_snapshot(seed, info_hash)
        assert snap.uploaded > 0
        assert snap.trackers[0].status == "working", snap.trackers


async def test_leecher_with_half_the_data_already_on_disk(tracker: TrackerServer, payload: Path, tmp_path: Path) -> None:
    torrent = create_torrent(payload, trackers=[[tracker.http_url]], piece_length=32 * 1024)
    half = tmp_path / "half"
    shutil.copytree(payload, half / "payload")
    (half / "payload" / "e-big.bin").write_bytes((payload / "e-big.bin").read_bytes()[:350_000])
    (half / "payload" / "f" / "deep" / "g.bin").unlink()
    async with running_session() as seed, running_session() as leecher:
        info_hash = await leecher.add_torrent(torrent, half)
        checked = await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
        assert 0.3 < checked.progress < 0.9
        await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        downloaded = torrent_snapshot(leecher, info_hash).downloaded
    assert_same_files(payload.parent, half, NAMES)
    assert downloaded < 0.7 * sum(SIZES.values())  # only the missing part came over the wire


async def test_dead_tracker_is_reported_and_the_next_tier_used(payload: Path, tmp_path: Path, tracker: TrackerServer) -> None:
    dead = "http://127.0.0.1:9/announce"  # discard port: nothing listens
    torrent = create_torrent(payload, trackers=[[dead], [tracker.http_url]], piece_length=32 * 1024)
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await leecher.add_torrent(torrent, tmp_path / "out")
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)

        def trackers() -> dict[str, TrackerSnapshot]:
            return {t.url: t for t in torrent_snapshot(leecher, info_hash).trackers}

        async with asyncio.timeout(10):  # the 'completed' announce may still be on its way
            while trackers()[tracker.http_url].status == "announcing":
                await asyncio.sleep(0.05)
        statuses = trackers()
    assert statuses[dead].status == "error" and statuses[dead].message
    assert statuses[tracker.http_url].status == "working"
    assert_same_files(payload.parent, tmp_path / "out", NAMES)
