"""A folder of a thousand .torrent files dropped at once: the window keeps running (issue 19)."""

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.engine.creator import create_torrent
from app.ui.bridge import ADD_BATCH
from app.ui.main_window import MainWindow
from app.ui.settings import remember_save_dir
from tests.ui.helpers import message_boxes, until

COUNT = 1000


def _tiny_torrents(folder: Path, count: int) -> list[Path]:
    """`count` one-piece torrents of a few bytes each, all different."""
    folder.mkdir()
    paths = []
    for number in range(count):
        payload = folder / f"{number:04}.bin"
        payload.write_bytes(number.to_bytes(4, "big"))
        torrent = folder / f"{number:04}.torrent"
        torrent.write_bytes(create_torrent(payload, trackers=()))
        paths.append(torrent)
    return paths


def _drop_files(window: MainWindow, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    for kind in (QDragEnterEvent, QDropEvent):
        event = kind(
            QPointF(20, 20), Qt.DropAction.CopyAction, mime,
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(window, event)
        assert event.isAccepted()


async def test_a_thousand_dropped_torrents_are_added_while_the_window_runs(
    window, session, settings, tmp_path
):
    remember_save_dir(settings, tmp_path / "downloads")
    paths = _tiny_torrents(tmp_path / "many", COUNT)
    ticks = 0

    def tick() -> None:
        nonlocal ticks
        ticks += 1

    ticker = QTimer()
    ticker.setInterval(0)  # fires each time the event loop comes round
    ticker.timeout.connect(tick)
    ticks_at_batch: list[int] = []
    window.bridge.files_added.connect(lambda _done: ticks_at_batch.append(ticks))
    ticker.start()
    _drop_files(window, paths)
    ticks_when_dropped = ticks
    assert window.add_dialog is None  # no dialog per file for a folder of them
    try:
        await until(lambda: len(ticks_at_batch) == COUNT // ADD_BATCH, timeout=120)
        window.bridge.refresh()
        await until(lambda: window.model.rowCount() == COUNT, timeout=30)
    finally:
        ticker.stop()
    torrents = session.snapshot().torrents
    assert len(torrents) == COUNT
    assert {t.save_path for t in torrents} == {str(tmp_path / "downloads")}
    # The window ran between every two batches, and before the first one: the add never held
    # the GUI thread for longer than a batch.
    seen = [ticks_when_dropped, *ticks_at_batch]
    assert all(later > earlier for earlier, later in zip(seen, seen[1:])), seen
    assert message_boxes() == []


async def test_bad_files_in_a_bulk_add_are_named_in_one_message(
    window, session, settings, tmp_path
):
    remember_save_dir(settings, tmp_path / "downloads")
    paths = _tiny_torrents(tmp_path / "many", 20)
    paths[3].write_bytes(b"not a torrent")
    _drop_files(window, paths)
    await until(lambda: message_boxes(), timeout=60)
    (box,) = message_boxes()
    assert "0003.torrent" in box.text()
    assert len(session.snapshot().torrents) == 19
    box.close()
