"""Magnet links, DHT, PEX and the fast extension against real libtorrent peers on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from app.engine import peer_protocol
from app.engine.dht import DhtNode
from app.engine.magnet import format_magnet
from app.engine.metainfo import parse_metainfo
from app.engine.peer_protocol import PeerOwner, PeerProtocol
from app.engine.snapshots import TorrentState
from app.engine.wire import extension as ext
from app.engine.wire import messages as m
from tests.lt_peer import LtPeer, make_torrent, random_tree, throttle_loopback
from tests.swarm_helpers import assert_same_files, running_session, wait_for_state

pytestmark = pytest.mark.interop
SIZES = {"m/a.bin": 300_001, "m/b.txt": 1234}


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed", SIZES) / "m"


async def lt_seed(payload: Path, host: str = "127.0.0.2", **settings: object) -> tuple[LtPeer, bytes]:
    torrent = make_torrent(payload, piece_size=32768)
    seed = LtPeer(host, **settings)
    seed.add(torrent, payload.parent)
    await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
    return seed, torrent


async def test_magnet_with_a_libtorrent_seed_as_the_only_source(payload: Path, tmp_path: Path) -> None:
    seed, torrent = await lt_seed(payload)
    meta = parse_metainfo(torrent)
    try:
        async with running_session() as session:
            info_hash = await session.add_torrent(format_magnet(meta.info_hash, "m"), tmp_path / "out")
            snap = next(t for t in session.snapshot().torrents if t.info_hash == info_hash)
            assert (snap.state, snap.reason) == (TorrentState.METADATA, None)
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=30)
            assert session.torrents[meta.info_hash].metainfo.raw_info == meta.raw_info
    finally:
        seed.close()
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_the_connection_that_brings_the_metadata_brings_the_data(
    payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    seed, torrent = await lt_seed(payload)
    meta = parse_metainfo(torrent)
    try:
        async with running_session() as session:
            info_hash = await session.add_torrent(format_magnet(meta.info_hash, "m"), tmp_path / "out")
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=30)
    finally:
        seed.close()
    [peer] = metadata_from
    assert data_from == {peer} and peer.down.total == sum(SIZES.values())
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_fast_extension_have_all_from_libtorrent(
    payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    have_all_from: list[PeerProtocol] = []
    original = peer_protocol._HANDLERS[m.HaveAll]

    def record(peer: PeerProtocol, message: m.HaveAll) -> None:
        have_all_from.append(peer)
        original(peer, message)

    monkeypatch.setitem(peer_protocol._HANDLERS, m.HaveAll, record)
    seed, torrent = await lt_seed(payload)
    try:
        async with running_session() as session:
            info_hash = await session.add_torrent(torrent, tmp_path / "out")
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            await wait_for_state(session, info_hash, TorrentState.SEEDING)
    finally:
        seed.close()
    [peer] = have_all_from
    assert peer.fast and peer.pieces is not None and peer.pieces.is_complete()
    assert peer.remote_extensions is not None and "libtorrent" in peer.remote_extensions.v.lower()
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))


async def test_pex_teaches_us_a_third_peer(payload: Path, tmp_path: Path) -> None:
    """We know only libtorrent A; A also serves libtorrent B; A's ut_pex tells us about B.

    A uploads slowly, so nobody finishes (seeds drop each other) before PEX has been sent:
    libtorrent sends ut_pex about once a minute."""
    seed, torrent = await lt_seed(payload)
    throttle_loopback(seed, 4096)
    other = LtPeer("127.0.0.3")
    try:
        other.add(torrent, tmp_path / "b")
        other.handles[0].connect_peer(("127.0.0.2", seed.port))
        async with running_session() as session:
            info_hash = await session.add_torrent(torrent, tmp_path / "out")
            session.add_peer(info_hash, "127.0.0.2", seed.port)
            torrent_obj = session.torrents[bytes.fromhex(info_hash)]
            async with asyncio.timeout(100):
                while not any(p.address == ("127.0.0.3", other.port) for p in torrent_obj.peers):
                    await asyncio.sleep(0.1)
    finally:
        seed.close()
        other.close()


async def test_trackerless_magnet_through_a_loopback_dht(payload: Path, tmp_path: Path) -> None:
    """A few DHT nodes on 127.0.0.1, a libtorrent seed on the DHT, a Piecemeal leecher with
    only a magnet link and one loopback bootstrap node."""
    nodes = [DhtNode(bootstrap=(), max_queries_per_second=1000, max_queries_per_ip_per_second=1000) for _ in range(6)]
    await nodes[0].start("127.0.0.1", 0)
    for node in nodes[1:]:
        node.add_node("127.0.0.1", nodes[0].port)
        await node.start("127.0.0.1", 0)
    seed, torrent = await lt_seed(
        payload, "127.0.0.2", enable_dht=True, dht_bootstrap_nodes=f"127.0.0.1:{nodes[0].port}",
        dht_restrict_routing_ips=False, dht_restrict_search_ips=False, dht_prefer_verified_node_ids=False,
    )
    meta = parse_metainfo(torrent)
    try:
        async with asyncio.timeout(30):  # the seed announces itself once it has joined
            while not await nodes[1].get_peers(meta.info_hash):
                seed.handles[0].force_dht_announce()
                await asyncio.sleep(0.5)
        async with running_session(enable_dht=True, dht_bootstrap=(("127.0.0.1", nodes[0].port),)) as session:
            info_hash = await session.add_torrent(format_magnet(meta.info_hash), tmp_path / "out")
            await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout=60)
    finally:
        seed.close()
        for node in nodes:
            await node.close()
    assert_same_files(payload.parent, tmp_path / "out", list(SIZES))
