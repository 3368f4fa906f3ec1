"""One torrent's options: its own speed limits, download order, seeding goals and folder.

The dialog opens with the options the engine keeps for the torrent (TorrentDetails.options).
On OK it sends them in one `set_options` call, on top of the torrent's options as they are
then (so a file ticked in the Files tab meanwhile stays ticked), and a move if the folder
changed; both through the bridge, so an engine error reaches the user as a message. The
dialog reads and sends everything through the bridge: it never sees the session.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.engine.snapshots import TorrentDetails
from app.engine.torrent_options import TorrentOptions
from app.ui import formatting
from app.ui.bridge import EngineBridge
from app.ui.dialogs.parts import folder_row, group_box, speed_limit_box
from app.ui.settings import KIB

MINUTE = 60.0


class Goal(IntEnum):
    """A seeding goal of the torrent: the session's, none, or its own value."""

    GLOBAL = 0
    NEVER = 1
    OWN = 2


@dataclass(frozen=True, slots=True)
class GlobalGoals:
    """The session's seeding goals, in the preferences' units, to name them in the dialog."""

    ratio: float = 0.0  # 0: never
    minutes: int = 0  # 0: never


def goal_of(limit: float | None) -> Goal:
    """TorrentOptions' convention: None follows the session, 0 never stops, > 0 is its own."""
    if limit is None:
        return Goal.GLOBAL
    return Goal.NEVER if limit == 0 else Goal.OWN


def limit_of(goal: Goal, value: float) -> float | None:
    return {Goal.GLOBAL: None, Goal.NEVER: 0.0, Goal.OWN: value}[goal]


def seeded_text(seconds: float) -> str:
    if seconds < 1:
        return "Not seeded yet."
    return f"Seeded for {formatting.duration(seconds)} so far."


def _global_text(value: str | None) -> str:
    return f"As in Preferences ({value})" if value else "As in Preferences (never)"


class GoalRow(QWidget):
    """A choice between the global goal, never, and a value of the torrent's own."""

    def __init__(self, global_text: str, value_box: QSpinBox | QDoubleSpinBox) -> None:
        super().__init__()
        self.choice = QComboBox()
        self.choice.addItems([global_text, "Never", "At this value:"])
        self.value_box = value_box
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.choice)
        layout.addWidget(value_box)
        layout.addStretch()
        self.choice.currentIndexChanged.connect(
            lambda index: value_box.setEnabled(index == Goal.OWN)
        )

    def set_goal(self, goal: Goal, value: float) -> None:
        if goal == Goal.OWN:
            self.value_box.setValue(value)  # type: ignore[arg-type]
        self.choice.setCurrentIndex(goal)
        self.value_box.setEnabled(goal == Goal.OWN)

    def goal(self) -> Goal:
        return Goal(self.choice.currentIndex())


class TorrentOptionsDialog(QDialog):
    def __init__(
        self,
        bridge: EngineBridge,
        info_hash: str,
        goals: GlobalGoals = GlobalGoals(),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        torrent = bridge.torrent(info_hash)
        details = bridge.details(info_hash)
        self._bridge = bridge
        self._info_hash = info_hash
        self._opened_with = details.options if details else TorrentOptions()
        self._name = torrent.name if torrent else info_hash
        self._save_path = Path(torrent.save_path) if torrent else Path()
        self.setWindowTitle(f"Options of {self._name}")
        layout = QVBoxLayout(self)
        layout.addWidget(self._speed_group(self._opened_with))
        layout.addWidget(self._seeding_group(self._opened_with, goals, details))
        layout.addWidget(self._folder_group(torrent is not None))
        layout.addStretch()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Not a height of 0: the spin boxes would shrink to their minimum and clip their text.
        self.resize(max(520, self.sizeHint().width()), self.sizeHint().height())

    # Building

    def _speed_group(self, options: TorrentOptions) -> QGroupBox:
        self.down_box = speed_limit_box(options.down_limit // KIB)
        self.up_box = speed_limit_box(options.up_limit // KIB)
        self.sequential_box = QCheckBox("Download in order (first and last pieces first)")
        self.sequential_box.setChecked(options.sequential)
        form = _form()
        form.addRow("Download limit:", self.down_box)
        form.addRow("Upload limit:", self.up_box)
        form.addRow("", self.sequential_box)
        form.addRow("", _note("The global limits apply too."))
        return group_box("Speed", form)

    def _seeding_group(
        self, options: TorrentOptions, goals: GlobalGoals, details: TorrentDetails | None
    ) -> QGroupBox:
        ratio_box = QDoubleSpinBox()
        ratio_box.setRange(0.01, 100.0)
        ratio_box.setSingleStep(0.1)
        ratio_box.setValue(2.0)
        minutes_box = QSpinBox()
        minutes_box.setRange(1, 525_600)
        minutes_box.setSuffix(" min")
        minutes_box.setValue(24 * 60)
        global_ratio = f"ratio {goals.ratio:.2f}" if goals.ratio else None
        global_time = formatting.duration(goals.minutes * MINUTE) if goals.minutes else None
        self.ratio_row = GoalRow(_global_text(global_ratio), ratio_box)
        self.time_row = GoalRow(_global_text(global_time), minutes_box)
        ratio, seconds = options.ratio_limit, options.seed_time_limit
        self.ratio_row.set_goal(goal_of(ratio), ratio or 0.0)
        self.time_row.set_goal(goal_of(seconds), round((seconds or 0.0) / MINUTE))
        # The value boxes line up under each other.
        width = max(row.choice.sizeHint().width() for row in (self.ratio_row, self.time_row))
        for row in (self.ratio_row, self.time_row):
            row.choice.setMinimumWidth(width)
        self.super_seeding_box = QCheckBox("Super-seeding: show each peer one piece at a time")
        self.super_seeding_box.setChecked(options.super_seeding)
        self.super_seeding_box.setToolTip(
            "For the first seed of a new torrent: peers get pieces nobody else has yet and pass them on,"
            " so the swarm needs less of this seed's upload (BEP 16)."
        )
        form = _form()
        form.addRow("Stop seeding at ratio:", self.ratio_row)
        form.addRow("Stop seeding after:", self.time_row)
        form.addRow("", self.super_seeding_box)
        if details is not None:
            form.addRow("", _note(seeded_text(details.seeding_time)))
        return group_box("Seeding", form)

    def _folder_group(self, known: bool) -> QGroupBox:
        self.folder_edit = QLineEdit(str(self._save_path) if known else "")
        form = _form()
        form.addRow("Files in:", folder_row(self.folder_edit, "Move the files to", "Move storage…"))
        form.addRow("", _note("Moving copies the files in the background."))
        return group_box("Storage", form)

    # Result

    def options(self, base: TorrentOptions | None = None) -> TorrentOptions:
        """What the dialog shows, on top of `base` (the options it opened with)."""
        return replace(
            self._opened_with if base is None else base,
            down_limit=self.down_box.value() * KIB,
            up_limit=self.up_box.value() * KIB,
            sequential=self.sequential_box.isChecked(),
            super_seeding=self.super_seeding_box.isChecked(),
            ratio_limit=limit_of(self.ratio_row.goal(), self.ratio_row.value_box.value()),
            seed_time_limit=limit_of(
                self.time_row.goal(), self.time_row.value_box.value() * MINUTE
            ),
        )

    def accept(self) -> None:
        self.apply()
        super().accept()

    def apply(self) -> None:
        """Send the options if they differ from the torrent's, and a move if the folder changed."""
        details = self._bridge.details(self._info_hash)
        current = details.options if details else self._opened_with
        after = self.options(current)
        if after != current or details is None:
            self._bridge.set_options(self._info_hash, after)
        target = Path(self.folder_edit.text().strip()).expanduser()
        if self.folder_edit.text().strip() and target != self._save_path:
            self._bridge.move_storage(self._info_hash, target)


def _note(text: str) -> QLabel:
    label = QLabel(text)  # one short line: wrapped, a form of natural widths would fold it
    label.setEnabled(False)  # the palette's quiet text colour
    return label


def _form() -> QFormLayout:
    """Fields at their natural width, but a folder's line edit takes the row."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    return form

