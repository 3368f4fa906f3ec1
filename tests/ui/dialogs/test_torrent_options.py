import asyncio

from app.engine.snapshots import TorrentState
from app.ui.bridge import EngineBridge
from app.ui.dialogs.torrent_options import TorrentChoice, TorrentOptionsDialog
from tests.ui.helpers import emission, until, write_torrent


async def test_ok_sends_limits_order_and_move_to_the_session(session, tmp_path):
    info_hash = await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share")
    bridge = EngineBridge(session)
    bridge.refresh()
    dialog = TorrentOptionsDialog(bridge, session, info_hash, TorrentChoice())
    dialog.down_box.setValue(100)
    dialog.up_box.setValue(20)
    dialog.sequential_box.setChecked(True)
    dialog.folder_edit.setText(str(tmp_path / "moved"))
    dialog.accept()
    await bridge.drain()
    options = session.torrents[bytes.fromhex(info_hash)].options
    assert (options.down_limit, options.up_limit, options.sequential) == (100 * 1024, 20 * 1024, True)
    await until(lambda: (tmp_path / "moved" / "payload.bin").exists(), timeout=20)
    await until(lambda: session.snapshot().torrents[0].save_path == str(tmp_path / "moved"), timeout=20)
    assert dialog.choice() == TorrentChoice(100, 20, True)


async def test_unchanged_options_send_nothing_and_a_failed_move_shows_on_the_torrent(
    session, tmp_path
):
    info_hash = await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share")
    await until(lambda: session.snapshot().torrents[0].state == TorrentState.SEEDING)
    bridge = EngineBridge(session)
    bridge.refresh()
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    dialog = TorrentOptionsDialog(bridge, session, info_hash, TorrentChoice(sequential=True))
    dialog.folder_edit.setText(str(blocker / "inside"))
    dialog.accept()
    await bridge.drain()
    assert session.torrents[bytes.fromhex(info_hash)].options.sequential is False
    await until(lambda: "Move failed" in session.snapshot().torrents[0].status_text)


async def test_an_engine_error_reaches_the_failed_signal(session, tmp_path):
    bridge = EngineBridge(session)
    dialog = TorrentOptionsDialog(bridge, session, "ab" * 20, TorrentChoice())
    dialog.sequential_box.setChecked(True)
    failed = emission(bridge.failed)
    dialog.accept()
    title, _sentence = await asyncio.wait_for(failed, 10)
    assert title == f"Could not change the download order of “{'ab' * 20}”"
