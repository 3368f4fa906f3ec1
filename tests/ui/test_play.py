"""'Play' in the Files tab: the default player gets the engine's local stream URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from PySide6.QtCore import QUrl

from app.engine.snapshots import TorrentState
from tests.ui.helpers import until
from tests.ui.test_everyday import files_shown, first_file


async def test_play_opens_the_stream_url_of_a_file_still_downloading(window, session, tmp_path):
    opened: list[QUrl] = await files_shown(window, session, tmp_path / "album", tmp_path / "empty", TorrentState.DOWNLOADING)
    model = window.details.file_model
    index = first_file(model)
    assert not model.is_complete(index)
    window.details.file_actions.play_requested.emit(model.file_index(index))
    await until(lambda: opened)
    url = urlsplit(opened[0].toString())
    assert (url.scheme, url.hostname) == ("http", "127.0.0.1")
    assert url.path.startswith("/stream/") and url.path.endswith("/01.bin")
