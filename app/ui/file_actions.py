"""Opening a torrent's files: double-click in the Files tab, "Play" and "Open containing folder".

The system's default application opens a file (QDesktopServices.openUrl) once it is
complete; a file still downloading would open half-written, so the user is told instead.
"Play" asks for the file to be streamed while it downloads (`play_requested`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

from PySide6.QtCore import QModelIndex, QObject, QPoint, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QStyle, QTreeView

from app.engine.snapshots import TorrentSnapshot
from app.ui.icons import standard_icon
from app.ui.models.files import FileModel

OpenUrl = Callable[[QUrl], bool]


def local_path(save_path: str, relative: str) -> Path:
    """Where a file of the torrent is on disk (the engine already kept paths inside save_path)."""
    return Path(save_path).joinpath(*PurePosixPath(relative).parts)


def containing_folder(torrent: TorrentSnapshot) -> Path:
    """A multi-file torrent's own folder if it exists, else the folder it is saved in."""
    inner = Path(torrent.save_path) / torrent.name
    return inner if inner.is_dir() else Path(torrent.save_path)


class FileActions(QObject):
    """Signals:
    told(str): a sentence for the status bar (why a file was not opened).
    play_requested(int): the user wants to play that file (its index) while it downloads.
    """

    told = Signal(str)
    play_requested = Signal(int)

    def __init__(
        self, view: QTreeView, model: FileModel, torrent: Callable[[], TorrentSnapshot | None],
        open_url: OpenUrl = QDesktopServices.openUrl,
    ) -> None:
        super().__init__(view)
        self._view = view
        self._model = model
        self._torrent = torrent
        self._open_url = open_url
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._menu)
        view.doubleClicked.connect(self.open_file)

    def open_file(self, index: QModelIndex) -> None:
        torrent = self._torrent()
        if torrent is None or not index.isValid() or self._model.is_folder(index):
            return
        relative = self._model.relative_path(index)
        if not self._model.is_complete(index):
            self.told.emit(f"{PurePosixPath(relative).name} is not complete yet.")
            return
        path = local_path(torrent.save_path, relative)
        if not path.is_file():
            self.told.emit(f"{path} is not on the disk.")
            return
        self._open_url(QUrl.fromLocalFile(str(path)))

    def open_stream(self, url: str) -> None:
        """The default player opens the engine's local URL for a file still downloading."""
        self._open_url(QUrl(url))

    def open_folder(self, index: QModelIndex) -> None:
        """The folder that holds the file (or the folder itself)."""
        torrent = self._torrent()
        if torrent is None:
            return
        path = local_path(torrent.save_path, self._model.relative_path(index)) if index.isValid() else None
        folder = path if path is not None and self._model.is_folder(index) else (path.parent if path else None)
        self._open_url(QUrl.fromLocalFile(str(folder if folder and folder.is_dir() else containing_folder(torrent))))

    def _menu(self, point: QPoint) -> None:
        index = self._view.indexAt(point)
        menu = QMenu(self._view)
        opening = menu.addAction("&Open", lambda: self.open_file(index))
        opening.setEnabled(index.isValid() and not self._model.is_folder(index) and self._model.is_complete(index))
        file_index = self._model.file_index(index)
        playing = menu.addAction("&Play", lambda: self.play_requested.emit(file_index))
        playing.setToolTip("Play it in the default player while it downloads")
        playing.setEnabled(file_index is not None)
        menu.addAction(
            standard_icon(QStyle.StandardPixmap.SP_DirOpenIcon), "Open containing &folder",
            lambda: self.open_folder(index),
        )
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self._view.viewport().mapToGlobal(point))
