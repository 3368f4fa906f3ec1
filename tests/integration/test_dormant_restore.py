"""Issue 19: a restored torrent stays dormant (its .torrent not parsed, nothing built) until it
is needed; its row shows what the built torrent shows; started, it trusts its resume data as
before; a profile older than the summaries (schema v6) opens, is upgraded, and is quick after.

Counted, not timed: .torrent parses and rechecks (tests/bench/bench_startup.py times it).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from app.engine import session as session_module
from app.engine import torrent as torrent_module
from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentSnapshot, TorrentState
from app.engine.storage import disk
from app.engine.store import SCHEMA_VERSION, Store
from tests.integration.test_session_resume import eventually
from tests.lt_peer import random_tree
from tests.swarm_helpers import loopback_config, torrent_snapshot, wait_for_state

PIECE = 16 * 1024


class Counters:
    """How many .torrent files were parsed, and how many torrents were checked (hashed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parses = 0
        self.checks = 0
        for module in (session_module, torrent_module):
            monkeypatch.setattr(module, "parse_metainfo", self._counted(module.parse_metainfo))
        check = disk.Storage.check

        async def counted_check(storage: disk.Storage, **kwargs: object) -> object:
            self.checks += 1
            return await check(storage, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(disk.Storage, "check", counted_check)

    def _counted(self, parse):  # type: ignore[no-untyped-def]
        def parse_counted(data: bytes):  # type: ignore[no-untyped-def]
            self.parses += 1
            return parse(data)

        return parse_counted


def _session(tmp_path: Path) -> Session:
    return Session(loopback_config(profile_dir=tmp_path / "profile"))


async def _profile(tmp_path: Path) -> dict[str, str]:
    """A profile left by a session: two seeding, one paused seed, one paused half download
    (every other piece of its file damaged, so its resume data claims half the pieces)."""
    session = _session(tmp_path)
    await session.start()
    hashes = {}
    try:
        for name in ("seed-1", "seed-2", "paused", "half"):
            payload = random_tree(tmp_path / name, {"a.bin": 6 * PIECE + 100, "b.bin": 2 * PIECE})
            meta = create_torrent(payload, piece_length=PIECE)
            if name == "half":
                with open(payload / "a.bin", "r+b") as f:
                    for piece in range(0, 6, 2):
                        f.seek(piece * PIECE)
                        f.write(bytes(10))
            hashes[name] = await session.add_torrent(meta, tmp_path)
            await wait_for_state(session, hashes[name], TorrentState.SEEDING if name != "half" else TorrentState.DOWNLOADING)
        for name in ("paused", "half"):
            await session.pause(hashes[name])
    finally:
        await session.close()
    return hashes


def _row(snap: TorrentSnapshot) -> TorrentSnapshot:
    """What the list shows; the trackers' countdowns are the tracker manager's."""
    return replace(snap, trackers=(), status_text=snap.status_text.split(" — ")[0])


async def test_a_restart_parses_no_torrent_file_of_a_paused_torrent_and_hashes_nothing(tmp_path, monkeypatch):
    hashes = await _profile(tmp_path)
    counters = Counters(monkeypatch)
    session = _session(tmp_path)
    await session.start()
    try:
        assert counters.parses == 0  # start() parsed nothing: every row is from the summaries
        assert all(t.dormant for t in session.torrents.values())
        seeds = [session.torrents[bytes.fromhex(hashes[name])] for name in ("seed-1", "seed-2")]
        await eventually(lambda: all(t.running for t in seeds), "the seeds' start, a batch after start()")
        for name in ("seed-1", "seed-2"):
            await wait_for_state(session, hashes[name], TorrentState.SEEDING)
        assert (counters.parses, counters.checks) == (2, 0)
        paused = session.torrents[bytes.fromhex(hashes["paused"])]
        assert paused.dormant and paused.state == TorrentState.SEEDING and paused.reason == StopReason.USER
        snap = torrent_snapshot(session, hashes["paused"])
        assert snap.progress == 1.0 and snap.verified_bytes == snap.total_size == 8 * PIECE + 100
    finally:
        await session.close()
    assert counters.parses == 2  # closing woke nothing


async def test_a_paused_torrent_started_by_the_user_trusts_its_resume_data(tmp_path, monkeypatch):
    hashes = await _profile(tmp_path)
    counters = Counters(monkeypatch)
    session = _session(tmp_path)
    await session.start()
    try:
        await session.resume(hashes["paused"])
        await session.resume(hashes["half"])
        await wait_for_state(session, hashes["paused"], TorrentState.SEEDING)
        half = await wait_for_state(session, hashes["half"], TorrentState.DOWNLOADING)
        assert counters.checks == 0
        assert half.verified_bytes == 5 * PIECE + 100  # pieces 1, 3, 5, 6, 7 and the short last one
    finally:
        await session.close()


async def test_a_dormant_row_shows_what_the_built_torrent_shows(tmp_path, monkeypatch):
    hashes = await _profile(tmp_path)
    counters = Counters(monkeypatch)
    session = _session(tmp_path)
    await session.start()
    try:
        for name in ("paused", "half"):
            torrent = session.torrents[bytes.fromhex(hashes[name])]
            dormant = torrent_snapshot(session, hashes[name])
            torrent.wake()
            assert not torrent.dormant
            assert _row(torrent_snapshot(session, hashes[name])) == _row(dormant)
        assert counters.checks == 0
    finally:
        await session.close()


async def test_a_dormant_torrent_whose_files_changed_is_checked_when_started(tmp_path, monkeypatch):
    hashes = await _profile(tmp_path)
    changed = tmp_path / "paused" / "a.bin"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    counters = Counters(monkeypatch)
    session = _session(tmp_path)
    await session.start()
    try:
        await session.resume(hashes["paused"])
        await wait_for_state(session, hashes["paused"], TorrentState.SEEDING)
        assert counters.checks == 1  # the stamps no longer match: its resume data is not trusted
    finally:
        await session.close()


def _as_v6(profile: Path) -> None:
    """The database as Piecemeal wrote it before the summaries (schema v6)."""
    conn = sqlite3.connect(profile / "piecemeal.db")
    conn.execute("ALTER TABLE torrents DROP COLUMN summary")
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()


async def test_a_v6_profile_opens_is_upgraded_and_starts_dormant_next_time(tmp_path, monkeypatch):
    hashes = await _profile(tmp_path)
    _as_v6(tmp_path / "profile")
    counters = Counters(monkeypatch)
    session = _session(tmp_path)
    await session.start()
    try:
        assert counters.parses == len(hashes)  # no summary yet: every torrent parsed, as before
        assert not any(t.dormant for t in session.torrents.values())
        await wait_for_state(session, hashes["seed-1"], TorrentState.SEEDING)
        assert torrent_snapshot(session, hashes["paused"]).reason == StopReason.USER
    finally:
        await session.close()
    store, _ = Store.open(tmp_path / "profile" / "piecemeal.db")
    try:
        assert all(record.summary for record in store.torrents())
    finally:
        store.close()
    counters.parses = 0
    session = _session(tmp_path)
    await session.start()
    try:
        assert counters.parses == 0 and all(t.dormant for t in session.torrents.values())
        await eventually(lambda: not session.torrents[bytes.fromhex(hashes["seed-1"])].dormant, "the seed's start")
        assert counters.checks == 0
    finally:
        await session.close()
    conn = sqlite3.connect(tmp_path / "profile" / "piecemeal.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
    conn.close()


async def test_a_torrent_added_in_this_session_is_stored_with_its_summary(tmp_path):
    session = _session(tmp_path)
    await session.start()
    payload = random_tree(tmp_path / "new", {"x.bin": 3 * PIECE})
    try:
        info_hash = await session.add_torrent(create_torrent(payload, piece_length=PIECE), tmp_path, paused=True)
    finally:
        await session.close()
    store, _ = Store.open(tmp_path / "profile" / "piecemeal.db")
    try:
        (record,) = store.torrents()
    finally:
        store.close()
    assert record.info_hash.hex() == info_hash and record.summary.startswith("[1,")
