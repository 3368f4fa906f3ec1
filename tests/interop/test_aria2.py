"""A real aria2c leeches from a Piecemeal seed on 127.0.0.1.

aria2 sends a whole bitfield instead of the `have`s for pieces it finished since it last
said, whenever the bitfield is the smaller message. We used to hang up on that second
bitfield ("the peer's pieces announced twice") at aria2's first finished piece (issue 12).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from app.engine.bitfield import Bitfield
from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from app.engine.snapshots import TorrentState
from app.engine.torrent import Torrent
from tests.lt_peer import random_tree
from tests.swarm_helpers import assert_same_files, running_session, wait_for_state

PIECE = 256 * 1024
# 24 pieces: the 3-byte bitfield message (8 bytes) is smaller than one `have` (9 bytes),
# so aria2 sends a bitfield for every piece it finishes.
SIZE = 24 * PIECE


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_aria2_downloads_everything_over_one_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = random_tree(tmp_path / "seed" / "p", {"data.bin": SIZE})
    torrent = create_torrent(payload, piece_length=PIECE)
    torrent_file = tmp_path / "p.torrent"
    torrent_file.write_bytes(torrent)
    meta = parse_metainfo(torrent)
    replaced: list[int] = []
    original = Torrent.peer_pieces_replaced

    def record(self: Torrent, peer: object, old: Bitfield, new: Bitfield) -> None:
        replaced.append(new.count)
        original(self, peer, old, new)  # type: ignore[arg-type]

    monkeypatch.setattr(Torrent, "peer_pieces_replaced", record)
    port = free_port()
    aria2 = await asyncio.create_subprocess_exec(
        "aria2c", f"--dir={tmp_path / 'out'}", f"--listen-port={port}", "--seed-time=0",
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
        "--bt-min-crypto-level=plain", "--bt-require-crypto=false", "--summary-interval=0",
        "--console-log-level=warn", "--no-conf=true", "--bt-stop-timeout=60", str(torrent_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with running_session() as seed:
            info_hash = await seed.add_torrent(torrent, payload.parent)
            await wait_for_state(seed, info_hash, TorrentState.SEEDING)
            await asyncio.sleep(0.5)  # aria2 listening
            seed.add_peer(info_hash, "127.0.0.1", port)
            output, _ = await asyncio.wait_for(aria2.communicate(), 90)
            ours = seed.torrents[meta.info_hash]
            uploaded = ours.uploaded + sum(peer.up.total for peer in ours.peers)
    finally:
        if aria2.returncode is None:
            aria2.kill()
            await aria2.wait()
    assert aria2.returncode == 0, output.decode(errors="replace")[-2000:]
    assert_same_files(payload.parent, tmp_path / "out", ["p/data.bin"])
    assert replaced, "aria2 sent no second bitfield: the quirk was not exercised"
    assert uploaded == SIZE  # every block once, over the one connection we made
