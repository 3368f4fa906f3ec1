import os
import socket

from PySide6.QtCore import QDir
from PySide6.QtNetwork import QLocalSocket

from app.ui.single_instance import InstanceServer, absolute_arguments, hand_off


def _server(name: str) -> InstanceServer:
    server = InstanceServer()
    assert server.listen(name)
    return server


def test_a_second_launch_hands_over_its_arguments_and_exits(qtbot, tmp_path, launch):
    name = f"piecemeal-test-{os.getpid()}-launch"
    server = _server(name)
    magnet = "magnet:?xt=urn:btih:" + "cd" * 20
    with qtbot.waitSignal(server.arguments_received, timeout=30_000) as received:
        second = launch(name, ["film.torrent", magnet], tmp_path)
    assert second.wait(30) == 0
    assert received.args == [[str(tmp_path / "film.torrent"), magnet]]
    server.close()


def test_no_running_instance_means_no_hand_off():
    assert not hand_off(["x.torrent"], f"piecemeal-test-{os.getpid()}-nobody")


def test_a_socket_left_by_a_crash_is_replaced(qtbot, tmp_path, launch):
    name = f"piecemeal-test-{os.getpid()}-stale"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(os.path.join(QDir.tempPath(), name))
    leftover.close()  # the file stays, nobody listens: what a crashed instance leaves
    server = _server(name)
    with qtbot.waitSignal(server.arguments_received, timeout=30_000) as received:
        second = launch(name, ["/after/crash.torrent"], tmp_path)
    assert second.wait(30) == 0
    assert received.args == [["/after/crash.torrent"]]
    server.close()


def test_garbage_from_a_client_is_ignored(qtbot):
    name = f"piecemeal-test-{os.getpid()}-garbage"
    server = _server(name)
    received = []
    server.arguments_received.connect(received.append)
    answers = []
    for payload in (b"not json\n", b'{"a": 1}\n', b'["ok"]\n'):
        client = QLocalSocket()
        client.connectToServer(name)
        assert client.waitForConnected(1000)
        client.write(payload)
        client.waitForBytesWritten(1000)
        qtbot.waitUntil(
            lambda c=client: c.state() == QLocalSocket.LocalSocketState.UnconnectedState
        )
        answers.append(bytes(client.readAll().data()))
    assert answers == [b"", b"", b"ok\n"]
    qtbot.waitUntil(lambda: received == [["ok"]])
    server.close()


def test_relative_paths_mean_the_launch_directory(tmp_path):
    assert absolute_arguments(["a.torrent", "magnet:?xt=x"], tmp_path) == [
        str(tmp_path / "a.torrent"),
        "magnet:?xt=x",
    ]
