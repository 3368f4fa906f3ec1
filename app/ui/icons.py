"""The application's icons: our SVGs under resources/icons, Qt's standard icons otherwise."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QStyle

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"

# Each action icon falls back to a standard one when the SVG is not installed alongside.
_FALLBACKS: dict[str, QStyle.StandardPixmap] = {
    "add": QStyle.StandardPixmap.SP_DialogOpenButton,
    "create": QStyle.StandardPixmap.SP_FileDialogNewFolder,
    "start": QStyle.StandardPixmap.SP_MediaPlay,
    "pause": QStyle.StandardPixmap.SP_MediaPause,
    "remove": QStyle.StandardPixmap.SP_TrashIcon,
    "recheck": QStyle.StandardPixmap.SP_BrowserReload,
    "piecemeal": QStyle.StandardPixmap.SP_ArrowDown,
    "category": QStyle.StandardPixmap.SP_DirIcon,
    "tag": QStyle.StandardPixmap.SP_FileIcon,
}


@cache
def icon(name: str) -> QIcon:
    path = ICON_DIR / f"{name}.svg"
    if path.is_file():
        return QIcon(str(path))
    return QApplication.style().standardIcon(_FALLBACKS[name])


def app_icon() -> QIcon:
    return icon("piecemeal")


def standard_icon(pixmap: QStyle.StandardPixmap) -> QIcon:
    return QApplication.style().standardIcon(pixmap)
