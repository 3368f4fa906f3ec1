"""A whole download through the window, from a second real session seeding on loopback."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from app.engine.session import Session, SessionConfig
from app.engine.snapshots import PieceState, StopReason, TorrentState
from tests.ui.helpers import until, write_album, write_torrent


@pytest.fixture
async def seeder(tmp_path: Path):
    engine = Session(
        SessionConfig(
            listen_host="127.0.0.1",
            listen_port=0,
            download_dir=tmp_path,
            enable_dht=False,
            enable_lsd=False,
            port_mapping=False,
        )
    )
    await engine.start()
    yield engine
    await engine.close()


async def test_a_download_through_the_window_ends_seeding_with_the_right_bytes(
    window, session, seeder, tmp_path
):
    torrent_file = write_torrent(tmp_path / "seed", "movie.bin", size=3 * 2**20 + 1234)
    info_hash = await seeder.add_torrent(torrent_file, tmp_path / "seed")
    await until(lambda: seeder.snapshot().torrents[0].state == TorrentState.SEEDING)
    window.bridge.start()
    window.add_torrent_files([torrent_file])
    window.add_dialog.save_path_edit.setText(str(tmp_path / "downloads"))
    window.add_dialog.accept()
    await until(lambda: window.model.rowCount() == 1)
    session.add_peer(info_hash, "127.0.0.1", seeder.listen_port)
    window.view.selectRow(0)
    window.details.setCurrentWidget(window.details.pieces)

    await until(lambda: window.model.item(0).state == TorrentState.SEEDING, timeout=30)
    downloaded = (tmp_path / "downloads" / "movie.bin").read_bytes()
    assert downloaded == (tmp_path / "seed" / "movie.bin").read_bytes()
    assert window.model.item(0).progress == 1.0
    assert window.details.pieces.summary.text().startswith("193 of 193")


async def test_a_magnet_stops_for_its_files_and_downloads_only_the_chosen_ones(
    window, session, seeder, tmp_path
):
    piece = 16 * 1024
    torrent_file = write_album(tmp_path / "seed" / "album", (4 * piece, 3 * piece, 5 * piece), piece)
    info_hash = await seeder.add_torrent(torrent_file, tmp_path / "seed")
    await until(lambda: seeder.snapshot().torrents[0].state == TorrentState.SEEDING)
    window.bridge.start()
    link = f"magnet:?xt=urn:btih:{info_hash}&dn=album&x.pe=127.0.0.1:{seeder.listen_port}"
    QGuiApplication.clipboard().setText(link)
    window.actions.add_magnet.trigger()
    magnet = window.magnet_dialog
    assert magnet.link() == link
    magnet.save_path_edit.setText(str(tmp_path / "downloads"))
    magnet.choose_files_box.setChecked(True)
    magnet.accept()

    await until(lambda: window.choose_dialog is not None, timeout=20)
    await until(lambda: session.snapshot().torrents[0].reason == StopReason.CHOOSE_FILES)
    dialog = window.choose_dialog
    model = dialog.chooser.model
    album = model.index(0, 0)
    skipped = model.index(1, 0, album)
    assert skipped.data() == "02.bin"
    model.setData(skipped, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    dialog.start_button.click()

    await until(lambda: window.model.rowCount() == 1 and window.model.item(0).progress == 1.0, timeout=30)
    torrent = window.model.item(0)
    assert (torrent.wanted_size, torrent.total_size) == (9 * piece, 12 * piece)
    for name in ("01.bin", "03.bin"):
        got = (tmp_path / "downloads" / "album" / name).read_bytes()
        assert got == (tmp_path / "seed" / "album" / name).read_bytes()
    pieces = session.details(info_hash).pieces
    assert [state == PieceState.VERIFIED for state in pieces] == [True] * 4 + [False] * 3 + [True] * 5
