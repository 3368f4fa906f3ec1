"""Magnet links, DHT, PEX and the fast extension against real libtorrent peers on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine import peer_protocol
from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from app.engine.peer_protocol import PeerOwner, PeerProtocol
from app.engine.snapshots import TorrentState
from app.engine.wire import extension as ext
from app.engine.wire import messages as m
from tests.lt_peer import LtPeer, dht_settings, lt_seed, make_torrent, random_tree, throttle_loopback
from tests.swarm_helpers import (assert_same_files, download_from, loopback_dht, running_session, torrent_snapshot,
                                 wait_announced, wait_for_peer, wait_for_state)

pytestmark = pytest.mark.interop
SIZES = {"m/a.bin": 300_001, "m/b.txt": 1234}


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed", SIZES) / "m"


@pytest.fixture
def torrent(payload: Path) -> bytes:
    return make_torrent(payload, piece_size=32768)


async def test_magnet_with_a_libtorrent_seed_as_the_only_source(payload: Path, torrent: bytes, tmp_path: Path) -> None:
    meta = parse_metainfo(torrent)
    async with lt_seed(torrent, payload.parent) as seed, running_session() as session:
        info_hash = await session.add_torrent(format_magnet(meta.info_hash, "m"), tmp_path / "out")
        snap = torrent_snapshot(session, info_hash)
        assert (snap.state, snap.reason) == (TorrentState.METADATA, None)
        session.add_peer(info_hash, "127.0.0.2", seed.port)
        await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=30)
        assert session.torrents[meta.info_hash].metainfo.raw_info == meta.raw_info
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_the_connection_that_brings_the_metadata_brings_the_data(
    payload: Path, torrent: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEP 9 then BEP 3 on one connection: we keep the libtorrent seed when the metadata arrives."""
    metadata_from: set[PeerProtocol] = set()
    data_from: set[PeerProtocol] = set()
    ut_metadata = ext.LOCAL_EXTENSION_IDS[ext.UT_METADATA]
    on_metadata, on_blocks = peer_protocol._EXTENSION_HANDLERS[ut_metadata], PeerProtocol._on_blocks

    def record_metadata(peer: PeerProtocol, owner: PeerOwner, payload: bytes) -> None:
        metadata_from.add(peer)
        on_metadata(peer, owner, payload)

    def record_blocks(peer: PeerProtocol, blocks: list[tuple[int, int, memoryview]]) -> None:
        data_from.add(peer)
        on_blocks(peer, blocks)

    monkeypatch.setitem(peer_protocol._EXTENSION_HANDLERS, ut_metadata, record_metadata)
    monkeypatch.setattr(PeerProtocol, "_on_blocks", record_blocks)  # every received block passes here
    link = format_magnet(parse_metainfo(torrent).info_hash, "m")
    async with lt_seed(torrent, payload.parent) as seed, running_session() as session:
        await download_from(session, link, tmp_path / "out", ("127.0.0.2", seed.port), timeout=30)
    [peer] = metadata_from
    assert data_from == {peer} and peer.down.total == sum(SIZES.values())
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_fast_extension_have_all_from_libtorrent(
    payload: Path, torrent: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    have_all_from: list[PeerProtocol] = []
    original = peer_protocol._HANDLERS[m.HaveAll]

    def record(peer: PeerProtocol, message: m.HaveAll) -> None:
        have_all_from.append(peer)
        original(peer, message)

    monkeypatch.setitem(peer_protocol._HANDLERS, m.HaveAll, record)
    async with lt_seed(torrent, payload.parent) as seed, running_session() as session:
        await download_from(session, torrent, tmp_path / "out", ("127.0.0.2", seed.port))
    [peer] = have_all_from
    assert peer.fast and peer.pieces is not None and peer.pieces.is_complete()
    assert peer.remote_extensions is not None and "libtorrent" in peer.remote_extensions.v.lower()
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_pex_teaches_us_a_third_peer(payload: Path, torrent: bytes, tmp_path: Path) -> None:
    """We know only libtorrent A; A also serves libtorrent B; A's ut_pex tells us about B.

    A uploads slowly, so nobody finishes (seeds drop each other) before PEX has been sent:
    libtorrent sends ut_pex about once a minute."""
    async with lt_seed(torrent, payload.parent) as seed:
        throttle_loopback(seed, 4096)
        with LtPeer("127.0.0.3") as other:
            other.add(torrent, tmp_path / "b")
            other.handles[0].connect_peer(("127.0.0.2", seed.port))
            async with running_session() as session:
                info_hash = await session.add_torrent(torrent, tmp_path / "out")
                session.add_peer(info_hash, "127.0.0.2", seed.port)
                await wait_for_peer(session, info_hash, ("127.0.0.3", other.port))


async def test_trackerless_magnet_through_a_loopback_dht(payload: Path, torrent: bytes, tmp_path: Path) -> None:
    """A few DHT nodes on 127.0.0.1, a libtorrent seed on the DHT, a Piecemeal leecher with
    only a magnet link and one loopback bootstrap node."""
    meta = parse_metainfo(torrent)
    async with loopback_dht("127.0.0.1") as nodes:
        bootstrap = ("127.0.0.1", nodes[0].port)
        async with lt_seed(torrent, payload.parent, **dht_settings(bootstrap)) as seed:
            await wait_announced(nodes[1], meta.info_hash, seed.handles[0].force_dht_announce)
            async with running_session(enable_dht=True, dht_bootstrap=(bootstrap,)) as session:
                info_hash = await session.add_torrent(format_magnet(meta.info_hash), tmp_path / "out")
                await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=60)
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))
