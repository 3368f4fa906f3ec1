"""The torrent list's view: columns, widths, delegates; one place for the window and the benchmark."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from app.ui.models.torrents import TorrentColumn, TorrentListModel
from app.ui.widgets.elide_delegate import MiddleElideDelegate
from app.ui.widgets.progress_delegate import ProgressDelegate

_HIDDEN_BY_DEFAULT = (TorrentColumn.RATIO, TorrentColumn.ADDED)
_COLUMN_WIDTHS = {
    TorrentColumn.NAME: 320,
    TorrentColumn.SIZE: 80,
    TorrentColumn.PROGRESS: 120,
    TorrentColumn.STATUS: 180,  # room for why a torrent is stopped: "Waiting for the file choice"
    TorrentColumn.SEEDS: 70,
    TorrentColumn.PEERS: 70,
    TorrentColumn.DOWN: 90,
    TorrentColumn.UP: 90,
    TorrentColumn.ETA: 90,
    TorrentColumn.RATIO: 60,
    TorrentColumn.ADDED: 130,
}


def torrent_view(model: TorrentListModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setItemDelegateForColumn(TorrentColumn.PROGRESS, ProgressDelegate(view))
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.setShowGrid(False)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setItemDelegateForColumn(TorrentColumn.NAME, MiddleElideDelegate(view))
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    view.verticalHeader().hide()
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 10)
    header = view.horizontalHeader()
    header.setSectionsMovable(True)
    header.setHighlightSections(False)
    header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    # The name takes whatever the other columns leave: no sideways scrolling.
    header.setSectionResizeMode(TorrentColumn.NAME, QHeaderView.ResizeMode.Stretch)
    header.setMinimumSectionSize(40)
    for column, width in _COLUMN_WIDTHS.items():
        header.resizeSection(column, width)
    for column in _HIDDEN_BY_DEFAULT:
        header.hideSection(column)
    header.setSortIndicator(TorrentColumn.ADDED, Qt.SortOrder.AscendingOrder)
    return view
