"""A whole download through the window, from a second real session seeding on loopback."""

from pathlib import Path

import pytest

from app.engine.session import Session, SessionConfig
from app.engine.snapshots import TorrentState
from tests.ui.helpers import until, write_torrent


@pytest.fixture
async def seeder(tmp_path: Path):
    engine = Session(
        SessionConfig(
            listen_host="127.0.0.1",
            listen_port=0,
            download_dir=tmp_path,
            enable_dht=False,
            enable_lsd=False,
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
