""""Why is it slow?" on loopback: each situation is built for real (Piecemeal and libtorrent
seeds on 127.0.0.x, low limits, a slowed disk, a dead tracker) and the diagnosis must name
its cause first, in the snapshot (the Status tooltip, the CLI) and in the details (General).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.diagnosis import REACH_GRACE, Cause, CauseKind
from app.engine.session import Session
from app.engine.snapshots import TorrentSnapshot
from app.engine.storage import disk
from tests.lt_peer import LtPeer, random_tree, throttle_loopback
from tests.swarm_helpers import running_session, seed_and_leech, torrent_snapshot

KIB = 1024
PIECE = 32 * KIB
LOW = 64 * KIB  # bytes/s: the payload takes tens of seconds at this rate


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", {"a.bin": 96 * PIECE})


@pytest.fixture
def torrent(payload: Path) -> bytes:
    return create_torrent(payload, piece_length=PIECE)


async def named_first(
    session: Session, info_hash: str, kind: CauseKind, shows: Callable[[Cause], bool] = lambda _: True,
    timeout: float = 30,
) -> TorrentSnapshot:
    """Until the snapshot and the details name `kind` first (and its words pass `shows`); on
    timeout, say what they named."""
    seen: object = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                snap = torrent_snapshot(session, info_hash)
                details = session.details(info_hash)
                seen = (snap.why, details.causes if details else None)
                first = details.causes[0] if details and details.causes else None
                named = (snap.why.kind if snap.why else None, first.kind if first else None)
                if named == (kind, kind) and shows(snap.why):  # type: ignore[arg-type]
                    return snap
                await asyncio.sleep(0.1)
    except TimeoutError:
        pytest.fail(f"{kind} was not named first within {timeout} s; last seen: {seen}")


async def test_the_torrents_own_download_limit(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with running_session() as seed, running_session() as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        await leecher.set_torrent_limits(info_hash, LOW, 0)
        snap = await named_first(leecher, info_hash, CauseKind.TORRENT_LIMIT)
    assert snap.why is not None and snap.why.number_text.endswith("of 64 KiB/s")


async def test_the_global_download_limit(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with running_session() as seed, running_session(down_limit=LOW) as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        await named_first(leecher, info_hash, CauseKind.SESSION_LIMIT)


async def test_one_slow_seed_and_nobody_else(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    async with running_session(up_limit=LOW) as seed, running_session() as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        snap = await named_first(leecher, info_hash, CauseKind.FEW_SOURCES)
    assert snap.why is not None and snap.why.number_text == "availability 1.0"
    assert "Only 1 connected peer has" in snap.why.sentence


async def test_a_queued_torrent(tmp_path: Path) -> None:
    first = create_torrent(random_tree(tmp_path / "one", {"a.bin": 4 * PIECE}), piece_length=PIECE)
    second = create_torrent(random_tree(tmp_path / "two", {"b.bin": 4 * PIECE}), piece_length=PIECE)
    async with running_session(max_active_downloads=1) as leecher:
        await leecher.add_torrent(first, tmp_path / "out")
        info_hash = await leecher.add_torrent(second, tmp_path / "out")
        await named_first(leecher, info_hash, CauseKind.QUEUED)


def closed_port() -> int:
    """A loopback port nobody listens on: the tracker there is dead (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def quotes_the_tracker(cause: Cause) -> bool:
    """The tracker was asked and failed (not merely "no tracker answered yet")."""
    return cause.number_text.startswith("Tracker: ")


async def test_a_dead_tracker_with_the_dht_off_and_no_peers(payload: Path, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/announce"
    torrent = create_torrent(payload, piece_length=PIECE, trackers=[[dead]])
    async with running_session() as leecher:
        info_hash = await leecher.add_torrent(torrent, tmp_path / "out")
        snap = await named_first(leecher, info_hash, CauseKind.NO_SOURCES, quotes_the_tracker)
    assert snap.why is not None and snap.why.number_text.startswith("Tracker: ")
    assert snap.why.number_text.endswith("DHT is off") and "Turn on the DHT" in snap.why.advice


async def test_the_disk_cannot_keep_up(
    torrent: bytes, payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pwrite = disk._pwrite

    def slow_pwrite(fd: int, data: object, offset: int) -> int:
        time.sleep(0.2)  # a slow disk: writes run in the storage's threads, not on the loop
        return real_pwrite(fd, data, offset)  # type: ignore[arg-type]

    monkeypatch.setattr(disk, "_pwrite", slow_pwrite)
    async with running_session() as seed, running_session(max_unwritten=2 * PIECE) as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        snap = await named_first(leecher, info_hash, CauseKind.DISK)
    assert snap.why is not None and snap.why.number_text.endswith("unwritten of 64 KiB")


@contextlib.contextmanager
def lt_seeds(torrent: bytes, payload: Path, count: int, **settings: object) -> Iterator[list[LtPeer]]:
    seeds = [LtPeer(f"127.0.0.{2 + n}", **settings) for n in range(count)]
    try:
        for seed in seeds:
            seed.wait_seeding(seed.add(torrent, payload.parent, seed_mode=True))
        yield seeds
    finally:
        for seed in seeds:
            seed.close()


@pytest.fixture
def choking_seeds(torrent: bytes, payload: Path) -> Iterator[list[LtPeer]]:
    """Two libtorrent seeds with no upload slot (loopback put in the global peer class, whose
    slots count: libtorrent's local class ignores them); only allowed-fast pieces get through."""
    with lt_seeds(torrent, payload, 2, unchoke_slots_limit=0) as seeds:
        for seed in seeds:
            throttle_loopback(seed, 0)
        yield seeds


@pytest.fixture
def slow_seeds(torrent: bytes, payload: Path) -> Iterator[list[LtPeer]]:
    """Three libtorrent seeds, each uploading at LOW."""
    with lt_seeds(torrent, payload, 3) as seeds:
        for seed in seeds:
            throttle_loopback(seed, LOW)
        yield seeds


async def leech_from(leecher: Session, torrent: bytes, out: Path, seeds: list[LtPeer]) -> str:
    info_hash = await leecher.add_torrent(torrent, out)
    for seed in seeds:
        leecher.add_peer(info_hash, seed.host, seed.port)
    return info_hash


async def test_most_peers_choke_us(torrent: bytes, tmp_path: Path, choking_seeds: list[LtPeer]) -> None:
    async with running_session() as leecher:
        info_hash = await leech_from(leecher, torrent, tmp_path / "out", choking_seeds)
        snap = await named_first(leecher, info_hash, CauseKind.CHOKED, lambda c: c.number_text == "2 of 2 peers")
    assert snap.why is not None and snap.why.advice.startswith("Upload more")


async def test_the_connection_limit(torrent: bytes, tmp_path: Path, slow_seeds: list[LtPeer]) -> None:
    async with running_session(max_peers_per_torrent=1) as leecher:
        info_hash = await leech_from(leecher, torrent, tmp_path / "out", slow_seeds)
        snap = await named_first(leecher, info_hash, CauseKind.CONNECTION_LIMIT)
    assert snap.why is not None and snap.why.number_text == "1 connected, 2 more known"


async def test_nobody_connects_to_us(torrent: bytes, tmp_path: Path, slow_seeds: list[LtPeer]) -> None:
    async with running_session() as leecher:
        # The session's clock for reachability starts when it listens: as if 31 minutes ago.
        assert leecher.listening_since is not None
        leecher.listening_since -= REACH_GRACE + 60
        info_hash = await leech_from(leecher, torrent, tmp_path / "out", slow_seeds)
        snap = await named_first(leecher, info_hash, CauseKind.UNREACHABLE)
    assert snap.why is not None and snap.why.number_text == "no incoming connection in 31 minutes, no port mapping"
