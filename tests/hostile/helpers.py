"""An honest Piecemeal seed and leecher on 127.0.0.1, for hostile peers to stand beside.

The torrent has 19 pieces of 16 KiB, the last one short: its bitfield has spare bits and
a request can run past the end of the last piece.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from app.engine.torrent import Torrent
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, running_session, wait_for_state

PIECE_LENGTH = 16 * 1024
PAYLOAD_SIZE = 18 * PIECE_LENGTH + 5000  # 19 pieces
_CLOSING = re.compile(r"closing (\S+?):(\d+) \((.*?)\): (.*)")
_CLOSERS = ("app.engine.peer", "app.engine.transport.mse_transport")  # the latter before the handshake


@dataclass
class Swarm:
    seed: Session
    leecher: Session
    info_hash: str
    meta: Metainfo
    payload: Path  # the seed's folder; the torrent's name inside it
    out: Path  # the leecher's folder

    @property
    def torrent(self) -> Torrent:
        """The leecher's torrent."""
        return self.leecher.torrents[self.meta.info_hash]

    def connect_honest(self) -> None:
        self.leecher.add_peer(self.info_hash, "127.0.0.1", self.seed.listen_port or 0)

    async def finish(self, timeout: float = 30.0) -> None:
        """The honest transfer completes and the leecher's copy is exact."""
        self.connect_honest()
        await wait_for_state(self.leecher, self.info_hash, TorrentState.SEEDING, timeout)
        assert_same_files(self.payload, self.out, ["p/data.bin"])


@asynccontextmanager
async def honest_swarm(tmp_path: Path, **leecher_config: object) -> AsyncIterator[Swarm]:
    """A seeding session and a downloading one that are not yet connected to each other."""
    payload = random_tree(tmp_path / "seed" / "p", {"data.bin": PAYLOAD_SIZE}).parent
    torrent = create_torrent(payload / "p", piece_length=PIECE_LENGTH)
    meta = parse_metainfo(torrent)
    async with running_session() as seed, running_session(**leecher_config) as leecher:
        info_hash = await seed.add_torrent(torrent, payload)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(torrent, tmp_path / "out")
        await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
        yield Swarm(seed, leecher, info_hash, meta, payload, tmp_path / "out")


def close_reasons(caplog: pytest.LogCaptureFixture, host: str) -> list[str]:
    """Why the sessions closed connections with `host`, from the peers' debug log."""
    reasons = []
    for record in caplog.records:
        found = _CLOSING.fullmatch(record.getMessage()) if record.name in _CLOSERS else None
        if found is not None and found.group(1) == host:
            reasons.append(found.group(4))
    return reasons


async def logged_close(caplog: pytest.LogCaptureFixture, host: str, timeout: float = 10.0) -> list[str]:
    """Wait until a connection with `host` has been closed with a logged reason; all reasons so far."""
    async with asyncio.timeout(timeout):
        while not (reasons := close_reasons(caplog, host)):
            await asyncio.sleep(0.02)
    return reasons
