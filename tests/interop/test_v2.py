"""BEP 52 against real peers: a hybrid swarm shared with a v1-only client, a v2-only leecher that
finds us in the tracker's v2 swarm, magnet links of v2 and hybrid torrents both ways, a hybrid known
first by its v2 hash. (Plain transfers of each format, both directions: test_libtorrent.py.)"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import libtorrent as lt
import pytest

from app.engine import torrent as torrent_module
from app.engine.creator import create_torrent
from app.engine.hash_server import LeafWork, leaf_answer
from app.engine.metainfo import parse_metainfo
from app.engine.snapshots import TorrentState
from app.engine.wire import messages as m
from tests.hostile_peer import HOSTILE_HOST, GarbageSeed
from tests.interop.conftest import assert_same_tree, same_tree
from tests.lt_peer import LtPeer, lt_fetch, lt_seed, make_torrent
from tests.processes import free_port, log_tail, need_program, running, wait_until
from tests.swarm_helpers import download_from, eventually, running_session, running_tracker, seed_with, wait_for_state

pytestmark = pytest.mark.interop


def rtorrent_args(work: Path, torrent: Path) -> list[str]:
    """rtorrent as a daemon: no DHT, PEX or UDP trackers; its only peer source is our tracker."""
    (work / "session").mkdir(parents=True)
    port = free_port("127.0.0.4")
    options = [
        "system.daemon.set=true", f"session.path.set={work / 'session'}", f"directory.default.set={work / 'data'}",
        f"network.port_range.set={port}-{port}", "network.bind_address.set=127.0.0.4", "dht.mode.set=disable",
        "protocol.pex.set=no", "trackers.use_udp.set=no", "network.port_random.set=no", f"load.start={torrent}",
    ]
    return [need_program("rtorrent"), "-n", *(part for option in options for part in ("-o", option))]


async def test_a_v1_only_client_and_a_v2_client_share_a_hybrid_swarm(payload: Path, tmp_path: Path) -> None:
    """Piecemeal seeds a hybrid torrent it made; rtorrent (v1 only) and libtorrent (v2) leech at once.

    rtorrent knows nothing of BEP 52 or BEP 47: it joins by the v1 info-hash and keeps the
    pad files as ordinary files of zeros.
    """
    async with running_tracker("127.0.0.1", interval=2) as tracker, running_session() as session:
        torrent = create_torrent(payload, piece_length=32768, trackers=[[tracker.http_url]], format="hybrid")
        (tmp_path / "hybrid.torrent").write_bytes(torrent)
        (tmp_path / "rt" / "data").mkdir(parents=True)
        await seed_with(session, torrent, payload.parent)
        with LtPeer("127.0.0.3") as leech, running(rtorrent_args(tmp_path / "rt", tmp_path / "hybrid.torrent"),
                                                    cwd=tmp_path, name="rtorrent"):
            await lt_fetch(leech, torrent, tmp_path / "lt", ("127.0.0.1", session.listen_port))
            done = functools.partial(same_tree, payload, tmp_path / "rt" / "data" / "awkward")
            failure = functools.partial(log_tail, tmp_path, "rtorrent")
            await asyncio.to_thread(wait_until, done, 60, failure)
    assert_same_tree(payload, tmp_path / "lt" / "awkward")
    assert_same_tree(payload, tmp_path / "rt" / "data" / "awkward")


@pytest.mark.parametrize("format", ["v2", "hybrid"])
async def test_a_magnet_link_from_libtorrent(format: str, payload: Path, tmp_path: Path) -> None:
    """libtorrent's own magnet link: urn:btmh only (v2) or both xt (hybrid). A v2-only torrent's
    piece layers are not in the metadata: Piecemeal asks libtorrent for them (BEP 52 hash request)."""
    torrent = make_torrent(payload, piece_size=32768, format=format)
    link = lt.make_magnet_uri(lt.torrent_info(torrent))
    assert ("urn:btih:" in link) == (format == "hybrid") and "urn:btmh:1220" in link
    async with lt_seed(torrent, payload.parent) as seed, running_session() as session:
        await download_from(session, link, tmp_path / "down", ("127.0.0.2", seed.port))
    assert_same_tree(payload, tmp_path / "down" / "awkward")


async def test_libtorrent_from_a_v2_magnet_gets_the_piece_layers_from_piecemeal(payload: Path, tmp_path: Path) -> None:
    """libtorrent knows only the urn:btmh link: the metadata and every piece layer come from us."""
    torrent = make_torrent(payload, piece_size=32768, format="v2")
    async with running_session() as session:
        await seed_with(session, torrent, payload.parent)
        with LtPeer("127.0.0.3") as leech:
            link = lt.make_magnet_uri(lt.torrent_info(torrent))
            await lt_fetch(leech, link, tmp_path / "lt", ("127.0.0.1", session.listen_port))
    assert_same_tree(payload, tmp_path / "lt" / "awkward")


async def test_a_hybrid_first_known_by_its_v2_hash_keeps_that_id_after_a_restart(payload: Path, tmp_path: Path) -> None:
    """A urn:btmh-only link to a hybrid torrent: the list keys it by the truncated v2 hash,
    before and after the metadata, and again when the app starts next time."""
    torrent = make_torrent(payload, piece_size=32768, format="hybrid")
    v2 = lt.torrent_info(torrent).info_hashes().v2.to_bytes()
    profile = tmp_path / "profile"
    async with lt_seed(torrent, payload.parent) as seed, running_session(profile_dir=profile) as session:
        info_hash = await session.add_torrent(f"magnet:?xt=urn:btmh:1220{v2.hex()}", tmp_path / "down")
        assert info_hash == v2[:20].hex()
        session.add_peer(info_hash, "127.0.0.2", seed.port)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
    async with running_session(profile_dir=profile) as again:
        assert [t.info_hash for t in again.snapshot().torrents] == [info_hash]
        await wait_for_state(again, info_hash, TorrentState.SEEDING)


async def test_libtorrent_that_knows_only_the_v2_swarm_finds_a_hybrid_seed_through_the_tracker(
    payload: Path, tmp_path: Path
) -> None:
    """BEP 52: Piecemeal announces its hybrid seed under the truncated v2 id too. libtorrent holds a
    urn:btmh link and the tracker, no DHT and no peer address: the tracker's v2 swarm is its only
    way to us, and its handshake names the truncated v2 id."""
    async with running_tracker("127.0.0.1", interval=1800) as tracker, running_session() as session:
        torrent = create_torrent(payload, piece_length=32768, trackers=[[tracker.http_url]], format="hybrid")
        v2 = lt.torrent_info(torrent).info_hashes().v2.to_bytes()
        await seed_with(session, torrent, payload.parent)
        with LtPeer("127.0.0.3") as leech:
            link = f"magnet:?xt=urn:btmh:1220{v2.hex()}&tr={tracker.http_url}"
            await lt_fetch(leech, link, tmp_path / "lt")
    assert_same_tree(payload, tmp_path / "lt" / "awkward")


async def test_libtorrent_asks_piecemeal_for_the_leaf_hashes_of_a_piece_that_failed(
    payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEP 52: a v2 piece that fails its hash makes libtorrent ask a v2 peer for that piece's leaf
    hashes (base layer 0), once, to find the bad block. A liar (v1 handshake only: libtorrent
    sends it no hash request) serves garbage first; then libtorrent calls Piecemeal, which
    answers the v1 greeting with the v2 id (BEP 52 upgrade) and the leaves from its data, though
    it has not unchoked libtorrent yet."""
    served: list[m.Hashes | m.HashReject] = []

    def recorded(work: LeafWork, data: list[memoryview]) -> m.Hashes | m.HashReject:
        served.append(answer := leaf_answer(work, data))
        return answer

    monkeypatch.setattr(torrent_module, "leaf_answer", recorded)
    torrent = create_torrent(payload, piece_length=32768, format="hybrid")
    meta = parse_metainfo(torrent)
    liar = GarbageSeed(meta.info_hash, meta.num_pieces)
    liar_port = await liar.start(HOSTILE_HOST)
    try:
        async with running_session() as session:
            await seed_with(session, torrent, payload.parent)
            with LtPeer("127.0.0.3", out_enc_policy=2) as leech:  # plain handshakes: the liar reads no other
                handle = leech.add(torrent, tmp_path / "lt")
                handle.connect_peer((HOSTILE_HOST, liar_port))
                await eventually(lambda: handle.status().total_failed_bytes > 0, "a piece from the liar to fail")
                handle.connect_peer(("127.0.0.1", session.listen_port))
                await asyncio.to_thread(leech.wait_seeding, handle)
    finally:
        await liar.close()
    assert served and all(isinstance(answer, m.Hashes) and answer.base_layer == 0 for answer in served)
    assert_same_tree(payload, tmp_path / "lt" / "awkward")
