"""One Piecemeal per user: a second launch hands its arguments to the first over a local socket.

The server listens on a user-only QLocalServer. A client sends one JSON list of strings
(absolute paths and magnet links) and disconnects; the server emits them as one signal.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

_CONNECT_TIMEOUT_MS = 1000
_WRITE_TIMEOUT_MS = 3000
INSTANCE_ENV = "PIECEMEAL_INSTANCE"  # another name runs a separate instance (tests, profiles)


def server_name() -> str:
    """Per user, so two people on one machine each get their own window."""
    chosen = os.environ.get(INSTANCE_ENV)
    if chosen:
        return chosen
    user = hashlib.sha1(getpass.getuser().encode()).hexdigest()[:12]
    return f"piecemeal-{user}"


def absolute_arguments(arguments: Sequence[str], cwd: Path) -> list[str]:
    """Relative paths mean the second launch's directory, which the first one does not share."""
    return [a if a.lower().startswith("magnet:") else str((cwd / a).absolute()) for a in arguments]


def hand_off(arguments: Sequence[str], name: str | None = None) -> bool:
    """Give `arguments` to a running instance; False if none is listening."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(_CONNECT_TIMEOUT_MS):
        return False
    socket.write(json.dumps(list(arguments)).encode())
    socket.flush()
    written = socket.waitForBytesWritten(_WRITE_TIMEOUT_MS) or socket.bytesToWrite() == 0
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(_WRITE_TIMEOUT_MS)
    return written


class InstanceServer(QObject):
    """Signals:
    arguments_received(list): what a second launch was started with.
    """

    arguments_received = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytearray] = {}

    def listen(self, name: str | None = None) -> bool:
        name = name or server_name()
        if self._server.listen(name):
            return True
        # A crashed instance leaves its socket file behind: nobody answers on it.
        QLocalServer.removeServer(name)
        return self._server.listen(name)

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = bytearray()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._finish(s))
            self._read(socket)
            if socket.state() == QLocalSocket.LocalSocketState.UnconnectedState:
                self._finish(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if socket in self._buffers:
            self._buffers[socket] += bytes(socket.readAll().data())

    def _finish(self, socket: QLocalSocket) -> None:
        self._read(socket)
        data = self._buffers.pop(socket, None)
        if data is None:
            return
        # Cut our slots first: a socket destroyed with the server still signals "disconnected".
        socket.readyRead.disconnect()
        socket.disconnected.disconnect()
        socket.deleteLater()
        try:
            arguments = json.loads(data)
        except ValueError:
            return
        if isinstance(arguments, list) and all(isinstance(a, str) for a in arguments):
            self.arguments_received.emit(arguments)
