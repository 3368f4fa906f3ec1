"""The disk-space guard over a scripted free-space probe, and the real probe on this machine."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.engine.disk_guard import MAX_AGE, DiskGuard, enough_space, free_bytes

MIB = 1024 * 1024


class Disk:
    """A file system whose free space the test sets; counts how often it was asked."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.asked = 0

    def probe(self, folder: Path) -> int:
        self.asked += 1
        return self.free


def test_enough_space_keeps_the_reserve() -> None:
    assert enough_space(10 * MIB, 4 * MIB, 6 * MIB)
    assert not enough_space(10 * MIB, 4 * MIB + 1, 6 * MIB)


async def test_writes_are_counted_without_asking_the_disk_again() -> None:
    disk = Disk(10 * MIB)
    guard = DiskGuard(disk.probe)
    folder = Path("/data")
    assert await guard.room_for(folder, 2 * MIB, 4 * MIB, now=0.0)
    assert await guard.room_for(folder, 2 * MIB, 4 * MIB, now=0.1)
    assert disk.asked == 1
    assert await guard.free(folder, now=0.2) == 6 * MIB


async def test_before_saying_no_the_disk_is_asked_again() -> None:
    disk = Disk(5 * MIB)
    guard = DiskGuard(disk.probe)
    assert not await guard.room_for(Path("/data"), 2 * MIB, 4 * MIB, now=0.0)
    assert disk.asked == 2
    disk.free = 100 * MIB  # someone made room
    assert await guard.room_for(Path("/data"), 2 * MIB, 4 * MIB, now=0.1)


async def test_a_measure_is_trusted_for_a_moment_only() -> None:
    disk = Disk(10 * MIB)
    guard = DiskGuard(disk.probe)
    await guard.free(Path("/data"), now=0.0)
    disk.free = 1 * MIB
    assert await guard.free(Path("/data"), now=MAX_AGE / 2) == 10 * MIB
    assert await guard.free(Path("/data"), now=MAX_AGE) == 1 * MIB


def test_free_bytes_of_a_folder_not_made_yet_is_its_parents(tmp_path: Path) -> None:
    measured = free_bytes(tmp_path / "not" / "made" / "yet")
    actual = shutil.disk_usage(tmp_path).free
    assert abs(measured - actual) < 64 * MIB  # other programs write meanwhile
