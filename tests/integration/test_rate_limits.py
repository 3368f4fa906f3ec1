"""Speed limits between two Piecemeal sessions on 127.0.0.1, over TCP and over uTP.

No wall clock: the limited session's token buckets run on a clock the test moves on by hand
(RateLimits takes one). Each step of that clock grants the buckets `LIMIT * STEP` more bytes;
the test waits until the leecher has received what was granted (the transfer is moving) and
checks that it never received more than that, whatever the machine's speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.rate_limit import BURST_SECONDS, RateLimits
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, torrent_snapshot, wait_for_state

KIB = 1024
LIMIT = 200 * KIB
QUIET = {"enable_dht": False, "enable_lsd": False}
STEP = 0.25  # seconds of the limiter's clock per step: 50 KiB granted
STEPS = 6
# A message passes whole when its bucket is not in debt, and a received one is charged after
# it was read: the leecher may be ahead of the grant by a read (a block) and a message.
ALLOWANCE = 64 * KIB
# Behind it by less than a block: 13-byte headers, and a block whose tokens are granted but
# whose message did not fit yet.
HEADROOM = 16 * KIB + 13
WAIT = 30.0  # seconds for a granted step to arrive


class LimiterClock:
    """The rate limiter's time, moved on only by `advance`; an upload waiting for its bucket
    sleeps until then."""

    def __init__(self) -> None:
        self.now = 0.0
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def sleep(self, seconds: float) -> None:
        await self._moved.wait()


def on_clock(session: Session, clock: LimiterClock) -> None:
    """The session's buckets (and its torrents', made from them) run on `clock` from now on."""
    session.controls.limits = RateLimits(clock, clock.sleep)
    session.controls.update_limits(datetime.now())


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", {"big.bin": 4 * 1024 * KIB})


async def received_as_granted(leecher: Session, info_hash: str, clock: LimiterClock) -> None:
    """Step the clock; after each step, wait for the grant to arrive and check nothing more did."""
    granted = LIMIT * BURST_SECONDS  # a bucket starts full
    seen = []
    for step in range(STEPS + 1):
        if step:
            clock.advance(STEP)
            granted += LIMIT * STEP
        received = await _arrival(leecher, info_hash, granted - HEADROOM)
        seen.append(received)
        assert received <= granted + ALLOWANCE, (
            f"{received / KIB:.0f} KiB received, {granted / KIB:.0f} KiB granted: the limit did not hold ({seen})")
    assert torrent_snapshot(leecher, info_hash).state == TorrentState.DOWNLOADING


async def _arrival(leecher: Session, info_hash: str, at_least: float) -> int:
    try:
        async with asyncio.timeout(WAIT):
            while (received := torrent_snapshot(leecher, info_hash).downloaded) < at_least:
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"after {WAIT:.0f} s the leecher had {torrent_snapshot(leecher, info_hash).downloaded} "
                             f"bytes of the {at_least:.0f} its limit granted: the transfer stalled") from None
    return received


async def transfer(seed: Session, leecher: Session, payload: Path, out: Path,
                   limit: Callable[[str], Awaitable[None]]) -> str:
    torrent = create_torrent(payload, piece_length=64 * KIB)
    info_hash = await seed.add_torrent(torrent, payload.parent)
    await limit(info_hash)
    await wait_for_state(seed, info_hash, TorrentState.SEEDING)
    await leecher.add_torrent(torrent, out)
    await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
    leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
    return info_hash


async def no_torrent_limit(info_hash: str) -> None:
    """The session's limit alone."""


@pytest.mark.parametrize("transport", ["tcp", "utp"])
async def test_session_download_limit(transport: str, payload: Path, tmp_path: Path) -> None:
    clock = LimiterClock()
    quiet = {**QUIET, "transport": transport}
    async with running_session(**quiet) as seed, running_session(down_limit=LIMIT, **quiet) as leecher:
        on_clock(leecher, clock)
        info_hash = await transfer(seed, leecher, payload, tmp_path / "out", no_torrent_limit)
        await received_as_granted(leecher, info_hash, clock)


@pytest.mark.parametrize("transport", ["tcp", "utp"])
async def test_torrent_upload_limit(transport: str, payload: Path, tmp_path: Path) -> None:
    clock = LimiterClock()
    quiet = {**QUIET, "transport": transport}
    async with running_session(**quiet) as seed, running_session(**quiet) as leecher:
        on_clock(seed, clock)

        async def limit_upload(info_hash: str) -> None:
            await seed.set_torrent_limits(info_hash, down=0, up=LIMIT)

        info_hash = await transfer(seed, leecher, payload, tmp_path / "out", limit_upload)
        await received_as_granted(leecher, info_hash, clock)
