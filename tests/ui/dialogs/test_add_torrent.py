from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSettings

from app.engine.creator import create_torrent
from app.engine.metainfo import FileEntry, load_metainfo
from app.ui.dialogs.add_torrent import AddTorrentDialog, all_priorities, metainfo_files
from app.ui.settings import Preferences, save_preferences
from tests.ui.helpers import write_torrent


def test_offers_the_download_folder_then_remembers_the_last_one(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    save_preferences(settings, Preferences(download_dir=tmp_path / "downloads"))
    metainfo = load_metainfo(write_torrent(tmp_path / "share"))
    first = AddTorrentDialog(metainfo, settings)
    qtbot.addWidget(first)
    assert first.save_path() == tmp_path / "downloads"
    first.save_path_edit.setText(str(tmp_path / "films"))
    first.start_paused.setChecked(True)
    first.accept()
    request = first.request()
    assert (request.save_path, request.paused, request.metainfo) == (
        tmp_path / "films",
        True,
        metainfo,
    )
    second = AddTorrentDialog(metainfo, settings)
    qtbot.addWidget(second)
    assert second.save_path() == tmp_path / "films"


def test_lists_the_files_with_their_sizes(qtbot, tmp_path):
    folder = tmp_path / "album"
    (folder / "cd1").mkdir(parents=True)
    (folder / "cd1" / "a.flac").write_bytes(b"a" * 3000)
    (folder / "cover.jpg").write_bytes(b"c" * 1000)
    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(create_torrent(folder, trackers=()))
    metainfo = load_metainfo(torrent)
    assert sorted(f.path for f in metainfo_files(metainfo)) == [
        "album/cd1/a.flac",
        "album/cover.jpg",
    ]
    dialog = AddTorrentDialog(
        metainfo, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    )
    qtbot.addWidget(dialog)
    root = dialog.files_model.index(0, 0)
    assert root.data() == "album"
    assert root.siblingAtColumn(1).data() == "3.9 KiB"
    assert dialog.files_model.file_count() == 2
    assert Path(dialog.save_path_edit.text()).is_absolute()


def test_pad_files_keep_their_place_in_the_priorities(tmp_path):
    loaded = load_metainfo(write_torrent(tmp_path / "share"))
    files = (
        FileEntry(("album", "a.flac"), 10, 0),
        FileEntry(("album", ".pad", "6"), 6, 10, padding=True),  # BEP 47
        FileEntry(("album", "b.flac"), 10, 16),
    )
    metainfo = replace(loaded, files=files, multi_file=True)
    assert [f.path for f in metainfo_files(metainfo)] == ["album/a.flac", "album/b.flac"]
    assert all_priorities(metainfo, [0, 2]) == (0, 1, 2)
