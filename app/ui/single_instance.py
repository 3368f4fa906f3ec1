"""One Piecemeal per user: a second launch hands its arguments to the first over a local socket.

The server listens on a user-only QLocalServer. A client sends one line: a JSON list of
strings (absolute paths and magnet links); the server emits them as one signal and answers
"ok". Only that answer lets the second launch exit, so nothing is lost to a dying server.
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
_ANSWER_TIMEOUT_MS = 5000
_ACK = b"ok\n"
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
    """Give `arguments` to a running instance; False if none took them."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(_CONNECT_TIMEOUT_MS):
        return False
    socket.write(json.dumps(list(arguments)).encode() + b"\n")
    socket.flush()
    answer = b""
    while b"\n" not in answer and socket.waitForReadyRead(_ANSWER_TIMEOUT_MS):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return answer.startswith(_ACK)


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
            socket.disconnected.connect(lambda s=socket: self._drop(s))
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        buffer = self._buffers.get(socket)
        if buffer is None:
            return
        buffer += bytes(socket.readAll().data())
        if b"\n" not in buffer:
            return
        line = bytes(buffer.split(b"\n", 1)[0])
        arguments = _parse(line)
        if arguments is not None:
            # Answer before anything else runs: the second launch is waiting to exit.
            socket.write(_ACK)
            socket.flush()
            self.arguments_received.emit(arguments)
        socket.disconnectFromServer()

    def _drop(self, socket: QLocalSocket) -> None:
        # Cut our slots first: a socket destroyed with the server still signals "disconnected".
        self._buffers.pop(socket, None)
        socket.readyRead.disconnect()
        socket.disconnected.disconnect()
        socket.deleteLater()


def _parse(line: bytes) -> list[str] | None:
    try:
        arguments = json.loads(line)
    except ValueError:
        return None
    if isinstance(arguments, list) and all(isinstance(a, str) for a in arguments):
        return arguments
    return None
