"""Piecemeal against a real libtorrent peer on loopback, both directions, byte for byte."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.interop.conftest import assert_same_tree
from tests.lt_peer import LtPeer, make_torrent
from tests.swarm_helpers import loopback_config, wait_for_state

pytestmark = pytest.mark.interop



async def test_download_from_libtorrent_seed(payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=65536)
    seed = LtPeer("127.0.0.2")
    seed.add(torrent, payload.parent, seed_mode=False)
    session = Session(loopback_config())
    await session.start()
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
        info_hash = await session.add_torrent(torrent, tmp_path / "down")
        session.add_peer(info_hash, "127.0.0.2", seed.port)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
    finally:
        await session.close()
        seed.close()
    assert_same_tree(payload, tmp_path / "down" / "awkward")


async def test_libtorrent_downloads_from_piecemeal(payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=32768)
    session = Session(loopback_config())
    await session.start()
    leech = LtPeer("127.0.0.3")
    try:
        info_hash = await session.add_torrent(torrent, payload.parent)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        handle = leech.add(torrent, tmp_path / "lt")
        handle.connect_peer(("127.0.0.1", session.listen_port))
        await asyncio.to_thread(leech.wait_seeding, handle)
    finally:
        leech.close()
        await session.close()
    assert_same_tree(payload, tmp_path / "lt" / "awkward")


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_both_ways_through_our_tracker(kind: str, payload: Path, tmp_path: Path) -> None:
    """libtorrent seeds -> Piecemeal leeches -> libtorrent leeches from Piecemeal; peers come from the tracker only."""
    from app.engine.tracker.server import TrackerServer

    tracker = TrackerServer(interval=60)
    await tracker.start("127.0.0.1")
    url = tracker.http_url if kind == "http" else tracker.udp_url
    torrent = make_torrent(payload, piece_size=65536, trackers=[url])
    lt_seed = LtPeer("127.0.0.2")
    try:
        lt_seed.add(torrent, payload.parent)
        await asyncio.to_thread(lt_seed.wait_seeding, lt_seed.handles[0])
        lt_seed.handles[0].force_reannounce()
        session = Session(loopback_config())
        await session.start()
        try:
            info_hash = await session.add_torrent(torrent, tmp_path / "pm")
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
            lt_seed.close()  # now Piecemeal is the only seed
            # Same address as the seed: libtorrent caches UDP connection ids per process and
            # tracker, and a tracker may tie an id to the client's IP (BEP 15).
            lt_leech = LtPeer("127.0.0.2")
            try:
                lt_leech.add(torrent, tmp_path / "lt")
                await asyncio.to_thread(lt_leech.wait_seeding, lt_leech.handles[0])
            finally:
                lt_leech.close()
        finally:
            await session.close()
    finally:
        await tracker.close()
    assert_same_tree(payload, tmp_path / "pm" / "awkward")
    assert_same_tree(payload, tmp_path / "lt" / "awkward")
