"""Moving storage, the disk-space guard and disk errors, with real sessions on 127.0.0.1.

Disk full is tested twice: with ENOSPC injected at the storage layer's `_pwrite`, and on a
real 1 MiB tmpfs when this machine lets the test mount one (it needs root).
"""

from __future__ import annotations

import asyncio
import errno
import filecmp
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.disk_guard import DiskGuard
from app.engine.session import Session
from app.engine.snapshots import PieceState, StopReason, TorrentState
from app.engine.storage import disk
from tests.lt_peer import random_tree
from tests.processes import lacking
from tests.swarm_helpers import (
    eventually,
    running_session,
    seed_and_leech,
    shown_state,
    torrent_snapshot,
    wait_for_state,
)

KIB = 1024
MIB = 1024 * KIB
PIECE = 32 * KIB
QUIET = {"enable_dht": False, "enable_lsd": False}
NAMES = ["payload/a.bin", "payload/sub/b.bin"]


def same_files(expected: Path, actual: Path) -> bool:
    return all(filecmp.cmp(expected / name, actual / name, shallow=False) for name in NAMES)


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed" / "payload", {"a.bin": 40 * PIECE, "sub/b.bin": 24 * PIECE + 1234})


@pytest.fixture
def torrent(payload: Path) -> bytes:
    return create_torrent(payload, piece_length=PIECE)


# -- moving storage --------------------------------------------------------------------


async def test_move_while_seeding_keeps_serving(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    shutil.copytree(payload.parent, reference)
    moved = tmp_path / "moved"
    async with running_session(**QUIET) as seed, running_session(down_limit=512 * KIB, **QUIET) as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        await eventually(lambda: torrent_snapshot(leecher, info_hash).verified_bytes > 0)
        await seed.move_storage(info_hash, moved)
        states = set()
        while not (status := seed.move_status(info_hash)).finished:
            assert not status.error, status.error
            states.add(torrent_snapshot(seed, info_hash).state)
            await asyncio.sleep(0.01)
        assert states <= {TorrentState.SEEDING}
        assert status.done == status.total == sum(
            (reference / name).stat().st_size for name in NAMES
        )
        assert torrent_snapshot(seed, info_hash).save_path == str(moved)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
    assert same_files(reference, moved)
    assert same_files(reference, tmp_path / "out")
    assert not payload.exists()  # the old files and the folders they leave empty are gone


async def test_move_while_downloading_goes_on_in_the_new_place(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    out, moved = tmp_path / "out", tmp_path / "elsewhere"
    async with running_session(**QUIET) as seed, running_session(down_limit=768 * KIB, **QUIET) as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, out)
        await eventually(lambda: torrent_snapshot(leecher, info_hash).verified_bytes > 4 * PIECE)
        await leecher.move_storage(info_hash, moved)
        await eventually(lambda: leecher.move_status(info_hash).finished)
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
    assert same_files(payload.parent, moved)
    assert not (out / "payload").exists()


async def test_a_failed_move_leaves_the_files_where_they_were(torrent: bytes, payload: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    (moved / "payload").mkdir(parents=True)
    (moved / "payload" / "a.bin").write_bytes(b"someone else's file")
    async with running_session(**QUIET) as seed:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await seed.move_storage(info_hash, moved)
        await eventually(lambda: bool(seed.move_status(info_hash).error))
        snap = torrent_snapshot(seed, info_hash)
        assert snap.state == TorrentState.SEEDING and snap.save_path == str(payload.parent)
        assert "already exists" in seed.move_status(info_hash).error
        assert "Move failed" in snap.status_text
    assert (moved / "payload" / "a.bin").read_bytes() == b"someone else's file"
    assert not (moved / "payload" / "sub").exists()
    assert (payload / "a.bin").exists()


# -- the disk-space guard --------------------------------------------------------------


class Disk:
    """The free space the leecher's guard sees, set by the test."""

    def __init__(self, free: int) -> None:
        self.free = free

    def probe(self, folder: Path) -> int:
        return self.free


async def test_low_space_pauses_before_writing_and_resumes_by_itself(
    torrent: bytes, payload: Path, tmp_path: Path
) -> None:
    space = Disk(free=100 * MIB)
    async with running_session(**QUIET) as seed, running_session(disk_reserve=200 * MIB, **QUIET) as leecher:
        leecher.controls.disk = DiskGuard(space.probe)
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        await eventually(lambda: torrent_snapshot(leecher, info_hash).status_text == "Waiting for disk space")
        paused = torrent_snapshot(leecher, info_hash)
        assert (paused.state, paused.reason) == (TorrentState.DOWNLOADING, StopReason.NO_SPACE)
        assert paused.verified_bytes == 0  # nothing was written below the reserve
        space.free = 10 * 1024 * MIB
        await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
        assert torrent_snapshot(leecher, info_hash).status_text == "Seeding"
    assert same_files(payload.parent, tmp_path / "out")


async def test_a_torrent_the_user_paused_does_not_resume_when_space_returns(torrent: bytes, tmp_path: Path) -> None:
    space = Disk(free=0)
    async with running_session(disk_reserve=MIB, **QUIET) as session:
        session.controls.disk = DiskGuard(space.probe)
        info_hash = await session.add_torrent(torrent, tmp_path / "out")
        await eventually(lambda: torrent_snapshot(session, info_hash).status_text == "Waiting for disk space")
        await session.pause(info_hash)
        space.free = 1024 * MIB
        await session.controls.tick(asyncio.get_running_loop().time() + 3600)  # a disk check, with room
        assert torrent_snapshot(session, info_hash).reason == StopReason.USER


async def test_a_failing_free_space_check_fails_the_piece_and_says_why(
    torrent: bytes, payload: Path, tmp_path: Path
) -> None:
    def broken_probe(folder: Path) -> int:
        raise OSError(errno.EIO, "Input/output error")

    async with running_session(**QUIET) as seed, running_session(disk_reserve=MIB, **QUIET) as leecher:
        leecher.controls.disk = DiskGuard(broken_probe)
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        failed = await wait_for_state_or_error(leecher, info_hash)
        assert "Input/output error" in failed.error and "Traceback" not in failed.error
        torrent = leecher.torrents[bytes.fromhex(info_hash)]
        await eventually(lambda: not torrent.writing, "the writes under way at the error to settle")
        details = leecher.details(info_hash)
        assert details is not None and PieceState.WRITING not in details.pieces  # none stuck


async def test_a_removed_torrent_no_longer_waits_for_space(torrent: bytes, tmp_path: Path) -> None:
    space = Disk(free=0)
    async with running_session(disk_reserve=MIB, **QUIET) as session:
        session.controls.disk = DiskGuard(space.probe)
        info_hash = await session.add_torrent(torrent, tmp_path / "out")
        await eventually(lambda: torrent_snapshot(session, info_hash).reason == StopReason.NO_SPACE)
        waiting = session.controls._waiting_for_space
        assert bytes.fromhex(info_hash) in waiting
        await session.remove(info_hash)
        await session.controls.tick(asyncio.get_running_loop().time() + 3600)  # a disk check is due
        assert bytes.fromhex(info_hash) not in waiting


# -- disk errors -----------------------------------------------------------------------


async def resume_after_disk_full(leecher: Session, info_hash: str, make_room: Callable[[], None]) -> None:
    """The torrent is in error from a full disk: make room, start it, nothing verified is lost."""
    failed = await wait_for_state_or_error(leecher, info_hash)
    assert failed.reason == StopReason.ERROR
    assert "No space left on device" in failed.error
    assert 0 < failed.verified_bytes < failed.total_size
    make_room()
    await leecher.resume(info_hash)
    states = set()
    async with asyncio.timeout(60):  # a guard, not a measure: the peer may be redialled after a back-off
        while shown_state(snap := torrent_snapshot(leecher, info_hash)) != TorrentState.SEEDING:
            assert snap.verified_bytes >= failed.verified_bytes  # nothing verified was lost
            states.add(shown_state(snap))
            await asyncio.sleep(0.01)
    assert StopReason.ERROR not in states


async def wait_for_state_or_error(session: Session, info_hash: str):  # noqa: ANN201
    async with asyncio.timeout(20):
        while (snap := torrent_snapshot(session, info_hash)).reason != StopReason.ERROR:
            await asyncio.sleep(0.05)
    return snap


async def test_injected_disk_full_then_start_again(
    torrent: bytes, payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pwrite = disk._pwrite
    written = [0]

    def filling_pwrite(fd: int, data: object, offset: int) -> int:
        if written[0] >= 10 * PIECE:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_pwrite(fd, data, offset)  # type: ignore[arg-type]
        written[0] += n
        return n

    monkeypatch.setattr(disk, "_pwrite", filling_pwrite)
    async with running_session(**QUIET) as seed, running_session(disk_reserve=0, **QUIET) as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
        await resume_after_disk_full(leecher, info_hash, lambda: monkeypatch.setattr(disk, "_pwrite", real_pwrite))
    assert same_files(payload.parent, tmp_path / "out")


async def test_a_write_pending_at_the_stop_does_not_fail_the_next_run(
    torrent: bytes, payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two piece writes meet a full disk; the user starts the torrent again while the second is
    still in the disk thread. Its failure belonged to the stopped run: the new run goes on."""
    real_pwrite = disk._pwrite
    written = [0]
    full = True
    held = threading.Semaphore(0)  # released by each of the first two writes to meet the full disk
    lets_go = [threading.Event(), threading.Event()]  # ... which fail when the test says so
    holding = iter(lets_go)

    def filling_pwrite(fd: int, data: object, offset: int) -> int:
        if written[0] >= 4 * PIECE and full:
            turn = next(holding, None)  # the disk threads take one job each: no lock needed
            if turn is not None:
                held.release()
                turn.wait()
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_pwrite(fd, data, offset)  # type: ignore[arg-type]
        written[0] += n
        return n

    monkeypatch.setattr(disk, "_pwrite", filling_pwrite)
    try:
        async with running_session(**QUIET) as seed, running_session(disk_reserve=0, disk_threads=2, **QUIET) as leecher:
            info_hash = await seed_and_leech(seed, leecher, torrent, payload, tmp_path / "out")
            for _ in lets_go:
                await asyncio.to_thread(held.acquire)  # both disk threads hold a failing write
            lets_go[0].set()
            failed = await wait_for_state_or_error(leecher, info_hash)
            assert "No space left on device" in failed.error
            full = False  # room made
            await leecher.resume(info_hash)
            lets_go[1].set()  # the stopped run's second write fails now
            await wait_for_state(leecher, info_hash, TorrentState.SEEDING)
    finally:
        for event in lets_go:
            event.set()  # no disk thread stays blocked if the test failed half-way
    assert same_files(payload.parent, tmp_path / "out")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        lacking("mount", f"The real disk-full test mounts a small tmpfs, which needs root: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


async def test_real_disk_full_then_start_again(torrent: bytes, payload: Path, small_tmpfs: Path) -> None:
    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=4m", str(small_tmpfs)], check=True)

    async with running_session(**QUIET) as seed, running_session(disk_reserve=0, **QUIET) as leecher:
        info_hash = await seed_and_leech(seed, leecher, torrent, payload, small_tmpfs / "out")
        await resume_after_disk_full(leecher, info_hash, grow)
    assert same_files(payload.parent, small_tmpfs / "out")
