"""BEP 52 against a real libtorrent peer: v2-only and hybrid torrents, both directions, byte for byte."""

from __future__ import annotations

import asyncio
import filecmp
from pathlib import Path

import pytest

from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.swarm_helpers import loopback_config, wait_for_state

pytestmark = pytest.mark.interop

SIZES = {
    "tree/a.bin": 1_000_003,
    "tree/empty.txt": 0,
    "tree/tiny.txt": 777,
    "tree/sub/b.bin": 3 * 65536,
    "tree/sub/c.bin": 300_001,
}


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    random_tree(tmp_path / "seed", SIZES)
    return tmp_path / "seed" / "tree"


def assert_same_tree(a: Path, b: Path) -> None:
    for name in SIZES:
        rel = Path(name).relative_to("tree")
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


@pytest.mark.parametrize("format", ["v2", "hybrid"])
async def test_download_from_libtorrent_seed(format: str, payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=65536, format=format)
    seed = LtPeer("127.0.0.2")
    seed.add(torrent, payload.parent)
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
    assert_same_tree(payload, tmp_path / "down" / "tree")


@pytest.mark.parametrize("format", ["v2", "hybrid"])
async def test_libtorrent_downloads_from_piecemeal(format: str, payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=32768, format=format)
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
    assert_same_tree(payload, tmp_path / "lt" / "tree")
