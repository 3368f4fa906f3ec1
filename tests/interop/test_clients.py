"""Piecemeal against real clients other than libtorrent (aria2, rtorrent, Transmission,
qBittorrent), both ways, single- and multi-file torrents and magnet links, byte for byte.
They meet through our HTTP tracker (Transmission 3.00 never dials 127/8: Piecemeal dials it).

Encryption: `--peer-crypto=required` reruns all of it with MSE required on both sides.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.engine.magnet import format_magnet
from app.engine.metainfo import load_metainfo
from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentState
from app.engine.tracker.server import TrackerServer
from tests.client_peers import (
    CLIENTS,
    ClientRun,
    client_running,
    make_role,
    wait_finished,
    wait_announced,
)
from tests.lt_peer import make_torrent, random_tree
from tests.swarm_helpers import assert_same_files, running_session, running_tracker, torrent_snapshot

pytestmark = pytest.mark.interop

TRACKER_HOST = "127.0.0.1"
PIECEMEAL_HOST = "127.0.0.2"
CLIENT_HOST = "127.0.0.3"
PIECE_SIZE = 256 * 1024
TIMEOUT = 60.0

# aria2 1.36 sends a whole bitfield when 20 or more pieces completed since its last `have`s:
# the 64 MiB multi-file torrent is the one that showed it.
LAYOUTS = {
    "single": {"single.bin": 9_000_017},
    "multi": {
        "multi/a.bin": 24 * 1024 * 1024,
        "multi/sub/b.bin": 20 * 1024 * 1024 + 3,
        "multi/c.bin": 20 * 1024 * 1024 - 5,
        "multi/tiny.txt": 777,
    },
    "small-multi": {"small/a.bin": 3 * 1024 * 1024 + 1, "small/sub/b.bin": 2 * 1024 * 1024, "small/tiny.txt": 777},
}
# Transmission waits for its 10-second rechoke to say `interested` or to unchoke: one case each.
CASES = [
    pytest.param("aria2", "single"),
    pytest.param("aria2", "multi"),
    pytest.param("rtorrent", "single"),
    pytest.param("rtorrent", "multi"),
    pytest.param("transmission", "small-multi", marks=pytest.mark.slow),
    pytest.param("qbittorrent", "small-multi"),
]
# Piecemeal's side of --peer-crypto (SessionConfig.encryption; "allow" is its default).
PIECEMEAL_CRYPTO: dict[str, dict[str, object]] = {"allowed": {"encryption": "allow"}, "required": {"encryption": "require"}}


@pytest.fixture
async def tracker() -> AsyncIterator[TrackerServer]:
    async with running_tracker(TRACKER_HOST) as server:
        yield server


def _torrent(tmp_path: Path, layout: str, tracker: TrackerServer) -> tuple[Path, Path, list[str]]:
    """Random content for `layout` under tmp/seed, its .torrent file, and the names to compare."""
    sizes = LAYOUTS[layout]
    random_tree(tmp_path / "seed", sizes)
    top = tmp_path / "seed" / next(iter(sizes)).split("/")[0]
    torrent = tmp_path / f"{layout}.torrent"
    torrent.write_bytes(make_torrent(top, piece_size=PIECE_SIZE, trackers=[tracker.http_url]))
    return torrent, tmp_path / "seed", list(sizes)


def _status(session: Session, info_hash: str) -> str:
    snap = torrent_snapshot(session, info_hash)
    peers = session.details(info_hash)
    names = ", ".join(f"{p.address} {p.client}" for p in peers.peers) if peers else ""
    return f"{snap.state.name} {snap.progress:.1%}, peers: [{names}]"


async def _seeding(session: Session, info_hash: str, run: ClientRun) -> None:
    for _ in range(int(TIMEOUT / 0.1)):
        snap = torrent_snapshot(session, info_hash)
        assert snap.reason != StopReason.ERROR, snap.error
        if snap.state == TorrentState.SEEDING:
            return
        run.check_alive()
        await asyncio.sleep(0.1)
    pytest.fail(f"Piecemeal did not finish in {TIMEOUT:.0f} s: {_status(session, info_hash)}\n{run.log()}")


async def _announced(session: Session, info_hash: str) -> None:
    for _ in range(200):
        trackers = torrent_snapshot(session, info_hash).trackers
        if trackers[0].status == "working":
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"Piecemeal's announce failed: {trackers[0].status} {trackers[0].message}")


@pytest.mark.parametrize(("client_name", "layout"), CASES)
async def test_client_downloads_from_piecemeal(
    client_name: str, layout: str, tmp_path: Path, tracker: TrackerServer, peer_crypto: str
) -> None:
    torrent, seed_dir, names = _torrent(tmp_path, layout, tracker)
    role = make_role(tmp_path, torrent, tmp_path / "client-data", seed=False, host=CLIENT_HOST, crypto=peer_crypto)
    async with running_session(PIECEMEAL_HOST, **PIECEMEAL_CRYPTO[peer_crypto]) as session:
        info_hash = await _seed_announced(session, torrent, seed_dir)
        client = CLIENTS[client_name]
        with client_running(client, role) as run:
            if not client.dials_loopback:
                await wait_announced(tracker.http_url, info_hash, run)
                session.add_peer(info_hash, role.host, role.port)
            await wait_finished(run, TIMEOUT, lambda: _status(session, info_hash))
    assert_same_files(seed_dir, role.data, names)


@pytest.mark.parametrize(("client_name", "layout"), CASES)
async def test_piecemeal_downloads_from_client(
    client_name: str, layout: str, tmp_path: Path, tracker: TrackerServer, peer_crypto: str
) -> None:
    torrent, seed_dir, names = _torrent(tmp_path, layout, tracker)
    role = make_role(tmp_path, torrent, seed_dir, seed=True, host=CLIENT_HOST, crypto=peer_crypto)
    async with running_session(PIECEMEAL_HOST, **PIECEMEAL_CRYPTO[peer_crypto]) as session:
        with client_running(CLIENTS[client_name], role) as run:
            info_hash = load_metainfo(torrent).info_hash.hex()
            await wait_announced(tracker.http_url, info_hash, run)
            await session.add_torrent(torrent, tmp_path / "down")
            await _seeding(session, info_hash, run)
    assert_same_files(seed_dir, tmp_path / "down", names)


# Magnet links: metadata (BEP 9) from the client's seed, and to the client's leecher. Transmission
# is left out for its 10-second rechoke.
MAGNET_CLIENTS = ["aria2", "rtorrent", "qbittorrent"]


@pytest.mark.parametrize("client_name", MAGNET_CLIENTS)
async def test_piecemeal_gets_a_magnet_from_client(
    client_name: str, tmp_path: Path, tracker: TrackerServer, peer_crypto: str
) -> None:
    torrent, seed_dir, names = _torrent(tmp_path, "small-multi", tracker)
    role = make_role(tmp_path, torrent, seed_dir, seed=True, host=CLIENT_HOST, crypto=peer_crypto)
    meta = load_metainfo(torrent)
    async with running_session(PIECEMEAL_HOST, **PIECEMEAL_CRYPTO[peer_crypto]) as session:
        with client_running(CLIENTS[client_name], role) as run:
            await wait_announced(tracker.http_url, meta.info_hash.hex(), run)
            magnet = format_magnet(meta.info_hash, meta.name, [tracker.http_url])
            info_hash = await session.add_torrent(magnet, tmp_path / "down")
            await _seeding(session, info_hash, run)
    assert_same_files(seed_dir, tmp_path / "down", names)


@pytest.mark.parametrize("client_name", MAGNET_CLIENTS)
async def test_client_gets_a_magnet_from_piecemeal(
    client_name: str, tmp_path: Path, tracker: TrackerServer, peer_crypto: str
) -> None:
    torrent, seed_dir, names = _torrent(tmp_path, "small-multi", tracker)
    meta = load_metainfo(torrent)
    magnet = format_magnet(meta.info_hash, meta.name, [tracker.http_url])
    role = make_role(tmp_path, magnet, tmp_path / "client-data", seed=False, host=CLIENT_HOST, crypto=peer_crypto)
    async with running_session(PIECEMEAL_HOST, **PIECEMEAL_CRYPTO[peer_crypto]) as session:
        info_hash = await _seed_announced(session, torrent, seed_dir)
        with client_running(CLIENTS[client_name], role) as run:
            await wait_finished(run, TIMEOUT, lambda: _status(session, info_hash))
    assert_same_files(seed_dir, role.data, names)


async def _seed_announced(session: Session, torrent: Path, seed_dir: Path) -> str:
    """Piecemeal seeds `torrent` from `seed_dir` (its data checked, no peer involved yet) and
    the tracker knows it."""
    info_hash = await session.add_torrent(torrent, seed_dir)
    for _ in range(int(TIMEOUT / 0.05)):
        if torrent_snapshot(session, info_hash).state == TorrentState.SEEDING:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"Piecemeal did not check its own data: {_status(session, info_hash)}")
    await _announced(session, info_hash)
    return info_hash
