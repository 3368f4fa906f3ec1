"""Hand-built snapshots: what the engine would report, written out for the models to show."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.engine.snapshots import (
    FileSnapshot,
    PeerSnapshot,
    TorrentSnapshot,
    TorrentState,
    TrackerSnapshot,
)


def torrent(number: int = 0, **changes: Any) -> TorrentSnapshot:
    base = TorrentSnapshot(
        info_hash=f"{number:040x}",
        name=f"Torrent {number}",
        state=TorrentState.DOWNLOADING,
        progress=0.25,
        total_size=4 * 2**20,
        wanted_size=4 * 2**20,
        verified_bytes=2**20,
        downloaded=2**20,
        uploaded=0,
        down_rate=1000.0,
        up_rate=0.0,
        peers=2,
        seeds=1,
        swarm_peers=10,
        swarm_seeds=5,
        eta=120.0,
        ratio=0.0,
        num_pieces=16,
        piece_length=2**18,
        save_path="/tmp/downloads",
        added_on=1_700_000_000.0 + number,
        trackers=(),
        error="",
        status_text="Downloading",
    )
    return replace(base, **changes)


def peer(number: int = 0, **changes: Any) -> PeerSnapshot:
    base = PeerSnapshot(
        address=f"127.0.0.{number + 2}:6881",
        client="libtorrent 2.0.9",
        flags="D I",
        progress=0.5,
        down_rate=2048.0,
        up_rate=0.0,
        downloaded=2**20,
        uploaded=0,
        incoming=False,
    )
    return replace(base, **changes)


def tracker(number: int = 0, **changes: Any) -> TrackerSnapshot:
    base = TrackerSnapshot(
        url=f"http://127.0.0.1:{8000 + number}/announce",
        tier=0,
        status="working",
        message="",
        seeds=3,
        peers=7,
        next_announce=1800.0,
        last_announce=1_700_000_000.0,
    )
    return replace(base, **changes)


def file(path: str, size: int = 1000, downloaded: int = 0, priority: int = 1, padding: bool = False) -> FileSnapshot:
    return FileSnapshot(path=path, size=size, downloaded=downloaded, priority=priority, padding=padding)
