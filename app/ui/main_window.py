"""The main window: torrent list, sidebar, details tabs, menus, toolbar, status bar, tray.

It shows what the bridge reports and sends the user's commands back through it; it never
touches an engine object. Dialogs open with open(), not exec(): a nested event loop
inside a qasync callback would re-enter the asyncio loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import replace
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QInputDialog,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QSystemTrayIcon,
    QTableView,
    QToolBar,
    QWidget,
)

from app.engine.errors import MetainfoError
from app.engine.metainfo import Metainfo, load_metainfo
from app.engine.snapshots import SessionSnapshot, StopReason, TorrentDetails, TorrentSnapshot
from app.ui import formatting
from app.ui.actions import Actions
from app.ui.app_log import AppLog, detached_log, set_level
from app.ui.bridge import EngineBridge
from app.ui.details import DetailsTabs
from app.ui.dialogs.about import show_about
from app.ui.dialogs.add_magnet import AddMagnetDialog
from app.ui.dialogs.add_torrent import AddTorrentDialog
from app.ui.dialogs.choose_files import ChooseFilesDialog
from app.ui.dialogs.create_torrent import CreateTorrentDialog
from app.ui.dialogs.feeds import FeedsDialog
from app.ui.dialogs.preferences import PreferencesDialog
from app.ui.dialogs.torrent_options import GlobalGoals, TorrentOptionsDialog
from app.ui.icons import app_icon
from app.ui.label_filter import LabelCounts, LabelFilter
from app.ui.label_lists import LabelLists
from app.ui.label_menus import LabelMenus
from app.ui.models.torrents import TorrentColumn, TorrentListModel
from app.ui.settings import (
    Preferences,
    changed_settings,
    choose_magnet_files,
    last_save_dir,
    load_preferences,
    save_preferences,
)
from app.ui.sidebar import Sidebar
from app.ui.speed_history import SESSION
from app.ui.state_filter import FilterCounts, StateFilter
from app.ui.torrent_diff import TorrentDiff
from app.ui.tray import TrayIcon
from app.ui.torrent_view import torrent_view

BULK_ADD = 10  # more .torrent files at once than this skip the add dialog (see add_torrent_files)
_FREE_SPACE_EVERY = 10  # ticks between two looks at the disk
_PAUSABLE = frozenset({None, StopReason.QUEUED})  # running, or waiting its turn in the queue


def split_arguments(arguments: Iterable[str]) -> tuple[list[Path], list[str]]:
    """Command-line or dropped items: .torrent paths and magnet links."""
    files: list[Path] = []
    magnets: list[str] = []
    for argument in arguments:
        if argument.lower().startswith("magnet:"):
            magnets.append(argument)
        elif argument:
            files.append(Path(argument))
    return files, magnets


class EmptyHint(QLabel):
    """Centred over an empty list: what to do first, or why nothing shows."""

    def __init__(self, view: QTableView) -> None:
        super().__init__(view.viewport())
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setEnabled(False)  # the palette's disabled text: quiet in light and dark themes
        font = self.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.setFont(font)

    def show_for(self, shown: int, total: int) -> None:
        if shown:
            self.hide()
            return
        self.setText(
            "Drop a .torrent file here\nor choose File → Add torrent file…"
            if total == 0
            else "No torrent matches the filter"
        )
        self.resize(self.parentWidget().size())
        self.show()


class MainWindow(QMainWindow):
    """Signals:
    quit_requested(): the user asked to quit; the app closes the session, then exits.
    """

    quit_requested = Signal()

    def __init__(
        self,
        bridge: EngineBridge,
        settings: QSettings,
        log: AppLog | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.feeds_dialog: FeedsDialog | None = None
        self.settings = settings
        self.log = log or detached_log()
        self.preferences = load_preferences(settings)
        self.web_seed_dialog: QInputDialog | None = None
        self.options_dialog: TorrentOptionsDialog | None = None
        self.actions = Actions(self)
        self.options_action = QAction("Torrent &options…", self)
        self._add_queue: deque[Metainfo] = deque()
        self._add_dialog: AddTorrentDialog | None = None
        self._choose_queue: deque[tuple[str, str]] = deque()  # info-hash, name
        self._choose_dialog: ChooseFilesDialog | None = None
        self.magnet_dialog: AddMagnetDialog | None = None
        self._ticks = 0
        self._quitting = False
        self.setWindowTitle("Piecemeal")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1200, 760)

        self.model = TorrentListModel(self)
        self.counts = FilterCounts()
        self.view = torrent_view(self.model)
        self.empty_hint = EmptyHint(self.view)
        self.sidebar = Sidebar()
        self.label_counts = LabelCounts()
        self.label_lists = LabelLists()
        self.label_menus = LabelMenus(self, bridge, self.selected_torrents)
        self.details = DetailsTabs(self.log)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search by name")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMaximumWidth(260)
        self._build_layout()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self.tray = TrayIcon(self.actions, self)
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray.show()
        self._connect()
        self._restore_state()
        self._update_counts()
        self._selection_changed()

    # Building

    def _build_layout(self) -> None:
        self.list_splitter = QSplitter(Qt.Orientation.Vertical)
        self.list_splitter.addWidget(self.view)
        self.list_splitter.addWidget(self.details)
        self.list_splitter.setStretchFactor(0, 3)
        self.list_splitter.setStretchFactor(1, 2)
        self.list_splitter.setChildrenCollapsible(False)
        self.filter_splitter = QSplitter(Qt.Orientation.Vertical)
        self.filter_splitter.addWidget(self.sidebar)
        self.filter_splitter.addWidget(self.label_lists)
        self.filter_splitter.setChildrenCollapsible(False)
        self.filter_splitter.setStretchFactor(1, 1)
        self.filter_splitter.setSizes([self.sidebar.sizeHintForRow(0) * (self.sidebar.count() + 1), 400])
        self.side_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.side_splitter.addWidget(self.filter_splitter)
        self.side_splitter.addWidget(self.list_splitter)
        self.side_splitter.setStretchFactor(1, 1)
        self.side_splitter.setSizes([170, 930])
        self.side_splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.side_splitter)
        self.setTabOrder(self.sidebar, self.view)
        self.setTabOrder(self.view, self.details)

    def _build_menus(self) -> None:
        a = self.actions
        file_menu = self.menuBar().addMenu("&File")
        for action in (a.add_file, a.add_magnet, a.create):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(a.connect)
        file_menu.addAction(a.local_session)
        file_menu.addSeparator()
        file_menu.addAction(a.quit)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(a.search)
        edit_menu.addSeparator()
        edit_menu.addAction(a.preferences)
        torrent_menu = self.menuBar().addMenu("&Torrent")
        self._add_torrent_actions(torrent_menu)
        torrent_menu.addSeparator()
        torrent_menu.addAction(a.start_all)
        torrent_menu.addAction(a.pause_all)
        tools_menu = self.menuBar().addMenu("T&ools")
        tools_menu.addAction(a.feeds)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(a.about)

    def _add_torrent_actions(self, menu: QMenu) -> None:
        a = self.actions
        for action in (a.start, a.pause, a.recheck):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(a.remove)
        menu.addSeparator()
        for action in (a.open_folder, a.copy_magnet, a.copy_hash):
            menu.addAction(action)
        menu.addSeparator()
        menu.addMenu(self.label_menus.category_menu(menu))
        menu.addMenu(self.label_menus.tags_menu(menu))
        menu.addSeparator()
        menu.addAction(a.add_web_seed)
        menu.addAction(self.options_action)

    def _build_toolbar(self) -> None:
        a = self.actions
        toolbar = QToolBar("Main toolbar")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (a.add_file, a.add_magnet, a.create):
            toolbar.addAction(action)
        toolbar.addSeparator()
        for action in (a.start, a.pause, a.remove):
            toolbar.addAction(action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        toolbar.addWidget(spacer)
        toolbar.addWidget(self.search_box)
        self.addToolBar(toolbar)

    def _build_status_bar(self) -> None:
        self.down_label = QLabel()
        self.up_label = QLabel()
        self.peers_label = QLabel()
        self.free_label = QLabel()
        self.reach_label = QLabel()  # can peers on the internet reach us? (port mapping, incoming)
        self.reach_label.setContentsMargins(0, 0, 12, 0)
        self.statusBar().addPermanentWidget(self.reach_label)
        self.dht_label = QLabel()
        self.blocked_label = QLabel()
        self.blocked_label.setVisible(False)
        self.dht_label.setToolTip("Nodes of the DHT network this client knows")
        self.dht_label.setVisible(self.preferences.enable_dht)
        self.down_label.setToolTip("Download speed")
        self.up_label.setToolTip("Upload speed")
        self.free_label.setToolTip("Free space where new downloads are saved")
        labels = (self.blocked_label, self.free_label, self.dht_label, self.peers_label, self.down_label,
                  self.up_label)
        for label in labels:
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("↓ 999.9 MiB/s") + 8)
            self.statusBar().addPermanentWidget(label)

    def _connect(self) -> None:
        a = self.actions
        a.add_file.triggered.connect(self.choose_torrent_files)
        a.add_magnet.triggered.connect(self.ask_magnet_link)
        a.create.triggered.connect(self.create_torrent)
        a.start.triggered.connect(lambda: self.bridge.resume(self.selected_hashes()))
        a.pause.triggered.connect(lambda: self.bridge.pause(self.selected_hashes()))
        a.recheck.triggered.connect(lambda: self.bridge.recheck(self.selected_hashes()))
        a.remove.triggered.connect(self.confirm_remove)
        a.open_folder.triggered.connect(self.open_folder)
        a.copy_magnet.triggered.connect(self.copy_magnet_links)
        self.options_action.triggered.connect(self.edit_torrent_options)
        a.add_web_seed.triggered.connect(self.ask_web_seed)
        a.copy_hash.triggered.connect(lambda: self._copy("\n".join(self.selected_hashes())))
        a.start_all.triggered.connect(
            lambda: self.bridge.resume(t.info_hash for t in self.bridge.torrents())
        )
        a.pause_all.triggered.connect(
            lambda: self.bridge.pause(t.info_hash for t in self.bridge.torrents())
        )
        a.preferences.triggered.connect(self.edit_preferences)
        a.about.triggered.connect(lambda: show_about(self))
        a.feeds.triggered.connect(self.show_feeds)
        a.quit.triggered.connect(self.request_quit)
        a.search.triggered.connect(self._focus_search)
        a.toggle_window.triggered.connect(self.toggle_visible)
        self.search_box.textChanged.connect(self._search)
        self.sidebar.category_selected.connect(self._filter)
        self.label_lists.filter_changed.connect(self._filter_labels)
        self.label_lists.new_category_requested.connect(lambda: self.label_menus.ask_new_category(then_set=False))
        self.label_lists.remove_category_requested.connect(self.bridge.remove_category)
        self.details.file_actions.told.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.details.file_actions.play_requested.connect(self._play_file)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.view.doubleClicked.connect(lambda _index: self.open_folder())
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.horizontalHeader().customContextMenuRequested.connect(self._header_menu)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._update_empty_hint)
        self.bridge.torrents_changed.connect(self.show_diff)
        self.bridge.session_changed.connect(self.show_session)
        self.bridge.details_changed.connect(self.show_details)
        self.bridge.failed.connect(self.show_message)
        self.bridge.free_space_measured.connect(self._show_free_space)
        self.details.file_model.priorities_changed.connect(self._set_file_priorities)
        self.details.ban_peer.connect(self.ban_peer)
        self.details.peer_address_entered.connect(self.bridge.add_peer)
        # A deleted window has nobody to show snapshots to: stop polling for it.
        self.destroyed.connect(self.bridge.stop)
        self.bridge.torrent_finished.connect(self._notify_finished)
        self.bridge.torrent_errored.connect(self._notify_error)
        self.bridge.notice.connect(self._show_notice)
        self.bridge.metadata_received.connect(self._metadata_received)

    # Showing the engine's state

    def show_diff(self, diff: TorrentDiff) -> None:
        gone = [self.model.get(h) for h in diff.removed] + [
            self.model.get(t.info_hash) for t in diff.changed
        ]
        self.counts.update([t for t in gone if t is not None], diff.added + diff.changed)
        self.label_counts.update([t for t in gone if t is not None], diff.added + diff.changed)
        self.model.apply(diff)
        self._update_counts()
        if self._choose_dialog is not None and self._choose_dialog.info_hash in diff.removed:
            self._choose_dialog.reject()
        selected = self.bridge.selected
        if selected is not None and any(t.info_hash == selected for t in diff.changed):
            self.details.show_torrent(self.bridge.torrent(selected))
        if selected in diff.removed or diff.added:
            self._selection_changed()
        else:
            self._update_actions()

    def show_session(self, snapshot: SessionSnapshot) -> None:
        self.down_label.setText(f"↓ {formatting.rate_or_zero(snapshot.down_rate)}")
        self.up_label.setText(f"↑ {formatting.rate_or_zero(snapshot.up_rate)}")
        self.peers_label.setText(f"{formatting.count(snapshot.peers)} peers")
        self.dht_label.setText(f"DHT: {formatting.count(snapshot.dht_nodes)} nodes")
        self._show_blocked(snapshot)
        self.reach_label.setText(snapshot.reachability)
        self.reach_label.setToolTip(formatting.port_mapping_details(snapshot.port_mapping))
        self.tray.show_snapshot(snapshot)
        self.label_lists.show_labels(snapshot.categories, snapshot.tags, self.label_counts)
        if self._ticks % _FREE_SPACE_EVERY == 0:
            self.bridge.measure_free_space(self.preferences.download_dir)
        self._ticks += 1
        key = self.bridge.selected or SESSION
        history = self.bridge.speed_history
        self.details.show_speeds(history.samples(key, self.bridge.now()), history.window)

    def _show_free_space(self, folder: str, free: int | None) -> None:
        if folder == str(self.preferences.download_dir):  # not an answer about a folder left behind
            self.free_label.setText("" if free is None else f"{formatting.size(free)} free")

    def show_details(self, details: TorrentDetails) -> None:
        self.details.show_details(details)

    def show_message(self, title: str, text: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # Selection

    def selected_hashes(self) -> list[str]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedRows())
        return [self.model.item(row).info_hash for row in rows]

    def selected_torrents(self) -> list[TorrentSnapshot]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedRows())
        return [self.model.item(row) for row in rows]

    def select_torrent(self, info_hash: str) -> None:
        row = self.model.row_of(info_hash)
        if row is not None:
            self.view.selectRow(row)

    def show_pieces_of(self, info_hash: str) -> None:
        """Select the torrent, shown whatever the sidebar filtered, and open its piece map."""
        self.sidebar.select(StateFilter.ALL)
        self.select_torrent(info_hash)
        self.details.setCurrentWidget(self.details.pieces)

    def _selection_changed(self) -> None:
        current = self.view.currentIndex()
        hashes = self.selected_hashes()
        focus = self.model.item(current.row()).info_hash if current.isValid() and hashes else None
        if focus not in hashes:
            focus = hashes[0] if hashes else None
        self.bridge.select(focus)
        self.details.show_torrent(self.bridge.torrent(focus) if focus else None)
        self._update_actions()

    def _update_actions(self) -> None:
        torrents = self.selected_torrents()
        for action in self.actions.selection:
            action.setEnabled(bool(torrents))
        self.actions.start.setEnabled(any(t.reason not in _PAUSABLE for t in torrents))
        self.actions.pause.setEnabled(any(t.reason in _PAUSABLE for t in torrents))
        self.options_action.setEnabled(len(torrents) == 1)
        self.actions.add_web_seed.setEnabled(len(torrents) == 1)
        everything = list(self.bridge.torrents())
        self.actions.start_all.setEnabled(any(t.reason not in _PAUSABLE for t in everything))
        self.actions.pause_all.setEnabled(any(t.reason in _PAUSABLE for t in everything))

    def _update_counts(self) -> None:
        self.sidebar.set_counts(self.counts.counts())
        self._update_empty_hint()

    def _update_empty_hint(self) -> None:
        self.empty_hint.show_for(self.model.rowCount(), len(self.model.all_items()))

    # Adding

    def choose_torrent_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Add torrent files",
            str(self.preferences.download_dir),
            "Torrent files (*.torrent);;All files (*)",
        )
        self.add_torrent_files(Path(p) for p in paths)

    def handle_arguments(self, arguments: Sequence[str]) -> None:
        """Files and links from the command line or a second launch: come forward and add them."""
        self.bring_to_front()
        files, magnets = split_arguments(arguments)
        self.add_torrent_files(files)
        self.add_magnet_links(magnets)

    def add_torrent_files(self, paths: Iterable[Path]) -> None:
        """Read each file; a bad one gets a message naming it, the good ones an add dialog each.

        More than BULK_ADD files at once (a dropped folder of them) are added directly in the
        last folder used, as qBittorrent does with its add dialog off: a dialog each would be
        a chore, and the bridge reads them off the GUI thread so the window stays live.
        """
        paths = list(paths)
        if len(paths) > BULK_ADD:
            self.bridge.add_torrent_files(paths, last_save_dir(self.settings), paused=False)
            return
        problems = []
        for path in paths:
            try:
                self._add_queue.append(load_metainfo(path))
            except MetainfoError as error:
                problems.append(str(error))
        if problems:
            self.show_message("Could not add torrent", "\n".join(problems))
        self._show_next_add_dialog()

    def add_magnet_links(self, links: Sequence[str]) -> None:
        """Dropped or handed-over magnet links start at once, in the last folder used.

        Their file list is only known once the metadata arrives: with the remembered
        "choose files" setting on, each then stops and asks which files to download.
        """
        for link in links:
            self.bridge.add_torrent(
                link,
                last_save_dir(self.settings),
                paused=False,
                title="Could not add the magnet link",
                choose_files=choose_magnet_files(self.settings),
            )

    def ask_magnet_link(self) -> None:
        dialog = AddMagnetDialog(self.settings, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._add_magnet(dialog))
        dialog.finished.connect(lambda _result: setattr(self, "magnet_dialog", None))
        self.magnet_dialog = dialog
        dialog.open()

    def _add_magnet(self, dialog: AddMagnetDialog) -> None:
        request = dialog.request()
        self.bridge.add_torrent(
            request.link,
            request.save_path,
            paused=request.paused,
            title="Could not add the magnet link",
            choose_files=request.choose_files,
        )

    def _metadata_received(self, info_hash: str, name: str, choose_files: bool) -> None:
        if choose_files:
            self._choose_queue.append((info_hash, name))
            self._show_next_choose_dialog()

    def _show_next_choose_dialog(self) -> None:
        while self._choose_dialog is None and self._choose_queue:
            info_hash, name = self._choose_queue.popleft()
            details = self.bridge.details(info_hash)
            if details is None:
                continue  # removed before its turn came
            dialog = ChooseFilesDialog(info_hash, name, details.files, self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.accepted.connect(
                lambda d=dialog: self.bridge.start_with_files(d.info_hash, d.priorities())
            )
            dialog.finished.connect(self._choose_dialog_closed)
            self._choose_dialog = dialog
            dialog.open()

    def _choose_dialog_closed(self) -> None:
        self._choose_dialog = None
        self._show_next_choose_dialog()

    @property
    def choose_dialog(self) -> ChooseFilesDialog | None:
        return self._choose_dialog

    def _show_next_add_dialog(self) -> None:
        if self._add_dialog is not None or not self._add_queue:
            return
        dialog = AddTorrentDialog(
            self._add_queue.popleft(), self.settings, self, self.bridge.snapshot.categories
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._add(dialog))
        dialog.finished.connect(self._add_dialog_closed)
        self._add_dialog = dialog
        dialog.open()

    def _add(self, dialog: AddTorrentDialog) -> None:
        request = dialog.request()
        self.bridge.add_torrent(
            request.metainfo,
            request.save_path,
            paused=request.paused,
            title=f"Could not add “{request.metainfo.name}”",
            priorities=request.priorities,
            category=request.category,
        )

    def _add_dialog_closed(self) -> None:
        self._add_dialog = None
        self._show_next_add_dialog()

    @property
    def add_dialog(self) -> AddTorrentDialog | None:
        return self._add_dialog

    def _set_file_priorities(self, priorities: list[int]) -> None:
        if self.bridge.selected is not None:
            self.bridge.set_file_priorities(self.bridge.selected, priorities)

    def _play_file(self, file_index: int) -> None:
        """Stream the file to the default player; a failure is shown by the bridge."""
        if self.bridge.selected is None:
            return
        future = self.bridge.stream_url(self.bridge.selected, file_index)
        future.add_done_callback(self._open_stream)

    def _open_stream(self, done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is None:
            self.details.file_actions.open_stream(done.result())

    def create_torrent(self) -> None:
        dialog = CreateTorrentDialog(self._seed_created, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _seed_created(self, data: bytes, save_path: Path) -> None:
        self.bridge.add_torrent(
            data, save_path, paused=False, title="Could not seed the new torrent"
        )

    # Other commands

    def confirm_remove(self) -> None:
        torrents = self.selected_torrents()
        if not torrents:
            return
        what = f"“{torrents[0].name}”" if len(torrents) == 1 else f"these {len(torrents)} torrents"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove torrents",
            f"Remove {what} from the list?",
            parent=self,
        )
        box.setInformativeText("The downloaded files stay on disk unless you delete them too.")
        keep = box.addButton("Remove", QMessageBox.ButtonRole.AcceptRole)
        delete = box.addButton("Remove and delete files", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        hashes = [t.info_hash for t in torrents]

        def answered(button: object) -> None:
            if button in (keep, delete):
                self.bridge.remove(hashes, delete_files=button is delete)

        box.buttonClicked.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def open_folder(self) -> None:
        for torrent in self.selected_torrents()[:1]:
            folder = Path(torrent.save_path)
            inner = folder / torrent.name
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(inner if inner.is_dir() else folder)))

    def copy_magnet_links(self) -> None:
        self._copy("\n".join(self.bridge.magnet_uri(h) for h in self.selected_hashes()))

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage("Copied to the clipboard", 3000)

    def _show_blocked(self, snapshot: SessionSnapshot) -> None:
        shown = bool(snapshot.ip_filter or snapshot.blocked_connections or self.preferences.banned_peers)
        self.blocked_label.setVisible(shown)
        self.blocked_label.setText(f"Blocked: {formatting.count(snapshot.blocked_connections)}")
        self.blocked_label.setToolTip(
            "Connections refused by the IP filter and bans. " + (snapshot.ip_filter or "No block list loaded.")
        )

    def ban_peer(self, host: str) -> None:
        """Disconnect `host` and refuse it from now on (kept in the preferences: they can undo it)."""
        if host not in self.preferences.banned_peers:
            self._set_preferences(replace(self.preferences, banned_peers=(*self.preferences.banned_peers, host)))
        self.statusBar().showMessage(f"Banned {host}", 3000)

    def load_ip_filter(self, path: str) -> None:
        """Read the block list now: a new path is kept as the preference, the same one read again."""
        if path != self.preferences.ip_filter_path:
            self._set_preferences(replace(self.preferences, ip_filter_path=path))
        else:
            self.bridge.reload_ip_filter()
    def show_feeds(self) -> None:
        """One Feeds window, raised if it is already open."""
        if self.feeds_dialog is None:
            self.feeds_dialog = FeedsDialog(self.bridge, self)
        self.feeds_dialog.show()
        self.feeds_dialog.raise_()

    def edit_preferences(self) -> None:
        dialog = PreferencesDialog(self.preferences, self, log_file=self.log.path)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.reload_ip_filter.connect(self.load_ip_filter)
        dialog.accepted.connect(lambda: self._set_preferences(dialog.preferences()))
        dialog.open()

    def _set_preferences(self, preferences: Preferences) -> None:
        """Keep the new preferences and hand the session the settings that changed."""
        before, self.preferences = self.preferences, preferences
        save_preferences(self.settings, preferences)
        self._ticks = 0
        self.dht_label.setVisible(preferences.enable_dht)
        if preferences.log_level != before.log_level:
            set_level(preferences.log_level)
        self.bridge.apply_settings(changed_settings(before, preferences))

    def edit_torrent_options(self) -> None:
        hashes = self.selected_hashes()
        if len(hashes) != 1:
            return
        goals = GlobalGoals(self.preferences.seed_ratio_limit, self.preferences.seed_time_limit)
        dialog = TorrentOptionsDialog(self.bridge, hashes[0], goals, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _result: setattr(self, "options_dialog", None))
        self.options_dialog = dialog
        dialog.open()

    def ask_web_seed(self) -> None:
        """BEP 19: the URL of the torrent's file, or of the folder that holds its folder."""
        hashes = self.selected_hashes()
        if len(hashes) != 1:
            return
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Add web seed")
        dialog.setLabelText(
            "Web address (http or https) of the file, or of the folder that holds\n"
            "the torrent's folder, ending in '/':"
        )
        dialog.setTextValue("https://")
        dialog.resize(520, dialog.sizeHint().height())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda url: self.bridge.add_web_seed(hashes[0], url))
        dialog.finished.connect(lambda _result: setattr(self, "web_seed_dialog", None))
        self.web_seed_dialog = dialog
        dialog.open()

    def _search(self, text: str) -> None:
        self.model.set_search_text(text)
        self._update_empty_hint()

    def _filter(self, category: StateFilter) -> None:
        self.model.set_category(category)
        self._update_empty_hint()

    def _filter_labels(self, chosen: LabelFilter) -> None:
        self.model.set_label_filter(chosen)
        self._update_empty_hint()

    def _notify_finished(self, _info_hash: str, name: str) -> None:
        if self.preferences.notify_finished:
            self.tray.notify_finished(name)

    def _notify_error(self, info_hash: str, message: str) -> None:
        self._selection_changed()
        torrent = self.bridge.torrent(info_hash)
        if self.preferences.notify_errors:
            self.tray.notify_error(torrent.name if torrent else info_hash, message)

    def _show_notice(self, message: str) -> None:
        """The engine's words for the user (a watched folder's file): the status bar and the tray."""
        self.statusBar().showMessage(message, 15000)
        self.tray.notify("Piecemeal", message, QSystemTrayIcon.MessageIcon.Warning)

    def _focus_search(self) -> None:
        self.search_box.setFocus()
        self.search_box.selectAll()

    def _context_menu(self, point: QPoint) -> None:
        if not self.view.indexAt(point).isValid():
            menu = QMenu(self)
            menu.addAction(self.actions.add_file)
            menu.addAction(self.actions.create)
        else:
            menu = QMenu(self)
            self._add_torrent_actions(menu)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.view.viewport().mapToGlobal(point))

    def _header_menu(self, point: QPoint) -> None:
        header = self.view.horizontalHeader()
        menu = QMenu(self)
        for column in TorrentColumn:
            if column == TorrentColumn.NAME:
                continue
            action = menu.addAction(self.model.headerData(column, Qt.Orientation.Horizontal))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(lambda shown, c=column: header.setSectionHidden(c, not shown))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(header.mapToGlobal(point))

    # Window life

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(
            (self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
        )
        self.raise_()
        self.activateWindow()

    def toggle_visible(self) -> None:
        if self.isVisible() and not self.isMinimized():
            self.hide()
        else:
            self.bring_to_front()

    def request_quit(self) -> None:
        if not self._quitting:
            self._quitting = True
            self.save_state()
            self.tray.hide()
            self.hide()
            self.quit_requested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.preferences.close_to_tray and self.tray.isVisible() and not self._quitting:
            self.save_state()
            self.hide()
            event.ignore()
            return
        event.accept()
        self.request_quit()

    # Drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        files, magnets = self._dropped(event)
        if files or magnets:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files, magnets = self._dropped(event)
        if not (files or magnets):
            return
        event.acceptProposedAction()
        self.add_torrent_files(files)
        self.add_magnet_links(magnets)

    @staticmethod
    def _dropped(event: QDragEnterEvent | QDropEvent) -> tuple[list[Path], list[str]]:
        mime = event.mimeData()
        files = [
            Path(url.toLocalFile())
            for url in mime.urls()
            if url.isLocalFile() and url.toLocalFile().lower().endswith(".torrent")
        ]
        magnets = [url.toString() for url in mime.urls() if url.scheme() == "magnet"]
        if mime.hasText():
            magnets += [
                line.strip()
                for line in mime.text().splitlines()
                if line.strip().lower().startswith("magnet:")
            ]
        return files, list(dict.fromkeys(magnets))

    # Settings

    def save_state(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/header", self.view.horizontalHeader().saveState())
        s.setValue("window/side_splitter", self.side_splitter.saveState())
        s.setValue("window/list_splitter", self.list_splitter.saveState())
        self.sidebar.save_state(s)
        self.label_lists.save_state(s)
        s.setValue("window/filter_splitter", self.filter_splitter.saveState())
        self.details.save_state(s)
        s.sync()

    def _restore_state(self) -> None:
        s = self.settings
        for key, restore in (
            ("window/geometry", self.restoreGeometry),
            ("window/state", self.restoreState),
            ("window/header", self.view.horizontalHeader().restoreState),
            ("window/side_splitter", self.side_splitter.restoreState),
            ("window/list_splitter", self.list_splitter.restoreState),
            ("window/filter_splitter", self.filter_splitter.restoreState),
        ):
            value = s.value(key)
            if value is not None:
                restore(value)
        self.sidebar.restore_state(s)
        self.label_lists.restore_state(s)
        self.details.restore_state(s)
        # Sorting follows the restored header: the view asks the model to sort by its indicator.
        self.view.setSortingEnabled(True)
