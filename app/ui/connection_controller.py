"""File > Connect to… and File > Local session: the dialog, trusting a daemon's certificate,
and what the window says about the session it shows (title and status bar).

A daemon's TLS certificate is checked against the system's CAs (or the CA file the user
names); one they do not vouch for, such as the daemon's self-made one, is trusted on first
use: the user is shown its SHA-256 fingerprint (the daemon logs the same one) and asked. A
different one later is asked again, with a warning, and refused unless the user says yes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from app.engine.errors import EngineError
from app.rpc.client import RemoteAddress, UntrustedCertificate, peer_fingerprint
from app.ui.dialogs.connect import ConnectDialog
from app.ui.remote_settings import trust, with_trusted
from app.ui.session_switch import SessionSwitch

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)

APP_TITLE = "Piecemeal"


class NotTrusted(EngineError):
    """The user did not trust the daemon's certificate."""


class ConnectionController(QObject):
    def __init__(self, window: MainWindow, switch: SessionSwitch) -> None:
        super().__init__(window)
        self.window = window
        self.switch = switch
        self.dialog: ConnectDialog | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.label = QLabel()
        self.label.setToolTip("The session this window shows: this computer's, or a daemon's")
        window.statusBar().insertPermanentWidget(0, self.label)
        window.actions.connect.triggered.connect(self.open_dialog)
        window.actions.local_session.triggered.connect(lambda: self._run(self._local()))
        switch.switched.connect(self._show)
        switch.problem.connect(self._show_problem)
        self._show(switch.label)

    # What the window says

    def _show(self, label: str) -> None:
        self.label.setText(label)
        remote = self.switch.remote is not None
        self.window.setWindowTitle(f"{APP_TITLE} — {label}" if remote else APP_TITLE)
        self.window.actions.local_session.setEnabled(remote)
        # The daemon's DHT and port mapping are not visible over RPC: no "0 nodes" or "off" that would be wrong.
        self.window.dht_label.setVisible(self.window.preferences.enable_dht and not remote)
        self.window.reach_label.setVisible(not remote)

    def _show_problem(self, sentence: str) -> None:
        if sentence:
            self.window.statusBar().showMessage(sentence)
        else:
            self.window.statusBar().clearMessage()

    # Commands

    def open_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.raise_()
            return
        dialog = ConnectDialog(self.window.settings, self.switch.label, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.connect_requested.connect(lambda request: self._run(self._connect(request.address)))
        dialog.local_requested.connect(lambda: self._run(self._local()))
        dialog.finished.connect(lambda _result: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()

    def connect_to(self, address: RemoteAddress) -> asyncio.Future[Any]:
        """Show the daemon at `address` (e.g. the one that holds this profile)."""
        return self._run(self._connect(address))

    async def _connect(self, address: RemoteAddress) -> None:
        address = with_trusted(self.window.settings, address)
        try:
            await self.switch.connect_to(address)
        except UntrustedCertificate as exc:
            shown = exc.fingerprint or await peer_fingerprint(address.host, address.port)
            address = await self._trusted(address, shown, f"Warning: {exc}" if address.fingerprint else str(exc))
            await self.switch.connect_to(address)
        self._close_dialog()

    async def _trusted(self, address: RemoteAddress, fingerprint: str, why: str) -> RemoteAddress:
        question = (f"{why}\n\nIts SHA-256 fingerprint is\n{fingerprint}\n\nThe daemon writes its fingerprint in "
                    "daemon.log when it starts. Trust this certificate if the two are the same.")
        if not await ask(self.window, "Trust the daemon's certificate?", question):
            raise NotTrusted("Not connected: the daemon's certificate was not trusted.")
        return trust(self.window.settings, address, fingerprint)

    async def _local(self) -> None:
        await self.switch.use_local()
        self._close_dialog()

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.accept()

    def _run(self, command: Any) -> asyncio.Future[Any]:
        task = asyncio.ensure_future(command)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        if not isinstance(error, EngineError):
            log.error("switching sessions", exc_info=error)
            error = EngineError(f"Piecemeal hit an internal error ({type(error).__name__}: {error}).")
        if self.dialog is not None:
            self.dialog.show_error(str(error))
        else:
            self.window.show_message("Could not switch sessions", str(error))


async def ask(parent: QWidget | None, title: str, text: str) -> bool:
    """A yes/no question that does not block the loop: the answer arrives as the box closes."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    yes = box.button(QMessageBox.StandardButton.Yes)  # asked now: the box is gone once answered
    return await _answer(box) is yes


async def tell(parent: QWidget | None, title: str, text: str) -> None:
    """A warning the user closes, without a nested event loop under the running one."""
    await _answer(QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent))


async def _answer(box: QMessageBox) -> object:
    """Open `box`; its clicked button once it closes."""
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    box.finished.connect(lambda _result: answer.done() or answer.set_result(box.clickedButton()))
    box.open()
    return await answer
