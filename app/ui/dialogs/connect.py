"""File > Connect to…: a piecemeal-daemon (or any Transmission-RPC daemon) to show instead
of the local session, or "Local session" to come back.

The dialog stays open while the window tries the daemon, and shows why it failed, in words,
under the fields; it closes once the daemon is shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.rpc.client import RemoteAddress
from app.ui.dialogs.parts import ERROR_STYLE, file_row
from app.ui.remote_settings import load_address, save_address


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    address: RemoteAddress
    remember_password: bool


class ConnectDialog(QDialog):
    """Signals:
    connect_requested(ConnectRequest): the user asked to connect to this daemon.
    local_requested(): the user asked for the local session.
    """

    connect_requested = Signal(object)
    local_requested = Signal()

    def __init__(self, settings: QSettings, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self.setWindowTitle("Connect to a Piecemeal daemon")
        self.resize(460, 0)
        address, remember = load_address(settings)
        self.host_edit = QLineEdit(address.host)
        self.host_edit.setPlaceholderText("127.0.0.1 or nas.local")
        self.port_box = QSpinBox()
        self.port_box.setRange(1, 65535)
        self.port_box.setValue(address.port)
        self.user_edit = QLineEdit(address.user)
        self.user_edit.setPlaceholderText("none")
        self.password_edit = QLineEdit(address.password)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.tls_box = QCheckBox("Use HTTPS (the daemon's --rpc-tls)")
        self.tls_box.setChecked(address.tls)
        self.ca_edit = QLineEdit(address.ca_file)
        self.ca_edit.setPlaceholderText("the system's; else trust the daemon's own when asked")
        self.ca_edit.setToolTip("A CA certificate (PEM) that signed the daemon's certificate, if you made one")
        self.ca_edit.setEnabled(address.tls)
        self.tls_box.toggled.connect(self.ca_edit.setEnabled)
        self.remember_box = QCheckBox("Remember the password")
        self.remember_box.setChecked(remember)
        self.remember_box.setToolTip("Kept in Piecemeal's settings file in your config folder, not encrypted")
        self.status_label = QLabel(f"Now showing: {current}.")
        self.status_label.setWordWrap(True)
        self._build()

    def _build(self) -> None:
        form = QFormLayout()
        form.addRow("&Host:", self.host_edit)
        form.addRow("&Port:", self.port_box)
        form.addRow("&User:", self.user_edit)
        form.addRow("Pass&word:", self.password_edit)
        form.addRow("", self.tls_box)
        form.addRow("C&A certificate:", file_row(self.ca_edit, "Choose the CA certificate", "Certificates (*.pem *.crt);;All files (*)"))
        form.addRow("", self.remember_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = QPushButton("&Connect")
        self.connect_button.setDefault(True)
        self.local_button = QPushButton("&Local session")
        self.local_button.setToolTip("Show this computer's own torrents again")
        buttons.addButton(self.connect_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.local_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.connect_button.clicked.connect(self._connect)
        self.local_button.clicked.connect(self._local)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status_label)
        layout.addWidget(buttons)

    def request(self) -> ConnectRequest:
        address = RemoteAddress(
            host=self.host_edit.text().strip(), port=self.port_box.value(), user=self.user_edit.text(),
            password=self.password_edit.text(), tls=self.tls_box.isChecked(),
            ca_file=self.ca_edit.text().strip() if self.tls_box.isChecked() else "",
        )
        return ConnectRequest(address, self.remember_box.isChecked())

    def show_error(self, sentence: str) -> None:
        self._busy(False)
        self.status_label.setStyleSheet(ERROR_STYLE)
        self.status_label.setText(sentence)

    def _connect(self) -> None:
        request = self.request()
        if not request.address.host:
            self.show_error("Type the host name or address of the machine the daemon runs on.")
            return
        save_address(self._settings, request.address, request.remember_password)
        self._busy(True)
        self.status_label.setStyleSheet("")
        self.status_label.setText(f"Connecting to {request.address.label}…")
        self.connect_requested.emit(request)

    def _local(self) -> None:
        self._busy(True)
        self.local_requested.emit()

    def _busy(self, busy: bool) -> None:
        self.connect_button.setEnabled(not busy)
        self.local_button.setEnabled(not busy)
