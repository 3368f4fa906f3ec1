import asyncio

import pytest

from app.engine.creator import create_torrent
from app.engine.snapshots import TorrentState
from app.engine.torrent_options import TorrentOptions
from app.ui.bridge import EngineBridge
from app.ui.dialogs.torrent_options import (
    GlobalGoals,
    Goal,
    TorrentOptionsDialog,
    goal_of,
    limit_of,
)
from tests.ui.helpers import emission, until, write_torrent


async def _shared(session, tmp_path) -> tuple[str, EngineBridge]:
    info_hash = await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share")
    bridge = EngineBridge(session)
    bridge.refresh()
    return info_hash, bridge


@pytest.mark.parametrize(
    ("limit", "goal", "back"),
    [(None, Goal.GLOBAL, None), (0.0, Goal.NEVER, 0.0), (1.5, Goal.OWN, 1.5)],
)
def test_goals_follow_the_engines_none_zero_and_value(limit, goal, back):
    assert goal_of(limit) == goal
    assert limit_of(goal, 1.5) == back


async def test_ok_sends_every_option_at_once_and_moves(session, tmp_path, qtbot):
    info_hash, bridge = await _shared(session, tmp_path)
    dialog = TorrentOptionsDialog(bridge, info_hash)
    qtbot.addWidget(dialog)
    dialog.down_box.setValue(100)
    dialog.up_box.setValue(20)
    dialog.sequential_box.setChecked(True)
    dialog.super_seeding_box.setChecked(True)
    dialog.ratio_row.choice.setCurrentIndex(Goal.OWN)
    dialog.ratio_row.value_box.setValue(1.5)
    dialog.time_row.choice.setCurrentIndex(Goal.NEVER)
    dialog.folder_edit.setText(str(tmp_path / "moved"))
    dialog.accept()
    await bridge.drain()
    assert session.details(info_hash).options == TorrentOptions(
        sequential=True, down_limit=100 * 1024, up_limit=20 * 1024, ratio_limit=1.5, seed_time_limit=0.0,
        super_seeding=True,
    )
    await until(lambda: (tmp_path / "moved" / "payload.bin").exists(), timeout=20)
    await until(lambda: session.snapshot().torrents[0].save_path == str(tmp_path / "moved"), timeout=20)


async def test_the_dialog_opens_with_what_the_engine_keeps(session, tmp_path, qtbot):
    info_hash, bridge = await _shared(session, tmp_path)
    kept = TorrentOptions(down_limit=50 * 1024, ratio_limit=0.0, seed_time_limit=90 * 60.0)
    await session.set_options(info_hash, kept)
    dialog = TorrentOptionsDialog(bridge, info_hash, GlobalGoals(ratio=2.0))
    qtbot.addWidget(dialog)
    assert dialog.down_box.value() == 50 and dialog.up_box.value() == 0
    assert dialog.ratio_row.goal() == Goal.NEVER and not dialog.ratio_row.value_box.isEnabled()
    assert dialog.time_row.goal() == Goal.OWN and dialog.time_row.value_box.value() == 90
    assert dialog.ratio_row.choice.itemText(Goal.GLOBAL) == "As in Preferences (ratio 2.00)"
    assert dialog.time_row.choice.itemText(Goal.GLOBAL) == "As in Preferences (never)"
    assert dialog.options() == kept


async def test_ok_keeps_file_choices_made_while_the_dialog_was_open(session, tmp_path, qtbot):
    folder = tmp_path / "album"
    folder.mkdir()
    (folder / "a.flac").write_bytes(b"a" * 40_000)
    (folder / "b.flac").write_bytes(b"b" * 40_000)
    info_hash = await session.add_torrent(create_torrent(folder, trackers=()), tmp_path / "dl")
    bridge = EngineBridge(session)
    bridge.refresh()
    dialog = TorrentOptionsDialog(bridge, info_hash)
    qtbot.addWidget(dialog)
    await session.set_file_priorities(info_hash, [1, 0])
    dialog.up_box.setValue(8)
    dialog.accept()
    await bridge.drain()
    options = session.details(info_hash).options
    assert (options.file_priorities, options.up_limit) == ((1, 0), 8 * 1024)


async def test_a_failed_move_shows_on_the_torrent(session, tmp_path, qtbot):
    info_hash, bridge = await _shared(session, tmp_path)
    await until(lambda: session.snapshot().torrents[0].state == TorrentState.SEEDING)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    dialog = TorrentOptionsDialog(bridge, info_hash)
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(blocker / "inside"))
    dialog.accept()
    await bridge.drain()
    assert session.details(info_hash).options == TorrentOptions()
    await until(lambda: "Move failed" in session.snapshot().torrents[0].status_text)


async def test_an_engine_error_reaches_the_failed_signal(session, qtbot):
    bridge = EngineBridge(session)
    dialog = TorrentOptionsDialog(bridge, "ab" * 20)
    qtbot.addWidget(dialog)
    dialog.sequential_box.setChecked(True)
    failed = emission(bridge.failed)
    dialog.accept()
    title, _sentence = await asyncio.wait_for(failed, 10)
    assert title == f"Could not change the options of {'ab' * 20}"
