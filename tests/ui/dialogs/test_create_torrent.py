import asyncio
import os
from pathlib import Path

from app.engine.metainfo import load_metainfo
from app.ui.dialogs.create_torrent import CreateTorrentDialog, parse_tiers
from tests.ui.helpers import emission


def test_tracker_lines_make_tiers():
    text = "udp://a:1\nhttp://b/announce\n\n\nhttp://c/announce\n"
    assert parse_tiers(text) == [["udp://a:1", "http://b/announce"], ["http://c/announce"]]
    assert parse_tiers("  \n") == []


async def test_creates_the_torrent_with_progress_and_hands_it_over_to_seed(qtbot, tmp_path):
    source = tmp_path / "share.bin"
    source.write_bytes(os.urandom(3 * 2**20))
    seeded: list[tuple[bytes, Path]] = []
    dialog = CreateTorrentDialog(lambda data, folder: seeded.append((data, folder)))
    qtbot.addWidget(dialog)
    dialog.trackers_edit.setPlainText("http://127.0.0.1:6969/announce")
    dialog.comment_edit.setText("made in a test")
    progress: list[int] = []
    dialog.progress.valueChanged.connect(progress.append)
    created = emission(dialog.created)
    await dialog.create(source, tmp_path / "share.torrent")
    assert await asyncio.wait_for(created, 1) == (str(tmp_path / "share.torrent"),)
    metainfo = load_metainfo(tmp_path / "share.torrent")
    assert metainfo.trackers == (("http://127.0.0.1:6969/announce",),)
    assert metainfo.comment == "made in a test"
    assert progress[-1] == dialog.progress.maximum()
    assert seeded == [((tmp_path / "share.torrent").read_bytes(), tmp_path)]


async def test_a_problem_shows_in_the_dialog(qtbot, tmp_path):
    dialog = CreateTorrentDialog(lambda data, folder: None)
    qtbot.addWidget(dialog)
    dialog.trackers_edit.setPlainText("not a url")
    source = tmp_path / "share.bin"
    source.write_bytes(b"x" * 1000)
    await dialog.create(source, tmp_path / "share.torrent")
    assert dialog.status.text()
    assert dialog.create_button.isEnabled()
    assert not (tmp_path / "share.torrent").exists()


async def test_the_format_is_hybrid_unless_chosen(qtbot, tmp_path):
    source = tmp_path / "share.bin"
    source.write_bytes(os.urandom(100_000))
    dialog = CreateTorrentDialog(lambda data, folder: None)
    qtbot.addWidget(dialog)
    dialog.seed_box.setChecked(False)
    await dialog.create(source, tmp_path / "hybrid.torrent")
    assert load_metainfo(tmp_path / "hybrid.torrent").format == "hybrid"
    dialog.format_box.setCurrentIndex(dialog.format_box.findData("v2"))
    await dialog.create(source, tmp_path / "v2.torrent")
    assert load_metainfo(tmp_path / "v2.torrent").format == "v2"
