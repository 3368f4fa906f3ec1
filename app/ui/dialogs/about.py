"""The About box: name, version, licence, and what the program is made of."""

from __future__ import annotations

from importlib import metadata

import PySide6
from PySide6.QtWidgets import QMessageBox, QWidget

from app.ui import licenses
from app.ui.icons import app_icon


def version() -> str:
    try:
        return metadata.version("piecemeal")
    except metadata.PackageNotFoundError:
        return "(development build)"


def about_text() -> str:
    return (
        f"<h3>Piecemeal {version()}</h3>"
        "<p>A desktop BitTorrent client: a Qt window over a pure-Python asyncio engine.</p>"
        f"<p>Qt for Python {PySide6.__version__}</p>"
        + licenses.about_html()
    )


def show_about(parent: QWidget) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About Piecemeal")
    box.setIconPixmap(app_icon().pixmap(64, 64))
    box.setText(about_text())
    box.open()
