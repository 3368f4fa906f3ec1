"""Shared pieces of the integration and interop tests: sessions on loopback, waiting, comparing."""

from __future__ import annotations

import asyncio
import filecmp
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.engine.dht import DhtNode
from app.engine.session import Session, SessionConfig
from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState
from app.engine.tracker.server import TrackerServer


def loopback_config(host: str = "127.0.0.1", **config: object) -> SessionConfig:
    """A session that talks to 127.0.0.x only: no DHT bootstrap routers, no LSD multicast, no
    router asked to map a port (a test that wants one turns it on, in a network namespace)."""
    defaults: dict[str, object] = {"listen_port": 0, "enable_dht": False, "enable_lsd": False, "port_mapping": False}
    return SessionConfig(listen_host=host, **{**defaults, **config})  # type: ignore[arg-type]


@asynccontextmanager
async def running_session(host: str = "127.0.0.1", **config: object) -> AsyncIterator[Session]:
    session = Session(loopback_config(host, **config))
    await session.start()
    try:
        yield session
    finally:
        await session.close()


@asynccontextmanager
async def running_tracker(host: str = "127.0.0.1", interval: int = 60) -> AsyncIterator[TrackerServer]:
    """Our embedded tracker (HTTP and UDP) on `host`."""
    tracker = TrackerServer(interval=interval)
    await tracker.start(host)
    try:
        yield tracker
    finally:
        await tracker.close()


async def eventually(check: Callable[[], object], what: str = "", timeout: float = 20.0) -> None:
    """Until `check()` holds. The timeout is a guard that fails a test that would hang, naming
    `what` (or where the check is written); it measures nothing."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        code = getattr(check, "__code__", None)
        where = f"the check at {code.co_filename}:{code.co_firstlineno}" if code else repr(check)
        pytest.fail(f"waited {timeout:g} s for {what or where}")


def torrent_snapshot(session: Session, info_hash: str) -> TorrentSnapshot:
    return next(t for t in session.snapshot().torrents if t.info_hash == info_hash)


def shown_state(snap: TorrentSnapshot) -> TorrentState | StopReason:
    """Why the torrent is stopped, or, while it runs, where it stands."""
    return snap.reason if snap.reason is not None else snap.state


async def wait_for_state(
    session: Session, info_hash: str, state: TorrentState | StopReason, timeout: float = 60
) -> TorrentSnapshot:
    """Until the torrent runs in `state`, or is stopped for that reason (a StopReason)."""
    async with asyncio.timeout(timeout):
        while True:
            snap = torrent_snapshot(session, info_hash)
            if shown_state(snap) == state:
                return snap
            assert snap.reason != StopReason.ERROR, snap.error
            await asyncio.sleep(0.05)


async def seed_with(session: Session, torrent: bytes, folder: Path) -> str:
    """Add a torrent whose files are all in `folder`; wait until they are checked and it seeds."""
    info_hash = await session.add_torrent(torrent, folder)
    await wait_for_state(session, info_hash, TorrentState.SEEDING)
    return info_hash


async def seed_and_leech(seed: Session, leecher: Session, torrent: bytes, payload: Path, out: Path) -> str:
    """`seed` seeds `torrent` from the files in `payload`; `leecher` adds it into `out` and is
    told of the seed. Returns at once: the download is the caller's to watch."""
    info_hash = await seed_with(seed, torrent, payload.parent)
    await leecher.add_torrent(torrent, out)
    leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
    return info_hash


async def download_from(session: Session, source: bytes | str, folder: Path, peer: tuple[str, int],
                        timeout: float = 60) -> str:
    """Add a torrent (or a magnet link) into `folder`, tell it of one peer, wait until it seeds."""
    info_hash = await session.add_torrent(source, folder)
    session.add_peer(info_hash, *peer)
    await wait_for_state(session, info_hash, TorrentState.SEEDING, timeout)
    return info_hash


async def wait_for_peer(session: Session, info_hash: str, address: tuple[str, int], timeout: float = 100) -> None:
    """Until the torrent is connected to `address`, however it learned of it (PEX, DHT ...)."""
    torrent = session.torrents[bytes.fromhex(info_hash)]
    await eventually(lambda: any(p.address == address for p in torrent.peers), f"a connection to {address}", timeout)


@asynccontextmanager
async def loopback_dht(host: str, count: int = 6) -> AsyncIterator[list[DhtNode]]:
    """`count` DHT nodes on `host` (127.0.0.1 or ::1), all bootstrapped from the first one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    nodes = [DhtNode(bootstrap=(), family=family, max_queries_per_second=1000, max_queries_per_ip_per_second=1000)
             for _ in range(count)]
    try:
        await nodes[0].start(host, 0)
        for node in nodes[1:]:
            node.add_node(host, nodes[0].port)
            await node.start(host, 0)
        yield nodes
    finally:
        for node in nodes:
            await node.close()


async def wait_announced(node: DhtNode, info_hash: bytes, announce: Callable[[], object], timeout: float = 30) -> None:
    """Until `node` finds a peer for `info_hash`; `announce` nudges the seed, which announces once it has joined."""
    try:
        async with asyncio.timeout(timeout):
            while not await node.get_peers(info_hash):
                announce()
                await asyncio.sleep(0.5)
    except TimeoutError:
        raise AssertionError(f"no peer announced itself on the DHT within {timeout:g} s") from None


def assert_same_files(expected_root: Path, actual_root: Path, names: list[str]) -> None:
    for name in names:
        assert filecmp.cmp(expected_root / name, actual_root / name, shallow=False), name
