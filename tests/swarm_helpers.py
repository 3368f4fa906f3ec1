"""Shared pieces of the integration and interop tests: sessions on loopback, waiting, comparing."""

from __future__ import annotations

import asyncio
import filecmp
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.engine.session import Session, SessionConfig
from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState


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


def assert_same_files(expected_root: Path, actual_root: Path, names: list[str]) -> None:
    for name in names:
        assert filecmp.cmp(expected_root / name, actual_root / name, shallow=False), name
