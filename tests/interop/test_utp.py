"""Piecemeal against a real libtorrent peer over uTP only (libtorrent's TCP switched off both
ways), both directions, single and multi-file, byte for byte, over IPv4 and over IPv6 on ::1."""

from __future__ import annotations

import asyncio
import filecmp
from pathlib import Path

import pytest

from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentState
from tests.lt_peer import UTP_ONLY, LtPeer, make_torrent, random_tree
from tests.swarm_helpers import loopback_config, wait_for_state

pytestmark = pytest.mark.interop

LAYOUTS = {
    "single": {"one.bin": 2_500_001},
    "multi": {"tree/a.bin": 1_000_003, "tree/empty.txt": 0, "tree/tiny.txt": 777, "tree/sub/b.bin": 1_300_001},
}


def payload_of(root: Path, layout: str) -> tuple[Path, list[str]]:
    sizes = LAYOUTS[layout]
    random_tree(root, sizes)
    top = next(iter(sizes)).split("/")[0]
    return root / top, list(sizes)


def assert_same(expected_root: Path, actual_root: Path, names: list[str]) -> None:
    for name in names:
        assert filecmp.cmp(expected_root / name, actual_root / name, shallow=False), name


async def peer_transports(session: Session, info_hash: str) -> set[str]:
    details = session.details(info_hash)
    return {peer.transport for peer in details.peers} if details is not None else set()


# (layout, libtorrent's address, ours): on ::1 both listen on IPv6 loopback, ports apart.
CASES = [("single", "127.0.0.2", "127.0.0.1"), ("multi", "127.0.0.2", "127.0.0.1"), ("multi", "::1", "::1")]


async def download_from(seed_settings: dict[str, object], layout: str, lt_host: str, pm_host: str,
                        transport: str, tmp_path: Path) -> set[str]:
    """Piecemeal (set to `transport`) downloads from a libtorrent seed; the transports its
    connections used, looked at every loop turn (the whole download can take under 50 ms)."""
    payload, names = payload_of(tmp_path / "seed", layout)
    torrent = make_torrent(payload, piece_size=65536)
    seed = LtPeer(lt_host, **seed_settings)
    seed.add(torrent, payload.parent)
    session = Session(loopback_config(pm_host, transport=transport))
    await session.start()
    transports: set[str] = set()
    try:
        await asyncio.to_thread(seed.wait_seeding, seed.handles[0])
        info_hash = await session.add_torrent(torrent, tmp_path / "down")
        session.add_peer(info_hash, lt_host, seed.port)
        async with asyncio.timeout(120):
            while torrent_state(session, info_hash) != TorrentState.SEEDING:
                transports |= await peer_transports(session, info_hash)
                await asyncio.sleep(0)
    finally:
        await session.close()
        seed.close()
    assert_same(tmp_path / "seed", tmp_path / "down", names)
    return transports


@pytest.mark.parametrize(("layout", "lt_host", "pm_host"), CASES)
async def test_download_from_a_libtorrent_seed_over_utp(layout: str, lt_host: str, pm_host: str, tmp_path: Path) -> None:
    assert await download_from(UTP_ONLY, layout, lt_host, pm_host, "utp", tmp_path) == {"uTP"}


def torrent_state(session: Session, info_hash: str) -> TorrentState:
    snap = next(t for t in session.snapshot().torrents if t.info_hash == info_hash)
    assert snap.reason != StopReason.ERROR, snap.error
    return snap.state


@pytest.mark.parametrize(("layout", "lt_host", "pm_host"), [(layout, "127.0.0.3", pm) for layout, _, pm in CASES[:2]]
                         + [CASES[2]])
async def test_libtorrent_downloads_from_piecemeal_over_utp(layout: str, lt_host: str, pm_host: str, tmp_path: Path) -> None:
    payload, names = payload_of(tmp_path / "seed", layout)
    torrent = make_torrent(payload, piece_size=32768)
    session = Session(loopback_config(pm_host, transport="utp"))
    await session.start()
    leech = LtPeer(lt_host, **UTP_ONLY)  # no TCP at all: what it gets came over uTP
    try:
        info_hash = await session.add_torrent(torrent, payload.parent)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        handle = leech.add(torrent, tmp_path / "lt")
        assert session.listen_port is not None
        handle.connect_peer((pm_host, session.listen_port))  # libtorrent dials our UDP port
        await asyncio.to_thread(leech.wait_seeding, handle, 120.0)
    finally:
        leech.close()
        await session.close()
    assert_same(tmp_path / "seed", tmp_path / "lt", names)


@pytest.mark.parametrize(("lt_host", "pm_host"), [("127.0.0.2", "127.0.0.1"), ("::1", "::1")])
async def test_utp_first_reaches_a_libtorrent_that_takes_both_over_utp(lt_host: str, pm_host: str, tmp_path: Path) -> None:
    """libtorrent takes TCP and uTP; our "utp-first" setting dials uTP, and that is what comes up."""
    both = {"enable_incoming_tcp": True, "enable_outgoing_tcp": False, "enable_incoming_utp": True,
            "enable_outgoing_utp": False}  # it only answers: the connection is ours to choose
    assert await download_from(both, "multi", lt_host, pm_host, "utp-first", tmp_path) == {"uTP"}
