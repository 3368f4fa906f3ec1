"""A peer that keeps sending bad data is dropped and not reconnected; the download finishes."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from app.engine.snapshots import TorrentState
from tests.hostile_peer import GarbageSeed
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, running_session, torrent_snapshot, wait_for_state


async def test_garbage_seed_is_banned_and_honest_seed_completes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.engine.torrent")
    payload = random_tree(tmp_path / "seed" / "p", {"x.bin": 400_000})
    torrent = create_torrent(payload, piece_length=16384)
    meta = parse_metainfo(torrent)
    bad = GarbageSeed(meta.info_hash, meta.num_pieces)
    bad_port = await bad.start("127.0.0.9")  # bans are per IP: keep it apart
    try:
        # Plaintext only: "allow" would first try MSE, which the garbage seed does not speak,
        # and dial it twice; here each dial is one connection.
        async with running_session() as honest, running_session(encryption="disable") as leecher:
            info_hash = await leecher.add_torrent(torrent, tmp_path / "out")
            await wait_for_state(leecher, info_hash, TorrentState.DOWNLOADING)
            leecher.add_peer(info_hash, "127.0.0.9", bad_port)
            torrent_obj = leecher.torrents[meta.info_hash]
            async with asyncio.timeout(20):
                while "127.0.0.9" not in torrent_obj.banned:
                    await asyncio.sleep(0.05)
            await honest.add_torrent(torrent, payload.parent)
            leecher.add_peer(info_hash, "127.0.0.1", honest.listen_port)
            leecher.add_peer(info_hash, "127.0.0.9", bad_port)  # offered again: must be refused
            await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
            snap = torrent_snapshot(leecher, info_hash)
    finally:
        await bad.close()
    assert bad.blocks_sent > 0
    assert bad.connections == 1
    assert snap.progress == 1.0
    assert_same_files(payload.parent, tmp_path / "out", ["p/x.bin"])
    bans = [r.getMessage() for r in caplog.records if r.name == "app.engine.torrent" and r.levelno == logging.INFO
            and r.getMessage().startswith("banning")]
    assert len(bans) == 1 and bans[0].startswith("banning 127.0.0.9:"), bans
    assert "failed the hash check" in bans[0]
