import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QDir
from PySide6.QtNetwork import QLocalSocket

from app.ui.single_instance import INSTANCE_ENV, InstanceServer, absolute_arguments, hand_off

ROOT = Path(__file__).resolve().parents[2]


def _server(qtbot, name: str) -> InstanceServer:
    server = InstanceServer()
    assert server.listen(name)
    return server


def test_a_second_launch_hands_over_its_arguments_and_exits(qtbot, tmp_path):
    name = f"piecemeal-test-{os.getpid()}-launch"
    server = _server(qtbot, name)
    env = {**os.environ, INSTANCE_ENV: name, "PYTHONPATH": str(ROOT)}
    magnet = "magnet:?xt=urn:btih:" + "cd" * 20
    with qtbot.waitSignal(server.arguments_received, timeout=20_000) as received:
        launch = subprocess.run(
            [sys.executable, "-m", "app", "film.torrent", magnet],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=60,
        )
    assert launch.returncode == 0, launch.stderr.decode()
    assert received.args == [[str(tmp_path / "film.torrent"), magnet]]
    server.close()


def test_no_running_instance_means_no_hand_off(qtbot):
    assert not hand_off(["x.torrent"], f"piecemeal-test-{os.getpid()}-nobody")


def test_a_socket_left_by_a_crash_is_replaced(qtbot):
    name = f"piecemeal-test-{os.getpid()}-stale"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(os.path.join(QDir.tempPath(), name))
    leftover.close()  # the file stays, nobody listens: what a crashed instance leaves
    server = _server(qtbot, name)
    received = []
    server.arguments_received.connect(received.append)
    assert hand_off(["after-crash.torrent"], name)
    qtbot.waitUntil(lambda: received == [["after-crash.torrent"]])
    server.close()


def test_garbage_from_a_client_is_ignored(qtbot):
    name = f"piecemeal-test-{os.getpid()}-garbage"
    server = _server(qtbot, name)
    received = []
    server.arguments_received.connect(received.append)
    for payload in (b"not json", json.dumps({"a": 1}).encode(), json.dumps(["ok"]).encode()):
        client = QLocalSocket()
        client.connectToServer(name)
        assert client.waitForConnected(1000)
        client.write(payload)
        client.waitForBytesWritten(1000)
        client.disconnectFromServer()
    qtbot.waitUntil(lambda: received == [["ok"]])
    server.close()


def test_relative_paths_mean_the_launch_directory(tmp_path):
    assert absolute_arguments(["a.torrent", "magnet:?xt=x"], tmp_path) == [
        str(tmp_path / "a.torrent"),
        "magnet:?xt=x",
    ]
