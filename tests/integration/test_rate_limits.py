"""Speed limits between two Piecemeal sessions on 127.0.0.1.

No lower bound on a measured rate (a loaded machine may be slower than any limit): what is
checked is that the limit is never exceeded, which a slow machine cannot make fail, and that
the download was held back and still moving.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, torrent_snapshot, wait_for_state

KIB = 1024
LIMIT = 200 * KIB
QUIET = {"enable_dht": False, "enable_lsd": False}
WARM_UP = 1.0  # seconds: the kernel's socket buffers fill at full speed first
MEASURE = 3.0
# Beyond rate * time: the bucket's saved-up burst (half a second) and a batch or two in flight.
ALLOWANCE = LIMIT // 2 + 128 * KIB


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", {"big.bin": 4 * 1024 * KIB})


async def received_while_limited(leecher: Session, info_hash: str) -> tuple[int, float]:
    """Payload bytes the leecher received after the warm-up, and in how many seconds."""
    async with asyncio.timeout(10):
        while torrent_snapshot(leecher, info_hash).downloaded == 0:
            await asyncio.sleep(0.05)
    await asyncio.sleep(WARM_UP)
    start, before = time.monotonic(), torrent_snapshot(leecher, info_hash).downloaded
    await asyncio.sleep(MEASURE)
    after = torrent_snapshot(leecher, info_hash)
    assert after.state == TorrentState.DOWNLOADING, "finished early: the limit did not hold"
    return after.downloaded - before, time.monotonic() - start


@pytest.mark.parametrize("transport", ["tcp", "utp"])
async def test_session_download_limit(transport: str, payload: Path, tmp_path: Path) -> None:
    torrent = create_torrent(payload, piece_length=64 * KIB)
    quiet = {**QUIET, "transport": transport}
    async with running_session(**quiet) as seed, running_session(down_limit=LIMIT, **quiet) as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(torrent, tmp_path / "out")
        await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        received, seconds = await received_while_limited(leecher, info_hash)
    assert 0 < received <= LIMIT * seconds + ALLOWANCE, f"{received / KIB:.0f} KiB in {seconds:.1f} s"


@pytest.mark.parametrize("transport", ["tcp", "utp"])
async def test_torrent_upload_limit(transport: str, payload: Path, tmp_path: Path) -> None:
    torrent = create_torrent(payload, piece_length=64 * KIB)
    quiet = {**QUIET, "transport": transport}
    async with running_session(**quiet) as seed, running_session(**quiet) as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await seed.set_torrent_limits(info_hash, down=0, up=LIMIT)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(torrent, tmp_path / "out")
        await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        received, seconds = await received_while_limited(leecher, info_hash)
    assert 0 < received <= LIMIT * seconds + ALLOWANCE, f"{received / KIB:.0f} KiB in {seconds:.1f} s"
