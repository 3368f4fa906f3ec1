import asyncio
import logging
import socket
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.engine.creator import create_torrent
from app.engine.portmap.status import Mapping, MapState, PortMapStatus
from app.engine.snapshots import SessionSnapshot, StopReason, TorrentState
from app.ui import formatting
from app.ui.app import run_window
from app.ui.app_log import detached_log, recording_level
from app.ui.bridge import EngineBridge
from app.ui.main_window import MainWindow, split_arguments
from app.ui.models.torrents import TorrentColumn
from app.ui.single_instance import InstanceServer
from app.ui.settings import Preferences, load_preferences, remember_choose_magnet_files, save_preferences
from app.ui.state_filter import StateFilter
from tests.ui.helpers import emission, message_boxes, until, write_album, write_torrent


def _drop(window: MainWindow, mime: QMimeData) -> bool:
    enter = QDragEnterEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)
    return True


def _file_mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _state(window: MainWindow, row: int = 0) -> TorrentState:
    return window.model.item(row).state


async def test_a_dropped_torrent_is_added_where_the_dialog_says(window, session, tmp_path):
    torrent_file = write_torrent(tmp_path / "share")
    assert _drop(window, _file_mime(torrent_file))
    dialog = window.add_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.files_model.file_count() == 1
    dialog.save_path_edit.setText(str(tmp_path / "share"))
    window.bridge.start()
    dialog.accept()
    await until(lambda: window.model.rowCount() == 1 and _state(window) == TorrentState.SEEDING)
    (torrent,) = session.snapshot().torrents
    assert Path(torrent.save_path) == tmp_path / "share"
    assert window.settings.value("add/last_save_dir") == str(tmp_path / "share")
    assert not window.empty_hint.isVisible()


async def test_dropping_several_files_queues_one_dialog_each(window, tmp_path):
    first = write_torrent(tmp_path / "a", "one.bin")
    second = write_torrent(tmp_path / "b", "two.bin")
    assert _drop(window, _file_mime(first, second))
    assert window.add_dialog.name_label.text() == "one.bin"
    window.add_dialog.reject()
    await until(lambda: window.add_dialog is not None)
    assert window.add_dialog.name_label.text() == "two.bin"


async def test_a_bad_torrent_is_named_in_a_message_and_nothing_is_added(window, session, tmp_path):
    broken = tmp_path / "broken.torrent"
    broken.write_bytes(b"this is not bencode")
    assert _drop(window, _file_mime(broken))
    (box,) = message_boxes()
    assert "broken.torrent" in box.text()
    assert window.add_dialog is None
    assert session.snapshot().torrents == ()
    box.close()


async def test_a_dropped_magnet_link_is_added_and_waits_for_metadata(window, session):
    link = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Example"
    mime = QMimeData()
    mime.setText(link)
    assert _drop(window, mime)
    await window.bridge.drain()
    (torrent,) = session.snapshot().torrents
    assert torrent.info_hash == "ab" * 20
    assert torrent.state == TorrentState.METADATA


async def test_dropped_magnet_links_follow_the_remembered_choice_of_files(window, session):
    remember_choose_magnet_files(window.settings, True)
    mime = QMimeData()
    mime.setText("magnet:?xt=urn:btih:" + "ab" * 20)
    assert _drop(window, mime)
    await window.bridge.drain()
    assert session.torrents[bytes.fromhex("ab" * 20)].choose_files is True


async def test_a_broken_magnet_link_gets_a_message(window, session):
    window.add_magnet_links(["magnet:?xt=urn:btih:nothex"])
    await window.bridge.drain()
    await until(lambda: message_boxes())
    (box,) = message_boxes()
    assert box.windowTitle() == "Could not add the magnet link"
    assert session.snapshot().torrents == ()
    box.close()


async def test_unticking_a_file_skips_it_in_the_session(window, session, tmp_path):
    folder = tmp_path / "album"
    folder.mkdir()
    (folder / "a.flac").write_bytes(b"a" * 40_000)
    (folder / "b.flac").write_bytes(b"b" * 40_000)
    torrent_file = tmp_path / "album.torrent"
    torrent_file.write_bytes(create_torrent(folder, trackers=()))
    window.add_torrent_files([torrent_file])
    dialog = window.add_dialog
    album = dialog.files_model.index(0, 0)
    b_flac = dialog.files_model.index(1, 0, album)
    assert b_flac.data() == "b.flac"
    dialog.files_model.setData(b_flac, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    dialog.save_path_edit.setText(str(tmp_path / "downloads"))
    dialog.accept()
    await window.bridge.drain()
    (torrent,) = session.snapshot().torrents
    details = session.details(torrent.info_hash)
    assert [(f.path, f.priority) for f in details.files] == [
        ("album/a.flac", 1),
        ("album/b.flac", 0),
    ]
    window.bridge.refresh()
    window.view.selectRow(0)
    window.details.setCurrentWidget(window.details.files)
    window.bridge.refresh()
    tab_album = window.details.file_model.index(0, 0)
    tab_b = window.details.file_model.index(1, 0, tab_album)
    window.details.file_model.setData(tab_b, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    await window.bridge.drain()
    assert [f.priority for f in session.details(torrent.info_hash).files] == [1, 1]


def test_other_drops_are_refused(window, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "holiday.jpg"))])
    assert not _drop(window, mime)


async def test_adding_a_torrent_twice_says_it_is_already_there(window, session, tmp_path):
    torrent_file = write_torrent(tmp_path / "share")
    await session.add_torrent(torrent_file, tmp_path / "share")
    window.add_torrent_files([torrent_file])
    failed = emission(window.bridge.failed)
    window.add_dialog.accept()
    await asyncio.wait_for(failed, 10)
    await until(lambda: message_boxes())
    (box,) = message_boxes()
    assert "already in the list" in box.text()
    box.close()


async def test_pause_and_start_actions_reach_the_session(window, session, tmp_path):
    await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "elsewhere")
    window.bridge.start()
    await until(lambda: window.model.rowCount() == 1 and not window.model.item(0).paused)
    window.view.selectRow(0)
    assert window.actions.pause.isEnabled()
    window.actions.pause.trigger()
    await window.bridge.drain()
    assert session.snapshot().torrents[0].reason == StopReason.USER
    await until(lambda: window.model.item(0).reason == StopReason.USER and window.actions.start.isEnabled())
    window.actions.start.trigger()
    await until(lambda: not session.snapshot().torrents[0].paused)


async def test_remove_asks_first_then_removes(window, session, tmp_path):
    await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share")
    window.bridge.refresh()
    window.view.selectRow(0)
    window.actions.remove.trigger()
    (box,) = message_boxes()
    remove = next(b for b in box.buttons() if b.text() == "Remove")
    remove.click()
    await until(lambda: session.snapshot().torrents == ())
    assert (tmp_path / "share" / "payload.bin").exists()
    window.bridge.refresh()
    assert window.model.rowCount() == 0
    assert window.empty_hint.isVisible()


async def test_sidebar_counts_and_filters(window, session, tmp_path):
    paused = await session.add_torrent(
        write_torrent(tmp_path / "a", "one.bin"), tmp_path / "x", paused=True
    )
    await session.add_torrent(write_torrent(tmp_path / "b", "two.bin"), tmp_path / "b")
    await until(lambda: any(t.state == TorrentState.SEEDING for t in session.snapshot().torrents))
    window.bridge.refresh()
    texts = [window.sidebar.item(row).text() for row in range(window.sidebar.count())]
    assert (
        texts[:2] == ["All (2)", "Downloading (0)"]
        and "Seeding (1)" in texts
        and "Paused (1)" in texts
    )
    window.sidebar.select(StateFilter.PAUSED)
    assert [window.model.item(r).info_hash for r in range(window.model.rowCount())] == [paused]
    window.sidebar.select(StateFilter.ALL)
    window.search_box.setText("two")
    assert [window.model.item(r).name for r in range(window.model.rowCount())] == ["two.bin"]


async def test_a_second_launch_brings_its_files_to_this_window(window, tmp_path, launch):
    server = InstanceServer()
    name = f"piecemeal-test-{id(server)}"
    assert server.listen(name)
    server.arguments_received.connect(window.handle_arguments)
    torrent_file = write_torrent(tmp_path / "share")
    received = emission(server.arguments_received)
    second = launch(name, [str(torrent_file)], tmp_path)
    await asyncio.wait_for(received, 30)
    await until(lambda: second.poll() is not None, timeout=30)
    assert second.returncode == 0
    assert window.add_dialog is not None
    assert window.add_dialog.name_label.text() == "payload.bin"
    server.close()


def test_columns_and_sorting_are_restored(session, tmp_path, qtbot):
    settings = QSettings(str(tmp_path / "restore.ini"), QSettings.Format.IniFormat)
    first = MainWindow(EngineBridge(session), settings)
    qtbot.addWidget(first)
    header = first.view.horizontalHeader()
    header.hideSection(TorrentColumn.ETA)
    header.setSortIndicator(TorrentColumn.SIZE, Qt.SortOrder.DescendingOrder)
    first.sidebar.select(StateFilter.SEEDING)
    first.save_state()
    second = MainWindow(EngineBridge(session), settings)
    qtbot.addWidget(second)
    header = second.view.horizontalHeader()
    assert header.isSectionHidden(TorrentColumn.ETA)
    assert header.sortIndicatorSection() == TorrentColumn.SIZE
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    assert second.sidebar.category() == StateFilter.SEEDING


def test_arguments_split_into_files_and_magnets():
    files, magnets = split_arguments(["/a/b.torrent", "MAGNET:?xt=urn:btih:00", ""])
    assert files == [Path("/a/b.torrent")]
    assert magnets == ["MAGNET:?xt=urn:btih:00"]


def test_message_boxes_do_not_block(window):
    window.show_message("Title", "Words.")
    (box,) = message_boxes()
    assert box.windowModality() != Qt.WindowModality.ApplicationModal or box.isVisible()
    assert box.standardButtons() == QMessageBox.StandardButton.Ok
    box.close()


def _snapshot(dht_nodes: int) -> SessionSnapshot:
    return SessionSnapshot(
        torrents=(), down_rate=0.0, up_rate=0.0, peers=3, dht_nodes=dht_nodes, listen_port=6881
    )


def test_the_status_bar_counts_dht_nodes(window):
    window.show_session(_snapshot(1234))
    assert window.dht_label.isVisible()
    assert window.dht_label.text() == "DHT: 1,234 nodes"


async def test_the_status_bar_shows_the_free_space_of_the_download_folder(window):
    measured = emission(window.bridge.free_space_measured)
    window.show_session(_snapshot(0))  # the first tick looks at the disk
    folder, free = await asyncio.wait_for(measured, 10)
    assert folder == str(window.preferences.download_dir)
    assert window.free_label.text() == f"{formatting.size(free)} free"


def test_the_dht_count_is_hidden_when_dht_is_off(session, settings, tmp_path):
    save_preferences(settings, Preferences(download_dir=tmp_path, enable_dht=False))
    main = MainWindow(EngineBridge(session), settings)
    main.show()
    main.show_session(_snapshot(0))
    assert not main.dht_label.isVisible()
    main.bridge.stop()
    main.close()
    main.deleteLater()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_new_preferences_reach_the_running_session(window, session, tmp_path):
    port = _free_port()
    window._set_preferences(
        Preferences(download_dir=tmp_path, down_limit=64, max_active_downloads=2, listen_port=port)
    )
    await window.bridge.drain()
    assert session.config.down_limit == 64 * 1024
    assert session.config.max_active_downloads == 2
    assert session.listen_port == port


async def test_a_taken_port_gets_a_message_and_the_other_settings_still_apply(
    window, session, tmp_path
):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = session.listen_port
        failed = emission(window.bridge.failed)
        window._set_preferences(Preferences(download_dir=tmp_path, up_limit=32, listen_port=port))
        title, sentence = await asyncio.wait_for(failed, 10)
    assert title == "Could not apply the new preferences"
    assert str(port) in sentence
    assert session.config.up_limit == 32 * 1024
    assert session.listen_port == before
    await until(lambda: message_boxes())
    for box in message_boxes():
        box.close()


async def test_torrent_options_open_from_the_selection(window, session, tmp_path):
    await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share")
    window.bridge.refresh()
    window.view.selectRow(0)
    assert window.options_action.isEnabled()
    window.options_action.trigger()
    dialog = window.options_dialog
    dialog.up_box.setValue(8)
    dialog.accept()
    await window.bridge.drain()
    assert session.torrents[next(iter(session.torrents))].options.up_limit == 8 * 1024
    window.view.selectRow(0)
    window.options_action.trigger()
    assert window.options_dialog.up_box.value() == 8
    window.options_dialog.reject()


async def test_magnet_dialog_adds_the_link_with_its_choices(window, session, tmp_path):
    link = "magnet:?xt=urn:btih:" + "cd" * 20 + "&dn=Example"
    window.actions.add_magnet.trigger()
    dialog = window.magnet_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.link_edit.setText(link)
    dialog.save_path_edit.setText(str(tmp_path / "films"))
    dialog.start_box.setChecked(False)
    dialog.accept()
    await window.bridge.drain()
    (torrent,) = session.snapshot().torrents
    assert (torrent.info_hash, torrent.reason) == ("cd" * 20, StopReason.USER)
    assert Path(torrent.save_path) == tmp_path / "films"
    assert window.magnet_dialog is None


async def test_a_malformed_link_in_the_magnet_dialog_adds_nothing(window, session):
    window.ask_magnet_link()
    window.magnet_dialog.link_edit.setText("magnet:?dn=no-hash")
    window.magnet_dialog.accept()
    await window.bridge.drain()
    assert window.magnet_dialog.error_label.isVisible()
    assert session.snapshot().torrents == ()
    window.magnet_dialog.reject()


async def test_file_choices_come_one_dialog_at_a_time(window, session, tmp_path):
    first = await session.add_torrent(write_album(tmp_path / "one"), tmp_path / "dl", paused=True)
    second = await session.add_torrent(write_album(tmp_path / "two"), tmp_path / "dl", paused=True)
    window.bridge.refresh()
    window.bridge.metadata_received.emit(first, "one", True)
    window.bridge.metadata_received.emit(second, "two", True)
    window.bridge.metadata_received.emit("ef" * 20, "not asked", False)
    assert window.choose_dialog.info_hash == first
    window.choose_dialog.reject()  # "Keep paused"
    dialog = window.choose_dialog
    assert dialog.info_hash == second and dialog.name_label.text() == "two"
    model = dialog.chooser.model
    model.setData(model.index(1, 0, model.index(0, 0)), Qt.CheckState.Unchecked,
                  Qt.ItemDataRole.CheckStateRole)
    dialog.accept()
    assert window.choose_dialog is None
    await window.bridge.drain()
    reasons = {t.info_hash: t.reason for t in session.snapshot().torrents}
    assert reasons[first] == StopReason.USER and reasons[second] is None
    assert [f.priority for f in session.details(second).files] == [1, 0]
    assert [f.priority for f in session.details(first).files] == [1, 1]


async def test_removing_the_torrent_closes_its_file_choice(window, session, tmp_path):
    info_hash = await session.add_torrent(write_album(tmp_path / "one"), tmp_path / "dl", paused=True)
    window.bridge.refresh()
    window.bridge.metadata_received.emit(info_hash, "one", True)
    assert window.choose_dialog is not None
    await session.remove(info_hash)
    window.bridge.refresh()
    assert window.choose_dialog is None


async def test_the_log_level_chosen_in_preferences_applies_at_once(window):
    app_logger = logging.getLogger("app")
    before = app_logger.level
    try:
        window._set_preferences(replace(window.preferences, log_level="DEBUG"))
        await window.bridge.drain()
        assert recording_level() == logging.DEBUG
        assert load_preferences(window.settings).log_level == "DEBUG"
    finally:
        app_logger.setLevel(before)


async def test_a_focused_torrent_opens_selected_with_its_piece_map(session, settings, tmp_path):
    """As `piecemeal --demo` opens: the demo torrent selected, its Pieces tab shown."""
    hidden = await session.add_torrent(write_torrent(tmp_path / "a", "other.bin"), tmp_path / "a")
    focus = await session.add_torrent(
        write_torrent(tmp_path / "b", "demo.bin"), tmp_path / "b", paused=True
    )
    settings.setValue("sidebar/category", StateFilter.SEEDING.name)  # a filter that hides it
    running = asyncio.ensure_future(
        run_window(InstanceServer(), session, "", [], settings, detached_log(), focus=focus)
    )
    await until(lambda: _main_windows(), timeout=10)
    (window,) = _main_windows()
    assert window.selected_hashes() == [focus] and hidden != focus
    assert window.details.currentWidget() is window.details.pieces
    window.request_quit()
    assert await asyncio.wait_for(running, 10) == 0


def _main_windows() -> list[MainWindow]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


async def test_a_web_seed_is_added_from_the_torrents_menu(window, session, tmp_path):
    await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share", paused=True)
    window.bridge.refresh()
    window.view.selectRow(0)
    assert window.actions.add_web_seed.isEnabled()
    window.actions.add_web_seed.trigger()
    window.web_seed_dialog.setTextValue("http://127.0.0.1:8000/pub/")
    window.web_seed_dialog.accept()
    await window.bridge.drain()
    assert next(iter(session.torrents.values())).web_seeds == ("http://127.0.0.1:8000/pub/",)
    assert window.web_seed_dialog is None


async def test_a_web_seed_that_is_not_http_gets_a_message(window, session, tmp_path):
    await session.add_torrent(write_torrent(tmp_path / "share"), tmp_path / "share", paused=True)
    window.bridge.refresh()
    window.view.selectRow(0)
    failed = emission(window.bridge.failed)
    window.actions.add_web_seed.trigger()
    window.web_seed_dialog.setTextValue("ftp://127.0.0.1/pub/")
    window.web_seed_dialog.accept()
    title, sentence = await asyncio.wait_for(failed, 10)
    assert title.startswith("Could not add the web seed to")
    assert sentence == "'ftp://127.0.0.1/pub/' is not an http or https address."
    assert next(iter(session.torrents.values())).web_seeds == ()
    await until(lambda: message_boxes())
    for box in message_boxes():
        box.close()


_OPEN = PortMapStatus(MapState.MAPPED, (Mapping("TCP", 51413, 51413, "UPnP"), Mapping("UDP", 51413, 51413, "UPnP")),
                      "203.0.113.7")


@pytest.mark.parametrize("status, incoming, text", [
    (_OPEN, 0, "Port 51413 open through UPnP (203.0.113.7)"),
    (PortMapStatus(MapState.FAILED, reason="the router did not answer"), 0,
     "No port mapping: the router did not answer"),
    (PortMapStatus(MapState.TRYING), 0, "Asking the router to open the port…"),
    (PortMapStatus(MapState.OFF), 0, "Port mapping is off"),
    (_OPEN, 12, "Reachable: 12 incoming connections (203.0.113.7)"),
])
def test_the_status_bar_says_whether_peers_can_reach_us(window, status, incoming, text):
    window.show_session(replace(_snapshot(0), port_mapping=status, incoming_connections=incoming))
    assert window.reach_label.isVisible()
    assert window.reach_label.text() == text


def test_the_reachability_tooltip_lists_the_open_ports(window):
    window.show_session(replace(_snapshot(0), port_mapping=_OPEN))
    assert window.reach_label.toolTip().splitlines() == [
        "TCP 51413 → 51413 (UPnP)", "UDP 51413 → 51413 (UPnP)", "External address: 203.0.113.7"]


async def test_switching_port_mapping_off_in_preferences_reaches_the_session(window, session, tmp_path):
    window._set_preferences(Preferences(download_dir=tmp_path, listen_host="127.0.0.1", port_mapping=False))
    await window.bridge.drain()
    assert session.config.port_mapping is False
    assert session.snapshot().port_mapping.state == MapState.OFF
