"""The details of the selected torrent: General, Trackers, Peers, Files, Pieces and Speed tabs,
and the app's Log.

Only the visible tab is refreshed at each tick; switching tabs fills it from the last details.
The Log tab reads the log on its own timer, whatever is selected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMenu,
    QScrollArea,
    QTableView,
    QTabWidget,
    QTreeView,
    QWidget,
)

from app.engine.snapshots import TorrentDetails, TorrentSnapshot
from app.ui import formatting
from app.ui.app_log import AppLog
from app.ui.file_actions import FileActions
from app.ui.models.files import NAME, PROGRESS, FileModel
from app.ui.models.peers import PeerModel
from app.ui.models.trackers import TrackerModel
from app.ui.speed_history import SpeedSample
from app.ui.widgets.log_panel import LogPanel
from app.ui.widgets.piece_panel import PiecePanel
from app.ui.widgets.progress_delegate import ProgressDelegate
from app.ui.widgets.speed_graph import SpeedGraph

_GENERAL_FIELDS = (
    "Name",
    "Status",
    "Why this speed",
    "Save path",
    "Category",
    "Tags",
    "Format",
    "Info-hash",
    "Info-hash v2",
    "Size",
    "Pieces",
    "Availability",
    "Downloaded",
    "Uploaded",
    "Ratio",
    "Time active",
    "Connections",
    "Comment",
    "Error",
)


# rows shown only when they say something
_OPTIONAL_FIELDS = ("Why this speed", "Category", "Tags", "Format", "Info-hash v2", "Comment", "Error")
_FORMATS = {"v1": "v1", "v2": "v2 (BitTorrent v2 only)", "hybrid": "hybrid (v1 and v2)"}


def distributed_copies(availability: bytes) -> float | None:
    """How many full copies connected peers hold: the rarest count plus the share above it."""
    if not availability:
        return None
    rarest = min(availability)
    return rarest + (len(availability) - availability.count(rarest)) / len(availability)


def general_fields(torrent: TorrentSnapshot, details: TorrentDetails | None) -> dict[str, str]:
    copies = distributed_copies(details.availability) if details else None
    return {
        "Name": torrent.name,
        "Status": torrent.status_text,
        "Why this speed": why_text(details),
        "Save path": torrent.save_path,
        "Category": torrent.category,
        "Tags": ", ".join(torrent.tags),
        "Format": _FORMATS.get(details.format, details.format) if details else "",
        "Info-hash": _info_hash_v1(torrent, details),
        "Info-hash v2": details.info_hash_v2 if details else "",
        "Size": size_text(torrent),
        "Pieces": formatting.pieces_text(torrent.num_pieces, torrent.piece_length),
        "Availability": "" if copies is None else f"{copies:.2f} copies among connected peers",
        "Downloaded": formatting.size(torrent.downloaded),
        "Uploaded": formatting.size(torrent.uploaded),
        "Ratio": formatting.ratio(torrent.ratio),
        "Time active": _time_active(details),
        "Connections": _connections(torrent.seeds, torrent.peers),
        "Comment": _comment(details),
        "Error": torrent.error,
    }


def why_text(details: TorrentDetails | None) -> str:
    """What limits the speed, the strongest first: one numbered cause a line, with its advice."""
    if details is None:
        return ""
    return "\n".join(f"{n}. {cause.short}. {cause.advice}." for n, cause in enumerate(details.causes, 1))


def size_text(torrent: TorrentSnapshot) -> str:
    """Verified of wanted bytes, as the progress counts them; the total when files are skipped."""
    verified = formatting.size(torrent.verified_bytes)
    wanted = formatting.size(torrent.wanted_size)
    progress = formatting.percent(torrent.progress)
    if torrent.wanted_size == torrent.total_size:
        return f"{verified} verified of {wanted} ({progress})"
    # verified_bytes counts skipped files too (pieces they share with chosen ones): not here.
    chosen_done = formatting.size(round(torrent.progress * torrent.wanted_size))
    total = formatting.size(torrent.total_size)
    return f"{chosen_done} verified of {wanted} chosen ({progress}) · {total} in all"


def _time_active(details: TorrentDetails | None) -> str:
    if details is None:
        return ""
    active = formatting.duration(details.time_active)
    return f"{active} (seeding {formatting.duration(details.seeding_time)})" if details.seeding_time else active


def _connections(seeds: int, peers: int) -> str:
    return f"{seeds} seed{'' if seeds == 1 else 's'}, {peers} peer{'' if peers == 1 else 's'}"


def _info_hash_v1(torrent: TorrentSnapshot, details: TorrentDetails | None) -> str:
    """BEP 52: a v2-only torrent has no v1 hash; its id is the v2 hash cut to 20 bytes."""
    if details is not None and details.info_hash_v2 and not details.info_hash_v1:
        return "none: a v2-only torrent"
    return torrent.info_hash


def _comment(details: TorrentDetails | None) -> str:
    if details is None:
        return ""
    return f"{details.comment} (private torrent)".strip() if details.private else details.comment


class GeneralTab(QScrollArea):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        body = QWidget()
        form = QFormLayout(body)
        self._form = form
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.values: dict[str, QLabel] = {}
        for field in _GENERAL_FIELDS:
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setTextFormat(Qt.TextFormat.PlainText)
            form.addRow(f"{field}:", value)
            self.values[field] = value
        self.values["Error"].setStyleSheet("color: #d9534f")
        self.setWidget(body)

    def show_torrent(self, torrent: TorrentSnapshot | None, details: TorrentDetails | None) -> None:
        fields = general_fields(torrent, details) if torrent else dict.fromkeys(_GENERAL_FIELDS, "")
        for field, text in fields.items():
            self.values[field].setText(text)
        for optional in _OPTIONAL_FIELDS:
            self._form.setRowVisible(self.values[optional], bool(fields[optional]))


_TRACKER_WIDTHS = (320, 56, 90, 70, 70, 110, 110)
_PEER_WIDTHS = (170, 170, 70, 110, 100, 100, 100, 100)


def _table(
    model: PeerModel | TrackerModel,
    widths: Sequence[int],
    sort: tuple[int, Qt.SortOrder],
    stretch: int,
    progress_column: int | None = None,
) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    for column, width in enumerate(widths):
        view.horizontalHeader().resizeSection(column, width)
    view.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    view.horizontalHeader().setSortIndicator(*sort)
    if progress_column is not None:
        view.setItemDelegateForColumn(progress_column, ProgressDelegate(view))
    return view


def peer_host(address: str) -> str:
    """The host of a peer's "1.2.3.4:6881" or "[::1]:6881"."""
    host = address.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host


class DetailsTabs(QTabWidget):
    """Signals:
        ban_peer(host): the user bans a peer from the Peers tab.
        peer_address_entered(info_hash, address): "Add peer…" in the Peers tab's menu.
    """

    ban_peer = Signal(str)
    peer_address_entered = Signal(str, str)

    def __init__(self, log: AppLog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.general = GeneralTab()
        self.tracker_model = TrackerModel(self)
        self.peer_model = PeerModel(self)
        self.file_model = FileModel(self)
        self.trackers = _table(
            self.tracker_model, _TRACKER_WIDTHS, (1, Qt.SortOrder.AscendingOrder), stretch=7
        )
        self.peers = _table(
            self.peer_model,
            _PEER_WIDTHS,
            (4, Qt.SortOrder.DescendingOrder),
            stretch=1,
            progress_column=3,
        )
        self.add_peer_action = QAction("Add peer…", self.peers)
        self.add_peer_action.setEnabled(False)
        self.add_peer_action.triggered.connect(self.ask_peer_address)
        self.peers.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.peers.customContextMenuRequested.connect(self._peer_menu)
        self.files = QTreeView()
        self.files.setModel(self.file_model)
        self.files.setUniformRowHeights(True)
        self.files.setAlternatingRowColors(True)
        self.files.setItemDelegateForColumn(PROGRESS, ProgressDelegate(self.files))
        self.files.header().setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.files.header().setStretchLastSection(False)
        self.file_model.modelReset.connect(lambda: self.files.expandToDepth(0))
        self.file_actions = FileActions(self.files, self.file_model, lambda: self._torrent)
        self.pieces = PiecePanel()
        self.speed = SpeedGraph()
        self.log = LogPanel(log)
        for widget, title in (
            (self.general, "General"),
            (self.trackers, "Trackers"),
            (self.peers, "Peers"),
            (self.files, "Files"),
            (self.pieces, "Pieces"),
            (self.speed, "Speed"),
            (self.log, "Log"),
        ):
            self.addTab(widget, title)
        self._torrent: TorrentSnapshot | None = None
        self._details: TorrentDetails | None = None
        self._fillers: dict[QWidget, Callable[[], None]] = {
            self.general: lambda: self.general.show_torrent(self._torrent, self._details),
            self.trackers: lambda: self.tracker_model.set_items(
                self._torrent.trackers if self._torrent else ()
            ),
            self.peers: lambda: self.peer_model.set_items(
                self._details.peers if self._details else ()
            ),
            self.files: self._fill_files,
            self.pieces: lambda: self.pieces.show_torrent(self._torrent, self._details),
        }
        self.currentChanged.connect(lambda _index: self._fill())

    def show_torrent(self, torrent: TorrentSnapshot | None) -> None:
        """The selected torrent's latest snapshot, or None when nothing is selected."""
        if torrent is None or self._torrent is None or torrent.info_hash != self._torrent.info_hash:
            self._details = None
        self._torrent = torrent
        self.add_peer_action.setEnabled(torrent is not None)
        self._fill()

    def ask_peer_address(self) -> None:
        """Ask for a peer's address; the engine checks it (and says so if it is bad)."""
        if self._torrent is None:
            return
        text, ok = QInputDialog.getText(
            self, "Add peer", "Connect to the peer at (for example 192.0.2.7:6881 or [2001:db8::7]:6881):"
        )
        if ok and text.strip():
            self.peer_address_entered.emit(self._torrent.info_hash, text.strip())

    def show_details(self, details: TorrentDetails) -> None:
        if self._torrent is not None and details.info_hash == self._torrent.info_hash:
            self._details = details
            self._fill()

    def show_speeds(self, samples: Sequence[SpeedSample], window: float) -> None:
        if self.currentWidget() is self.speed:
            self.speed.set_samples(samples, window)

    def save_state(self, settings: QSettings) -> None:
        settings.setValue("details/tab", self.currentIndex())
        settings.setValue("details/show_availability", self.pieces.availability_toggle.isChecked())
        self.log.save_state(settings)

    def restore_state(self, settings: QSettings) -> None:
        self.setCurrentIndex(int(settings.value("details/tab", 0)))  # type: ignore[arg-type]
        show = str(settings.value("details/show_availability", "false")).lower() == "true"
        self.pieces.availability_toggle.setChecked(show)
        self.log.restore_state(settings)

    def _peer_menu(self, position: QPoint) -> None:
        index = self.peers.indexAt(position)
        address = self.peer_model.items()[index.row()].address if index.isValid() else None
        self.peer_menu(address).popup(self.peers.viewport().mapToGlobal(position))

    def peer_menu(self, address: str | None) -> QMenu:
        """The Peers tab's context menu: for the peer at `address` (None: no peer under the
        mouse), and "Add peer…"."""
        menu = QMenu(self.peers)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if address is not None:
            host = peer_host(address)
            ban = menu.addAction("Ban peer")
            ban.setToolTip(f"Disconnect {host} and refuse it from now on")
            ban.triggered.connect(lambda: self.ban_peer.emit(host))
            menu.addSeparator()
        menu.addAction(self.add_peer_action)
        return menu

    def _fill(self) -> None:
        filler = self._fillers.get(self.currentWidget())
        if filler is not None:
            filler()

    def _fill_files(self) -> None:
        self.file_model.set_files(self._details.files if self._details else ())
