"""Watched folders: the pure plan from listings, then the poller with real files and sessions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.engine import events
from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from app.engine.watch_folder import AfterAdd, FolderWatcher, Listed, WatchedFolder, WatchPlan
from tests.swarm_helpers import running_session

QUIET = {"enable_dht": False, "enable_lsd": False}


# -- the pure plan ----------------------------------------------------------------------


def test_a_file_is_ready_once_two_scans_saw_it_unchanged() -> None:
    plan = WatchPlan()
    assert plan.ready([Listed("a.torrent", 100, 1)]) == []
    assert plan.ready([Listed("a.torrent", 100, 1)]) == ["a.torrent"]


def test_a_file_still_growing_waits() -> None:
    plan = WatchPlan()
    growing = [Listed("a.torrent", size, size) for size in (10, 20, 30)]
    assert [plan.ready([entry]) for entry in growing] == [[], [], []]
    assert plan.ready([growing[-1]]) == ["a.torrent"]


def test_an_empty_file_is_not_ready() -> None:
    plan = WatchPlan()
    plan.ready([Listed("a.torrent", 0, 1)])
    assert plan.ready([Listed("a.torrent", 0, 1)]) == []


def test_a_file_given_up_is_left_alone_until_it_changes() -> None:
    plan = WatchPlan()
    stuck = Listed("bad.torrent", 5, 1)
    plan.ready([stuck])
    assert plan.ready([stuck]) == ["bad.torrent"]
    plan.give_up("bad.torrent")
    assert plan.ready([stuck]) == []
    assert plan.ready([stuck]) == []
    replaced = Listed("bad.torrent", 7, 2)
    assert plan.ready([replaced]) == []
    assert plan.ready([replaced]) == ["bad.torrent"]


def test_files_come_in_name_order_and_gone_ones_are_forgotten() -> None:
    plan = WatchPlan()
    both = [Listed("b.torrent", 1, 1), Listed("a.torrent", 1, 1)]
    plan.ready(both)
    assert plan.ready(both) == ["a.torrent", "b.torrent"]
    plan.ready([])
    assert plan.ready(both) == []


# -- the poller, with a real session ------------------------------------------------------


def make_torrent(tmp_path: Path, name: str) -> bytes:
    content = tmp_path / "content" / name
    content.parent.mkdir(parents=True, exist_ok=True)
    content.write_bytes(name.encode() * 1000)
    return create_torrent(content, piece_length=16384)


async def scans(watcher: FolderWatcher, n: int = 2) -> None:
    for _ in range(n):
        await watcher.scan()


async def test_a_torrent_put_in_the_folder_is_added_and_moved_to_added(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    data = make_torrent(tmp_path, "one.bin")
    folder = WatchedFolder(watched, save_path=tmp_path / "saved")
    async with running_session(**QUIET, watch_folders=(folder,), watch_interval=3600) as session:
        (watched / "one.torrent").write_bytes(data)
        await scans(session.watcher)
        assert set(session.torrents) == {parse_metainfo(data).info_hash}
        snap = session.snapshot().torrents[0]
        assert snap.save_path == str(tmp_path / "saved")
        assert not (watched / "one.torrent").exists()
        assert (watched / "added" / "one.torrent").read_bytes() == data


async def test_delete_after_adding_and_the_default_save_path(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    folder = WatchedFolder(watched, after=AfterAdd.DELETE)
    async with running_session(**QUIET, watch_folders=(folder,), download_dir=tmp_path / "dl",
                               watch_interval=3600) as session:
        (watched / "two.torrent").write_bytes(make_torrent(tmp_path, "two.bin"))
        await scans(session.watcher)
        assert [t.save_path for t in session.snapshot().torrents] == [str(tmp_path / "dl")]
        assert list(watched.iterdir()) == []


async def test_a_malformed_file_is_moved_to_failed_with_a_message_once(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    heard: list[events.Event] = []
    async with running_session(**QUIET, watch_folders=(WatchedFolder(watched),), watch_interval=3600) as session:
        session.add_listener(heard.append)
        (watched / "broken.torrent").write_bytes(b"d4:infoi3e")
        await scans(session.watcher, 4)
        assert session.torrents == {}
        assert (watched / "failed" / "broken.torrent").exists()
        notices = [e.message for e in heard if isinstance(e, events.Notice)]
        assert len(notices) == 1
        assert notices[0].startswith("Could not add broken.torrent:")
        assert "Traceback" not in notices[0]


async def test_a_half_written_file_waits_until_it_is_whole(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    data = make_torrent(tmp_path, "three.bin")
    target = watched / "three.torrent"
    async with running_session(**QUIET, watch_folders=(WatchedFolder(watched),), watch_interval=3600) as session:
        for end in (len(data) // 3, 2 * len(data) // 3):
            with target.open("ab") as out:
                out.write(data[len(target.read_bytes()) if target.exists() else 0:end])
            await session.watcher.scan()
            assert session.torrents == {} and target.exists()
        with target.open("ab") as out:
            out.write(data[len(target.read_bytes()):])
        await scans(session.watcher)
        assert set(session.torrents) == {parse_metainfo(data).info_hash}
        assert not (watched / "failed").exists()


async def test_files_appearing_while_the_poller_runs_are_added(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    added = asyncio.Queue[str]()
    async with running_session(**QUIET, watch_folders=(WatchedFolder(watched),), watch_interval=0.05) as session:
        session.add_listener(lambda e: added.put_nowait(e.name) if isinstance(e, events.TorrentAdded) else None)
        for name in ("four", "five"):
            (watched / f"{name}.torrent").write_bytes(make_torrent(tmp_path, f"{name}.bin"))
            async with asyncio.timeout(10):
                assert await added.get() == f"{name}.bin"
        async with asyncio.timeout(10):  # put away right after the adding
            while (watched / "five.torrent").exists():
                await asyncio.sleep(0.02)
        assert sorted(p.name for p in (watched / "added").iterdir()) == ["five.torrent", "four.torrent"]


async def test_a_torrent_already_in_the_list_counts_as_added(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    data = make_torrent(tmp_path, "six.bin")
    heard: list[events.Event] = []
    async with running_session(**QUIET, watch_folders=(WatchedFolder(watched),), watch_interval=3600) as session:
        await session.add_torrent(data, tmp_path / "out")
        session.add_listener(heard.append)
        (watched / "six.torrent").write_bytes(data)
        await scans(session.watcher)
        assert (watched / "added" / "six.torrent").exists()
        assert any(isinstance(e, events.Notice) and "already in the list" in e.message for e in heard)


async def test_an_unreadable_folder_is_said_once(tmp_path: Path) -> None:
    said: list[str] = []

    async def add(data: bytes, folder: WatchedFolder) -> str:
        raise AssertionError("nothing to add")

    watcher = FolderWatcher(lambda: [WatchedFolder(tmp_path / "missing")], add, said.append)
    await scans(watcher, 3)
    assert len(said) == 1 and "cannot be read" in said[0]


async def test_a_file_that_cannot_be_put_away_is_not_added_again(tmp_path: Path) -> None:
    watched = tmp_path / "watch"
    watched.mkdir()
    (watched / "added").write_text("a file where the folder should be")
    adds: list[bytes] = []
    said: list[str] = []

    async def add(data: bytes, folder: WatchedFolder) -> str:
        adds.append(data)
        return "hash"

    (watched / "x.torrent").write_bytes(b"d1:ai1ee")
    watcher = FolderWatcher(lambda: [WatchedFolder(watched)], add, said.append)
    await scans(watcher, 5)
    assert len(adds) == 1
    assert len(said) == 1 and "could not be put away" in said[0]
