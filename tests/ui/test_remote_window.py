"""The window as a thin client of a piecemeal-daemon running in another process: File >
Connect to…, a download started from the window and fed by libtorrent, a pause made with
transmission-remote, and back to the local session."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QMessageBox

from app.engine.profile_lock import DAEMON, WINDOW, ProfileBusy, ProfileLock
from app.engine.session import Session
from app.engine.snapshots import StopReason, TorrentState
from app.rpc.client import RemoteAddress
from app.ui.app import offer_daemon
from app.ui.connection_controller import ConnectionController
from app.ui.main_window import MainWindow
from app.ui.remote_settings import trust, with_trusted
from app.ui.session_switch import LOCAL_LABEL, SessionSwitch
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.rpc.daemon_process import ROOT, DaemonProcess, daemon_command, daemon_env, running_daemon
from tests.ui.helpers import message_boxes, until

SIZES = {"album/one.bin": 700_001, "album/two.bin": 90_000}
DOWNLOAD_TIMEOUT = 60.0


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path / "profile") as process:
        yield process


@pytest.fixture
async def controller(window: MainWindow, session: Session) -> AsyncIterator[ConnectionController]:
    switch = SessionSwitch(window.bridge, session)
    yield ConnectionController(window, switch)
    if switch.remote is not None:
        await switch.remote.close()


@pytest.fixture
def seed(tmp_path: Path) -> Iterator[tuple[LtPeer, bytes, Path]]:
    content = random_tree(tmp_path / "seed", SIZES) / "album"
    data = make_torrent(content, piece_size=16384)
    peer = LtPeer("127.0.0.2")
    try:
        yield peer, data, content
    finally:
        peer.close()


async def connect(window: MainWindow, controller: ConnectionController, port: int) -> None:
    window.actions.connect.trigger()
    dialog = controller.dialog
    dialog.host_edit.setText("127.0.0.1")
    dialog.port_box.setValue(port)
    dialog.connect_button.click()
    await until(lambda: controller.dialog is None, timeout=30)


async def test_a_download_started_from_the_window_finishes_on_the_daemon_and_a_remote_pause_shows(
    window: MainWindow, controller: ConnectionController, daemon: DaemonProcess,
    seed: tuple[LtPeer, bytes, Path], tmp_path: Path,
) -> None:
    peer, data, content = seed
    handle = peer.add(data, content.parent)
    window.bridge.start()
    await connect(window, controller, daemon.port)
    label = f"Connected to 127.0.0.1:{daemon.port}"
    assert window.windowTitle() == f"Piecemeal — {label}" and controller.label.text() == label
    assert window.dht_label.isHidden() and window.reach_label.isHidden(), "the daemon's DHT and router are not visible"

    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(data)
    window.add_torrent_files([torrent])
    window.add_dialog.save_path_edit.setText(str(tmp_path / "daemon-downloads"))
    window.add_dialog.accept()
    await until(lambda: window.model.rowCount() == 1, timeout=30)
    await until(lambda: window.model.item(0).state == TorrentState.DOWNLOADING, timeout=30)
    handle.connect_peer(("127.0.0.1", daemon.peer_port))
    window.view.selectRow(0)
    window.details.setCurrentWidget(window.details.pieces)
    await until(lambda: window.model.item(0).state == TorrentState.SEEDING, timeout=DOWNLOAD_TIMEOUT)

    assert window.model.item(0).progress == 1.0
    for name in ("one.bin", "two.bin"):
        assert (tmp_path / "daemon-downloads" / "album" / name).read_bytes() == (content / name).read_bytes()
    pieces = -(-sum(SIZES.values()) // 16384)
    await until(lambda: window.details.pieces.summary.text().startswith(f"{pieces} of {pieces}"))
    window.grab().save(str(tmp_path / "connected-window.png"))

    daemon.remote("-t", "1", "-S")
    await until(lambda: window.model.item(0).reason == StopReason.USER, timeout=30)
    window.actions.start.trigger()
    await until(lambda: window.model.item(0).reason is None, timeout=30)
    assert window.model.item(0).state == TorrentState.SEEDING
    assert re.search(r"100%.*(Seeding|Idle)", daemon.remote("-l")), "transmission-remote sees it seeding again"

    window.actions.local_session.trigger()
    await until(lambda: window.windowTitle() == "Piecemeal" and window.model.rowCount() == 0)
    assert controller.label.text() == LOCAL_LABEL and not window.reach_label.isHidden()


async def test_a_daemon_not_there_is_a_sentence_in_the_dialog_and_the_local_session_stays(
    window: MainWindow, controller: ConnectionController, daemon: DaemonProcess, tmp_path: Path,
) -> None:
    window.bridge.start()
    port = daemon.port
    assert daemon.stop() == 0
    window.actions.connect.trigger()
    dialog = controller.dialog
    dialog.port_box.setValue(port)
    dialog.connect_button.click()
    await until(lambda: "Could not reach" in dialog.status_label.text(), timeout=30)
    assert dialog.status_label.text() == (
        f"Could not reach the daemon at 127.0.0.1:{port}: nothing answers on that port (is the daemon running?).")
    assert dialog.connect_button.isEnabled() and window.windowTitle() == "Piecemeal"
    dialog.grab().save(str(tmp_path / "connect-dialog.png"))
    dialog.reject()


async def test_a_profile_the_daemon_holds_is_offered_as_the_daemons_torrents(
    daemon: DaemonProcess, settings: QSettings,
) -> None:
    with pytest.raises(ProfileBusy) as busy:
        ProfileLock(daemon.profile).acquire(WINDOW)
    assert (busy.value.holder, busy.value.url) == (DAEMON, f"http://127.0.0.1:{daemon.port}/transmission/rpc")
    QApplication.instance().setQuitOnLastWindowClosed(False)  # as app.main sets it: no window exists yet
    offered = asyncio.ensure_future(offer_daemon(busy.value, daemon.profile, settings))
    await until(lambda: message_boxes() or offered.done())
    (box,) = message_boxes()
    assert f"A piecemeal-daemon is using the profile {daemon.profile}" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    remote = await asyncio.wait_for(offered, 30)
    try:
        assert remote.label == f"127.0.0.1:{daemon.port}" and remote.snapshot().torrents == ()
    finally:
        await remote.close()
        QApplication.instance().setQuitOnLastWindowClosed(True)


def test_the_daemon_does_not_start_on_a_profile_the_window_holds(tmp_path: Path) -> None:
    lock = ProfileLock(tmp_path / "profile")
    lock.acquire(WINDOW)
    try:
        done = subprocess.run(daemon_command(tmp_path / "profile"), capture_output=True, text=True,
                              env=daemon_env(), cwd=ROOT, timeout=60)
    finally:
        lock.release()
    assert done.returncode == 2
    assert f"another Piecemeal window is using the profile {tmp_path / 'profile'}" in done.stderr


async def test_a_daemons_certificate_is_trusted_when_the_user_says_so_and_a_changed_one_is_refused(
    window: MainWindow, controller: ConnectionController, settings: QSettings, tmp_path: Path,
) -> None:
    with running_daemon(tmp_path / "tls-profile", "--rpc-tls") as daemon:
        logged = re.search(r"SHA-256 fingerprint ([0-9A-F:]+)", daemon.log())[1]
        window.bridge.start()
        window.actions.connect.trigger()
        dialog = controller.dialog
        dialog.port_box.setValue(daemon.port)
        dialog.tls_box.setChecked(True)
        dialog.connect_button.click()
        await until(message_boxes, timeout=30)
        (box,) = message_boxes()
        assert "is not trusted here (self-signed certificate)" in box.text() and logged in box.text()
        box.button(QMessageBox.StandardButton.Yes).click()
        await until(lambda: controller.dialog is None, timeout=30)
        assert window.windowTitle() == f"Piecemeal — Connected to 127.0.0.1:{daemon.port}"
        assert with_trusted(settings, RemoteAddress("127.0.0.1", daemon.port, tls=True)).fingerprint == logged

        window.actions.local_session.trigger()
        await until(lambda: window.windowTitle() == "Piecemeal")
        trust(settings, RemoteAddress("127.0.0.1", daemon.port, tls=True), "00:" * 31 + "00")
        window.actions.connect.trigger()
        dialog = controller.dialog
        assert (dialog.port_box.value(), dialog.tls_box.isChecked()) == (daemon.port, True), "remembered"
        dialog.connect_button.click()
        await until(message_boxes, timeout=30)
        (box,) = message_boxes()
        assert "not the one trusted before" in box.text() and logged in box.text()
        box.button(QMessageBox.StandardButton.No).click()
        await until(lambda: "was not trusted" in dialog.status_label.text(), timeout=30)
        assert window.windowTitle() == "Piecemeal"
        dialog.reject()


async def test_a_daemon_that_goes_away_is_a_sentence_in_the_status_bar(
    window: MainWindow, controller: ConnectionController, daemon: DaemonProcess,
) -> None:
    window.bridge.start()
    await connect(window, controller, daemon.port)
    assert window.statusBar().currentMessage() == ""
    assert daemon.stop() == 0
    await until(lambda: "Could not reach" in window.statusBar().currentMessage(), timeout=30)
    assert window.statusBar().currentMessage() == (
        f"Could not reach the daemon at 127.0.0.1:{daemon.port}: nothing answers on that port (is the daemon running?).")
    assert window.windowTitle() == f"Piecemeal — Connected to 127.0.0.1:{daemon.port}"
