"""Piecemeal against a real libtorrent peer on loopback, both directions, byte for byte, for each
torrent format: v1, v2 and hybrid (BEP 52)."""

from __future__ import annotations

from pathlib import Path

import libtorrent as lt
import pytest

from tests.interop.conftest import assert_same_tree
from tests.lt_peer import LtPeer, lt_fetch, lt_seed, make_torrent, relay_through_piecemeal
from tests.swarm_helpers import download_from, running_session, running_tracker, seed_with

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("format", ["v1", "v2", "hybrid"])
async def test_download_from_libtorrent_seed(format: str, payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=65536, format=format)
    async with lt_seed(torrent, payload.parent) as seed, running_session() as session:
        info_hash = await download_from(session, torrent, tmp_path / "down", ("127.0.0.2", seed.port))
        details = session.details(info_hash)
    assert_same_tree(payload, tmp_path / "down" / "awkward")
    hashes = lt.torrent_info(torrent).info_hashes()
    assert details is not None and details.format == format
    assert details.info_hash_v1 == (str(hashes.v1) if hashes.has_v1() else "")
    assert details.info_hash_v2 == (str(hashes.v2) if hashes.has_v2() else "")


@pytest.mark.parametrize("format", ["v1", "v2", "hybrid"])
async def test_libtorrent_downloads_from_piecemeal(format: str, payload: Path, tmp_path: Path) -> None:
    torrent = make_torrent(payload, piece_size=32768, format=format)
    async with running_session() as session:
        await seed_with(session, torrent, payload.parent)
        with LtPeer("127.0.0.3") as leech:
            await lt_fetch(leech, torrent, tmp_path / "lt", ("127.0.0.1", session.listen_port))
    assert_same_tree(payload, tmp_path / "lt" / "awkward")


@pytest.mark.parametrize("kind", ["http", "udp"])
async def test_both_ways_through_our_tracker(kind: str, payload: Path, tmp_path: Path) -> None:
    """libtorrent seeds -> Piecemeal leeches -> libtorrent leeches from Piecemeal; peers come from the tracker only."""
    async with running_tracker("127.0.0.1") as tracker, running_session() as session:
        url = tracker.http_url if kind == "http" else tracker.udp_url
        torrent = make_torrent(payload, piece_size=65536, trackers=[url])
        await relay_through_piecemeal(session, torrent, payload, tmp_path, "127.0.0.2")
    assert_same_tree(payload, tmp_path / "pm" / "awkward")
    assert_same_tree(payload, tmp_path / "lt" / "awkward")
