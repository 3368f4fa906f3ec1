"""Preferences: folders and tray, connection, speed, queue, privacy, disk and log, one tab each.

Every setting reaches the running session at once (Session.set_config), the listening
address and port too: a port that is taken gets a message and the old one stays.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.sockets import ANY_HOSTS
from app.ui import formatting
from app.ui.app_log import BACKUPS, LEVELS, MAX_BYTES
from app.ui.dialogs.parts import folder_row, group_box, speed_limit_box, spin_box
from app.ui.settings import Preferences

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# SessionConfig.transport values and how the Connection tab names them.
TRANSPORT_CHOICES = (
    ("both", "TCP first, then uTP"),
    ("utp-first", "uTP first, then TCP"),
    ("tcp", "TCP only"),
    ("utp", "uTP only"),
)
# The encryption choices as other clients word them, and the engine's names for them.
ENCRYPTION_CHOICES = (
    ("Allow encryption", "allow"),
    ("Require encryption", "require"),
    ("Disable encryption", "disable"),
)
LEVEL_CHOICES = {
    "ERROR": "Errors only",
    "WARNING": "Warnings and errors",
    "INFO": "Information, warnings and errors",
    "DEBUG": "Everything, for debugging",
}


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setEnabled(False)  # the palette's quiet text colour
    return label


def _minutes(time: QTime) -> int:
    return time.hour() * 60 + time.minute()


class PreferencesDialog(QDialog):
    """Signals: reload_ip_filter(path) (the user asked to read the block list file now)."""

    reload_ip_filter = Signal(str)

    def __init__(
        self, preferences: Preferences, parent: QWidget | None = None, log_file: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.resize(560, 0)
        self._base = preferences
        tabs = QTabWidget()
        tabs.addTab(self._general_tab(preferences), "General")
        tabs.addTab(self._connection_tab(preferences), "Connection")
        tabs.addTab(self._speed_tab(preferences), "Speed")
        tabs.addTab(self._queue_tab(preferences), "Queue")
        tabs.addTab(self._privacy_tab(preferences), "Privacy")
        tabs.addTab(self._disk_tab(preferences), "Disk")
        tabs.addTab(self._log_tab(preferences, log_file), "Log")
        self.tabs = tabs
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    # Tabs

    def _general_tab(self, p: Preferences) -> QWidget:
        self.download_dir_edit = QLineEdit(str(p.download_dir))
        self.close_to_tray_box = QCheckBox("Closing the window keeps Piecemeal running in the tray")
        self.close_to_tray_box.setChecked(p.close_to_tray)
        form = QFormLayout()
        form.addRow("Download folder:", folder_row(self.download_dir_edit, "Download folder"))
        form.addRow("", self.close_to_tray_box)
        return self._page(form, self._watch_group(p), self._completion_group(p))

    def _watch_group(self, p: Preferences) -> QGroupBox:
        self.watch_dir_edit = QLineEdit(p.watch_dir)
        self.watch_dir_edit.setPlaceholderText("None")
        self.watch_delete_box = QCheckBox("Delete the .torrent file once added (else move it to “added”)")
        self.watch_delete_box.setChecked(p.watch_delete)
        form = QFormLayout()
        form.addRow("Watch folder:", folder_row(self.watch_dir_edit, "Folder to watch for .torrent files"))
        form.addRow("", self.watch_delete_box)
        form.addRow(_note("A .torrent file put in this folder is added and saved in the download folder. "
                          "One that cannot be read is moved to “failed”."))
        return group_box("Watched folder", form)

    def _completion_group(self, p: Preferences) -> QGroupBox:
        self.notify_finished_box = QCheckBox("Show a message when a download completes")
        self.notify_finished_box.setChecked(p.notify_finished)
        self.notify_errors_box = QCheckBox("Show a message when a download stops on an error")
        self.notify_errors_box.setChecked(p.notify_errors)
        self.program_edit = QLineEdit(p.on_complete_program)
        self.program_edit.setPlaceholderText("e.g. notify-send \"%N is done\"")
        form = QFormLayout()
        form.addRow(self.notify_finished_box)
        form.addRow(self.notify_errors_box)
        form.addRow("Run on completion:", self.program_edit)
        self.program_edit.setToolTip("%N name, %F content path, %D save path, %I info-hash, "
                                     "%L category, %G tags, %Z size in bytes")
        form.addRow(_note("%N name, %F content, %D save path, %I info-hash; no shell runs it."))
        return group_box("When a download completes", form)

    def _connection_tab(self, p: Preferences) -> QWidget:
        self.port_box = spin_box(p.listen_port, 65535, none="Any free port")
        self.host_edit = QLineEdit("" if p.listen_host in ANY_HOSTS else p.listen_host)
        self.host_edit.setPlaceholderText("Any address, IPv4 and IPv6")
        self.host_edit.setToolTip(
            "Empty listens everywhere, over IPv4 and IPv6; an IPv4 address speaks IPv4 only, an IPv6"
            " address (like 2001:db8::7) IPv6 only; a VPN's address keeps all traffic on it"
        )
        self.max_peers_box = spin_box(p.max_peers, 5000)
        self.max_peers_per_torrent_box = spin_box(p.max_peers_per_torrent, 1000)
        self.transport_box = QComboBox()
        for value, label in TRANSPORT_CHOICES:
            self.transport_box.addItem(label, value)
        self.transport_box.setCurrentIndex(max(0, self.transport_box.findData(p.transport)))
        self.transport_box.setToolTip(
            "uTP (BEP 29) gives way to your other traffic when the line is busy, but costs more CPU than"
            " TCP here: TCP is tried first unless you choose uTP first. Peers may connect to you over"
            " either unless you choose TCP only")
        self.port_mapping_box = QCheckBox("Map the port with UPnP / NAT-PMP")
        self.port_mapping_box.setChecked(p.port_mapping)
        self.port_mapping_box.setToolTip(
            "Ask the router to open the listening port, so that peers on the internet can connect")
        listening = QFormLayout()
        listening.addRow("Listening port:", self.port_box)
        listening.addRow("", self.port_mapping_box)
        listening.addRow("Bind to address:", self.host_edit)
        peers = QFormLayout()
        peers.addRow("Peers in all:", self.max_peers_box)
        peers.addRow("Peers per torrent:", self.max_peers_per_torrent_box)
        peers.addRow("Connect over:", self.transport_box)
        peers.addRow("Encryption:", self._encryption_box(p.encryption))
        return self._page(
            group_box("Listening", listening),
            group_box("Connections", peers),
            _note("Allow: encrypted connections first, plain ones when a peer has no encryption. "
                  "Require: encrypted peers only (fewer peers). Disable: plain connections only."),
        )

    def _encryption_box(self, current: str) -> QComboBox:
        self.encryption_box = QComboBox()
        for label, value in ENCRYPTION_CHOICES:
            self.encryption_box.addItem(label, value)
        self.encryption_box.setCurrentIndex(max(0, self.encryption_box.findData(current)))
        self.encryption_box.setToolTip("Message Stream Encryption (RC4), as other BitTorrent clients use it")
        return self.encryption_box

    def _speed_tab(self, p: Preferences) -> QWidget:
        self.down_limit_box = speed_limit_box(p.down_limit)
        self.up_limit_box = speed_limit_box(p.up_limit)
        self.alt_down_limit_box = speed_limit_box(p.alt_down_limit)
        self.alt_up_limit_box = speed_limit_box(p.alt_up_limit)
        self.alt_on_box = QCheckBox("Use the alternative limits now")
        self.alt_on_box.setChecked(p.alt_limits_on)
        normal = QFormLayout()
        normal.addRow("Download:", self.down_limit_box)
        normal.addRow("Upload:", self.up_limit_box)
        alternative = QFormLayout()
        alternative.addRow("Download:", self.alt_down_limit_box)
        alternative.addRow("Upload:", self.alt_up_limit_box)
        alternative.addRow("", self.alt_on_box)
        return self._page(
            group_box("Global limits", normal),
            group_box("Alternative limits", alternative),
            self._schedule_group(p),
        )

    def _schedule_group(self, p: Preferences) -> QGroupBox:
        self.schedule_box = QGroupBox("Use the alternative limits on a schedule")
        self.schedule_box.setCheckable(True)
        self.schedule_box.setChecked(p.alt_schedule_on)
        self.start_edit = QTimeEdit(QTime(p.alt_start_minute // 60, p.alt_start_minute % 60))
        self.end_edit = QTimeEdit(QTime(p.alt_end_minute // 60, p.alt_end_minute % 60))
        for edit in (self.start_edit, self.end_edit):
            edit.setDisplayFormat("HH:mm")
        times = QHBoxLayout()
        for widget in (QLabel("From"), self.start_edit, QLabel("to"), self.end_edit):
            times.addWidget(widget)
        times.addStretch()
        self.day_boxes = [QCheckBox(name) for name in DAY_NAMES]
        days = QHBoxLayout()
        for number, box in enumerate(self.day_boxes):
            box.setChecked(number in p.alt_days)
            days.addWidget(box)
        days.addStretch()
        layout = QVBoxLayout(self.schedule_box)
        layout.addLayout(times)
        layout.addLayout(days)
        return self.schedule_box

    def _queue_tab(self, p: Preferences) -> QWidget:
        self.max_downloads_box = spin_box(p.max_active_downloads, 1000, none="No limit")
        self.max_seeds_box = spin_box(p.max_active_seeds, 1000, none="No limit")
        self.ratio_box = QDoubleSpinBox()
        self.ratio_box.setRange(0.0, 100.0)
        self.ratio_box.setSingleStep(0.1)
        self.ratio_box.setSpecialValueText("Never")
        self.ratio_box.setValue(p.seed_ratio_limit)
        self.seed_time_box = spin_box(p.seed_time_limit, 525_600, " min", "Never")
        active = QFormLayout()
        active.addRow("Active downloads:", self.max_downloads_box)
        active.addRow("Active seeds:", self.max_seeds_box)
        seeding = QFormLayout()
        seeding.addRow("Stop at ratio:", self.ratio_box)
        seeding.addRow("Stop after:", self.seed_time_box)
        return self._page(
            group_box("Queue", active),
            group_box("Seeding", seeding),
            _note("More torrents than these wait in the queue."),
        )

    def _privacy_tab(self, p: Preferences) -> QWidget:
        self.dht_box = QCheckBox("DHT: find peers without a tracker")
        self.pex_box = QCheckBox("Peer exchange: learn peers from other peers")
        self.lsd_box = QCheckBox("Local peer discovery: find peers on this network")
        layout = QVBoxLayout()
        for box, on in ((self.dht_box, p.enable_dht), (self.pex_box, p.enable_pex), (self.lsd_box, p.enable_lsd)):
            box.setChecked(on)
            layout.addWidget(box)
        layout.addWidget(_note("Private torrents never use these."))
        return self._page(group_box("Finding peers", layout), group_box("IP filter", self._filter_form(p)))

    def _filter_form(self, p: Preferences) -> QFormLayout:
        self.ip_filter_edit = QLineEdit(p.ip_filter_path)
        self.ip_filter_edit.setPlaceholderText("No block list")
        browse, reload = QPushButton("Browse…"), QPushButton("Reload")
        browse.clicked.connect(self._pick_filter)
        reload.setToolTip("Read the block list file again, as it is now")
        reload.clicked.connect(lambda: self.reload_ip_filter.emit(self.ip_filter_edit.text().strip()))
        row = QHBoxLayout()
        for widget in (self.ip_filter_edit, browse, reload):
            row.addWidget(widget, widget is self.ip_filter_edit)
        self.banned_edit = QLineEdit(", ".join(p.banned_peers))
        self.banned_edit.setPlaceholderText("None")
        form = QFormLayout()
        form.addRow("Block list:", row)
        form.addRow("", _note("An eMule .dat or PeerGuardian .p2p file, plain or gzipped. "
                              "Peers in it are refused, both ways."))
        form.addRow("Banned peers:", self.banned_edit)
        return form

    def _pick_filter(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "IP filter", self.ip_filter_edit.text(), "Block lists (*.dat *.p2p *.gz *.txt);;All files (*)"
        )
        if path:
            self.ip_filter_edit.setText(path)

    def _disk_tab(self, p: Preferences) -> QWidget:
        self.reserve_box = spin_box(p.disk_reserve, 1_000_000, " MiB", "No reserve")
        form = QFormLayout()
        form.addRow("Keep free:", self.reserve_box)
        form.addRow("", _note("A download pauses rather than leave less free space than this."))
        return self._page(group_box("Free space", form))

    def _log_tab(self, p: Preferences, log_file: Path | None) -> QWidget:
        self.log_level_box = QComboBox()
        for level in reversed(LEVELS):
            self.log_level_box.addItem(LEVEL_CHOICES[level], level)
        self.log_level_box.setCurrentIndex(max(0, self.log_level_box.findData(p.log_level)))
        self.log_level_box.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        file_label = QLabel(str(log_file) if log_file else "None for this window")
        file_label.setWordWrap(True)
        file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        kept = formatting.size((BACKUPS + 1) * MAX_BYTES)
        form = QFormLayout()
        form.addRow("Record:", self.log_level_box)
        form.addRow("Log file:", file_label)
        form.addRow("", _note(
            f"The newest {kept} are kept. From “Information” up the log says why a peer was"
            " dropped. The Log tab under the torrent list shows the latest records."
        ))
        return self._page(group_box("Log", form))

    @staticmethod
    def _page(*items: QWidget | QFormLayout) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        for item in items:
            if isinstance(item, QFormLayout):
                layout.addLayout(item)
            else:
                layout.addWidget(item)
        layout.addStretch()
        return page

    # Result

    def preferences(self) -> Preferences:
        return replace(
            self._base,
            download_dir=Path(self.download_dir_edit.text().strip()).expanduser(),
            close_to_tray=self.close_to_tray_box.isChecked(),
            listen_port=self.port_box.value(),
            listen_host=self.host_edit.text().strip() or "0.0.0.0",
            max_peers=self.max_peers_box.value(),
            max_peers_per_torrent=self.max_peers_per_torrent_box.value(),
            transport=str(self.transport_box.currentData()),
            down_limit=self.down_limit_box.value(),
            up_limit=self.up_limit_box.value(),
            alt_down_limit=self.alt_down_limit_box.value(),
            alt_up_limit=self.alt_up_limit_box.value(),
            alt_limits_on=self.alt_on_box.isChecked(),
            alt_schedule_on=self.schedule_box.isChecked(),
            alt_days=tuple(n for n, box in enumerate(self.day_boxes) if box.isChecked()),
            alt_start_minute=_minutes(self.start_edit.time()),
            alt_end_minute=_minutes(self.end_edit.time()),
            max_active_downloads=self.max_downloads_box.value(),
            max_active_seeds=self.max_seeds_box.value(),
            seed_ratio_limit=self.ratio_box.value(),
            seed_time_limit=self.seed_time_box.value(),
            enable_dht=self.dht_box.isChecked(),
            enable_pex=self.pex_box.isChecked(),
            enable_lsd=self.lsd_box.isChecked(),
            port_mapping=self.port_mapping_box.isChecked(),
            disk_reserve=self.reserve_box.value(),
            encryption=self.encryption_box.currentData(),
            log_level=self.log_level_box.currentData(),
            ip_filter_path=self.ip_filter_edit.text().strip(),
            banned_peers=tuple(w.strip() for w in self.banned_edit.text().replace(" ", ",").split(",") if w.strip()),
            watch_dir=self.watch_dir_edit.text().strip(),
            watch_delete=self.watch_delete_box.isChecked(),
            notify_finished=self.notify_finished_box.isChecked(),
            notify_errors=self.notify_errors_box.isChecked(),
            on_complete_program=self.program_edit.text().strip(),
        )

