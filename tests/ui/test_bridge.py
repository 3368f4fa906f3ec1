import asyncio

from app.engine.snapshots import StopReason, TorrentState
from app.ui.bridge import EngineBridge
from app.ui.torrent_diff import TorrentDiff
from tests.ui.helpers import emission, next_emission, until, write_torrent


async def test_a_new_torrent_arrives_as_an_added_row(session, tmp_path):
    bridge = EngineBridge(session)
    torrent_file = write_torrent(tmp_path / "seed")
    added = emission(bridge.torrents_changed, lambda d: bool(d.added))
    bridge.start()
    await bridge.add_torrent(torrent_file, tmp_path / "seed", paused=False, title="Could not add")
    try:
        (diff,) = await asyncio.wait_for(added, 10)
    finally:
        bridge.stop()
    assert [t.name for t in diff.added] == ["payload.bin"]


async def test_only_changes_are_reported(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "seed")
    await until(lambda: session.snapshot().torrents[0].state == TorrentState.SEEDING)
    bridge.refresh()
    diffs: list[TorrentDiff] = []
    bridge.torrents_changed.connect(diffs.append)
    bridge.refresh()
    assert diffs == []
    await session.pause(info_hash)
    bridge.refresh()
    assert [(d.added, [(t.state, t.reason) for t in d.changed], d.removed) for d in diffs] == [
        ((), [(TorrentState.SEEDING, StopReason.USER)], ())
    ]


async def test_an_engine_error_becomes_a_sentence(session, tmp_path):
    bridge = EngineBridge(session)
    torrent_file = write_torrent(tmp_path / "seed")
    await session.add_torrent(torrent_file, tmp_path / "seed")
    bridge.add_torrent(torrent_file, tmp_path / "seed", paused=False, title="Could not add it")
    title, text = await next_emission(bridge.failed)
    assert title == "Could not add it"
    assert "already in the list" in text
    assert "Traceback" not in text


async def test_pause_and_resume_reach_the_session(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "empty")
    bridge.refresh()
    bridge.pause([info_hash])
    await bridge.drain()
    assert session.snapshot().torrents[0].reason == StopReason.USER
    bridge.resume([info_hash])
    await until(lambda: not session.snapshot().torrents[0].paused)


async def test_the_selected_torrent_reports_its_details(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "seed")
    bridge.refresh()
    bridge.select(info_hash)
    (details,) = await next_emission(bridge.details_changed, timeout=5)
    assert details.info_hash == info_hash
    assert [f.path for f in details.files] == ["payload.bin"]
