"""Every user command as a QAction: one text, icon and shortcut for menu, toolbar and tray."""

from __future__ import annotations

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QStyle, QWidget

from app.ui.icons import icon, standard_icon

Shortcut = QKeySequence.StandardKey | str | None


class Actions:
    """Owned by the main window; `selection` lists the actions that need selected torrents."""

    def __init__(self, parent: QWidget) -> None:
        self._parent = parent
        self.add_file = self._make("&Add torrent file…", icon("add"), QKeySequence.StandardKey.Open)
        self.add_magnet = self._make("Add &magnet link…", icon("add"), "Ctrl+U")
        self.create = self._make("&Create torrent…", icon("create"), QKeySequence.StandardKey.New)
        self.connect = self._make("Co&nnect to…", QIcon(), None)
        self.local_session = self._make("&Local session", QIcon(), None)
        self.start = self._make("&Start", icon("start"), "Ctrl+S")
        self.pause = self._make("&Pause", icon("pause"), "Ctrl+P")
        self.remove = self._make("&Remove…", icon("remove"), QKeySequence.StandardKey.Delete)
        self.recheck = self._make("Force re&check", icon("recheck"), None)
        self.open_folder = self._make(
            "&Open containing folder", standard_icon(QStyle.StandardPixmap.SP_DirOpenIcon), None
        )
        self.copy_magnet = self._make("Copy &magnet link", QIcon(), None)
        self.copy_hash = self._make("Copy &info-hash", QIcon(), None)
        self.add_web_seed = self._make("Add &web seed…", QIcon(), None)
        self.start_all = self._make("Start all", icon("start"), None)
        self.pause_all = self._make("Pause all", icon("pause"), None)
        self.preferences = self._make("Prefere&nces…", QIcon(), "Ctrl+,")
        self.feeds = self._make("&Feeds (RSS)…", QIcon(), "Ctrl+Shift+R")
        self.about = self._make("&About Piecemeal", QIcon(), None)
        self.quit = self._make("&Quit", QIcon(), QKeySequence.StandardKey.Quit)
        self.search = self._make("Search", QIcon(), QKeySequence.StandardKey.Find)
        self.toggle_window = self._make("Show / hide Piecemeal", icon("piecemeal"), None)
        self.selection = (
            self.start,
            self.pause,
            self.remove,
            self.recheck,
            self.open_folder,
            self.copy_magnet,
            self.copy_hash,
        )
        self.add_file.setStatusTip("Add a .torrent file from disk")
        self.create.setStatusTip("Make a .torrent from a file or folder you want to share")
        self.connect.setStatusTip("Show and control the torrents of a piecemeal-daemon, here or on another machine")
        self.local_session.setStatusTip("Show this computer's own torrents again")
        self.remove.setStatusTip("Remove the selected torrents, and optionally their files")
        self.feeds.setStatusTip("Follow RSS and Atom feeds and download what your rules pick")
        self.add_web_seed.setStatusTip("Download this torrent from a web server that holds its files too")

    def _make(self, text: str, action_icon: QIcon, shortcut: Shortcut) -> QAction:
        action = QAction(action_icon, text, self._parent)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
        return action
