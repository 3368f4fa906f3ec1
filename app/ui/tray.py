"""The tray icon: speeds in its tooltip, show/hide, start/pause all, finished notifications."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.engine.snapshots import SessionSnapshot
from app.ui import formatting
from app.ui.actions import Actions
from app.ui.icons import app_icon


def tray_tooltip(snapshot: SessionSnapshot) -> str:
    return (
        "Piecemeal\n"
        f"Down: {formatting.rate_or_zero(snapshot.down_rate)}\n"
        f"Up: {formatting.rate_or_zero(snapshot.up_rate)}"
    )


class TrayIcon(QSystemTrayIcon):
    def __init__(self, actions: Actions, parent: QWidget) -> None:
        super().__init__(app_icon(), parent)
        menu = QMenu(parent)
        menu.addAction(actions.toggle_window)
        menu.addSeparator()
        menu.addAction(actions.start_all)
        menu.addAction(actions.pause_all)
        menu.addSeparator()
        menu.addAction(actions.quit)
        self._menu = menu
        self.setContextMenu(menu)
        self.setToolTip("Piecemeal")
        self.activated.connect(self._activated)
        self._toggle = actions.toggle_window

    def show_snapshot(self, snapshot: SessionSnapshot) -> None:
        text = tray_tooltip(snapshot)
        if text != self.toolTip():
            self.setToolTip(text)

    def notify_finished(self, name: str) -> None:
        self.notify("Download finished", name)

    def notify_error(self, name: str, reason: str) -> None:
        self.notify("Download stopped on an error", f"{name}\n{reason}", QSystemTrayIcon.MessageIcon.Warning)

    def notify(
        self, title: str, text: str, kind: QSystemTrayIcon.MessageIcon = QSystemTrayIcon.MessageIcon.Information
    ) -> bool:
        """Show a message by the tray icon; False if the desktop has no tray to show it."""
        if not (self.isVisible() and self.supportsMessages()):
            return False
        if kind == QSystemTrayIcon.MessageIcon.Information:
            self.showMessage(title, text, app_icon())
        else:
            self.showMessage(title, text, kind)
        return True

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self._toggle.trigger()
