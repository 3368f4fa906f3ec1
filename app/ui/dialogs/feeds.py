"""The Feeds window: followed RSS/Atom feeds, their items and the rule that took each, and
the download rules.

A non-modal dialog (Tools > Feeds…). It reads the engine's feed state through the bridge
(`rss_snapshot`) when shown, every few seconds while open, and after each command; commands
(add or remove a feed, refresh, save the rules) go through the bridge, so an engine error
reaches the user as the bridge's usual message.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.rss.rules import Rule, RuleError, check
from app.engine.rss.service import FeedSnapshot, RssSnapshot
from app.ui.bridge import EngineBridge

REFRESH_MS = 2000


class FeedsPage(QWidget):
    """Feeds on the left; the selected feed's items, and the rule that took each, on the right."""

    def __init__(self, bridge: EngineBridge, changed: Any) -> None:
        super().__init__()
        self._bridge, self._changed = bridge, changed
        self._snapshot: tuple[FeedSnapshot, ...] = ()
        self.feeds = QListWidget()
        self.address = QLineEdit(placeholderText="https://example.org/feed.xml")
        self.add_button, self.remove_button = QPushButton("Add"), QPushButton("Remove")
        self.refresh_button = QPushButton("Refresh all")
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #b00020")
        self.items = QTreeWidget()
        self.items.setHeaderLabels(["Item", "Taken by rule"])
        self.items.setRootIsDecorated(False)
        self.items.setColumnWidth(0, 380)
        self._lay_out()
        self.add_button.clicked.connect(self._add)
        self.address.returnPressed.connect(self._add)
        self.remove_button.clicked.connect(self._remove)
        self.refresh_button.clicked.connect(lambda: self._changed(self._bridge.refresh_feeds()))
        self.feeds.currentRowChanged.connect(lambda _row: self._show_items())

    def _lay_out(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        adding = QHBoxLayout()
        adding.addWidget(self.address)
        adding.addWidget(self.add_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.refresh_button)
        column.addLayout(adding)
        column.addWidget(self.feeds)
        column.addLayout(buttons)
        right = QWidget()
        items = QVBoxLayout(right)
        items.setContentsMargins(0, 0, 0, 0)
        items.addWidget(self.error)
        items.addWidget(self.items)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([300, 500])
        QVBoxLayout(self).addWidget(splitter)

    def show_snapshot(self, feeds: tuple[FeedSnapshot, ...]) -> None:
        row = max(self.feeds.currentRow(), 0)
        self._snapshot = feeds
        self.feeds.blockSignals(True)
        self.feeds.clear()
        for feed in feeds:
            entry = QListWidgetItem(f"⚠ {feed.title or feed.url}" if feed.error else (feed.title or feed.url))
            entry.setToolTip(feed.error or feed.url)
            self.feeds.addItem(entry)
        self.feeds.setCurrentRow(min(row, len(feeds) - 1))
        self.feeds.blockSignals(False)
        self._show_items()

    def _show_items(self) -> None:
        row = self.feeds.currentRow()
        feed = self._snapshot[row] if 0 <= row < len(self._snapshot) else None
        self.error.setText(feed.error if feed else "")
        self.error.setVisible(bool(feed and feed.error))
        self.items.clear()
        for item in feed.items if feed else ():
            entry = QTreeWidgetItem([item.title, item.rule or "—"])
            entry.setToolTip(0, item.link)
            self.items.addTopLevelItem(entry)

    def _add(self) -> None:
        url = self.address.text().strip()
        if url:
            self.address.clear()
            self._changed(self._bridge.add_feed(url))

    def _remove(self) -> None:
        row = self.feeds.currentRow()
        if 0 <= row < len(self._snapshot):
            self._changed(self._bridge.remove_feed(self._snapshot[row].url))


class RulesPage(QWidget):
    """The rules in the order they are tried, and a form for the selected one."""

    def __init__(self, bridge: EngineBridge, changed: Any) -> None:
        super().__init__()
        self._bridge, self._changed = bridge, changed
        self._rules: list[Rule] = []
        self.rules = QListWidget()
        self.name, self.must_contain, self.must_not_contain = QLineEdit(), QLineEdit(), QLineEdit()
        self.regex, self.enabled = QCheckBox("Use regular expressions"), QCheckBox("Enabled")
        self.episodes = QLineEdit(placeholderText="e.g. S01E01-S01E10 or 1x01-;2x")
        self.category, self.folder = QLineEdit(), QLineEdit(placeholderText="the category's folder")
        self.problem = QLabel(wordWrap=True)
        self.problem.setStyleSheet("color: #b00020")
        self.new_button, self.save_button = QPushButton("New rule"), QPushButton("Save rule")
        self.delete_button = QPushButton("Delete rule")
        self._lay_out()
        self.rules.currentRowChanged.connect(self._show_rule)
        self.new_button.clicked.connect(self._new)
        self.save_button.clicked.connect(self._save)
        self.delete_button.clicked.connect(self._delete)
        self._show_rule(-1)  # a new rule's defaults (enabled) until one is picked

    def _lay_out(self) -> None:
        form = QFormLayout()
        for label, widget in (("Name", self.name), ("Must contain", self.must_contain),
                              ("Must not contain", self.must_not_contain), ("", self.regex),
                              ("Episodes", self.episodes), ("Category", self.category),
                              ("Save folder", self.folder), ("", self.enabled)):
            form.addRow(label, widget)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.delete_button):
            buttons.addWidget(button)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addWidget(self.problem)
        right.addStretch()
        right.addLayout(buttons)
        row = QHBoxLayout(self)
        row.addWidget(self.rules, 1)
        row.addLayout(right, 2)

    def show_rules(self, rules: tuple[Rule, ...]) -> None:
        if list(rules) == self._rules:
            return
        row = self.rules.currentRow()
        self._rules = list(rules)
        self.rules.clear()
        self.rules.addItems([r.name if r.enabled else f"{r.name} (off)" for r in rules])
        self.rules.setCurrentRow(min(max(row, 0), len(rules) - 1))

    def _show_rule(self, row: int) -> None:
        rule = self._rules[row] if 0 <= row < len(self._rules) else Rule("")
        for edit, text in ((self.name, rule.name), (self.must_contain, rule.must_contain),
                           (self.must_not_contain, rule.must_not_contain), (self.episodes, rule.episode_filter),
                           (self.category, rule.category), (self.folder, rule.save_path)):
            edit.setText(text)
        self.regex.setChecked(rule.regex)
        self.enabled.setChecked(rule.enabled)
        self.problem.clear()

    def edited_rule(self) -> Rule:
        return Rule(self.name.text().strip(), self.must_contain.text(), self.must_not_contain.text(),
                    self.regex.isChecked(), self.episodes.text().strip(), self.category.text().strip(),
                    self.folder.text().strip(), self.enabled.isChecked())

    def _new(self) -> None:
        self.rules.clearSelection()
        self.rules.setCurrentRow(-1)
        self._show_rule(-1)
        self.name.setFocus()

    def _save(self) -> None:
        rule = self.edited_rule()
        try:
            check(rule)
        except RuleError as exc:
            self.problem.setText(str(exc))
            return
        self.problem.clear()
        row = self.rules.currentRow()
        rules = list(self._rules)
        if 0 <= row < len(rules):
            rules[row] = rule  # an edit, perhaps a new name, keeps the rule's place
        else:
            rules.append(rule)
        self._changed(self._bridge.set_rss_rules(rules))

    def _delete(self) -> None:
        row = self.rules.currentRow()
        if 0 <= row < len(self._rules):
            self._changed(self._bridge.set_rss_rules(self._rules[:row] + self._rules[row + 1:]))


class FeedsDialog(QDialog):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Feeds")
        self.resize(860, 480)
        self._bridge = bridge
        self.feeds_page = FeedsPage(bridge, self._after)
        self.rules_page = RulesPage(bridge, self._after)
        self.tabs = tabs = QTabWidget()
        tabs.addTab(self.feeds_page, "Feeds")
        tabs.addTab(self.rules_page, "Download rules")
        QVBoxLayout(self).addWidget(tabs)
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def refresh(self) -> None:
        snapshot: RssSnapshot = self._bridge.rss_snapshot()
        self.feeds_page.show_snapshot(snapshot.feeds)
        self.rules_page.show_rules(snapshot.rules)

    def _after(self, command: Any) -> None:
        command.add_done_callback(lambda _done: self.refresh())

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        self.refresh()
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        self._timer.stop()
        super().hideEvent(event)
