"""Everyday features in the window: categories and tags (sidebar, menus, add dialog),
notifications, opening files, and the engine's notices."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QModelIndex, QUrl
from PySide6.QtWidgets import QMenu, QTreeView

from app.engine import events
from app.engine.labels import Category
from app.engine.snapshots import TorrentState
from app.ui.bridge import EngineBridge
from app.ui.file_actions import FileActions
from app.ui.label_filter import UNLABELLED, LabelCounts, LabelFilter, matches_labels
from app.ui.label_menus import NewCategoryDialog
from app.ui.main_window import MainWindow
from app.ui.models.files import FileModel
from tests.ui.factories import torrent as snapshot_of
from tests.ui.helpers import until, write_album, write_torrent


def names(window: MainWindow) -> list[str]:
    return sorted(window.model.item(r).name for r in range(window.model.rowCount()))


def texts(widget) -> list[str]:
    return [widget.item(row).text() for row in range(widget.count())]


def fill(menu: QMenu) -> dict[str, object]:
    menu.aboutToShow.emit()
    return {action.text(): action for action in menu.actions() if action.text()}


# -- pure filter and counts ------------------------------------------------------------------


def test_label_filters_match_and_count() -> None:
    films = snapshot_of(0, category="Films", tags=("hd", "new"))
    plain = snapshot_of(1)
    assert matches_labels(LabelFilter(), plain)
    assert matches_labels(LabelFilter("Films", "hd"), films) and not matches_labels(LabelFilter("Films", "hd"), plain)
    assert matches_labels(LabelFilter(UNLABELLED, UNLABELLED), plain)
    assert not matches_labels(LabelFilter(tag=UNLABELLED), films)
    counts = LabelCounts()
    counts.update([], [films, plain])
    assert (counts.total, counts.categories["Films"], counts.categories[""], counts.tags["hd"], counts.tags[""]) == (
        2, 1, 1, 1, 1,
    )
    counts.update([films], [snapshot_of(0, category="Films")])
    assert (counts.total, counts.tags["hd"], counts.tags[""]) == (2, 0, 2)


# -- the window, over a real session -----------------------------------------------------------


async def labelled_window(window: MainWindow, session, tmp_path: Path) -> tuple[str, str]:
    await session.add_category("Films", str(tmp_path / "films"))
    await session.add_category("Music")
    films = await session.add_torrent(write_torrent(tmp_path / "a", "film.bin"), tmp_path / "a", category="Films")
    other = await session.add_torrent(write_torrent(tmp_path / "b", "song.bin"), tmp_path / "b")
    await session.set_tags(films, ["hd"])
    window.bridge.refresh()
    return films, other


async def test_the_sidebar_lists_categories_and_tags_and_filters_by_both(window, session, tmp_path):
    await labelled_window(window, session, tmp_path)
    lists = window.label_lists
    assert texts(lists.categories) == ["All (2)", "Uncategorized (1)", "Films (1)", "Music (0)"]
    assert texts(lists.tags) == ["All (2)", "Untagged (1)", "hd (1)"]
    assert lists.categories.item(2).toolTip() == f"Saved in {tmp_path / 'films'}"
    lists.categories.setCurrentRow(2)
    assert names(window) == ["film.bin"]
    lists.categories.setCurrentRow(1)
    assert names(window) == ["song.bin"]
    lists.categories.setCurrentRow(0)
    lists.tags.setCurrentRow(1)
    assert names(window) == ["song.bin"]
    lists.tags.setCurrentRow(2)
    lists.categories.setCurrentRow(3)
    assert names(window) == [] and window.empty_hint.isVisible()


async def test_the_context_menu_sets_the_category_and_toggles_tags(window, session, tmp_path):
    films, other = await labelled_window(window, session, tmp_path)
    window.select_torrent(other)
    category = fill(window.label_menus.category_menu(window))
    assert list(category) == ["(None)", "Films", "Music", "New…"] and category["(None)"].isChecked()
    category["Music"].trigger()
    await until(lambda: window.bridge.refresh() or window.bridge.torrent(other).category == "Music")
    tags = fill(window.label_menus.tags_menu(window))
    assert list(tags) == ["hd", "New…"] and not tags["hd"].isChecked()
    tags["hd"].trigger()
    await until(lambda: window.bridge.refresh() or window.bridge.torrent(other).tags == ("hd",))
    assert fill(window.label_menus.tags_menu(window))["hd"].isChecked()
    fill(window.label_menus.tags_menu(window))["hd"].trigger()
    await until(lambda: window.bridge.refresh() or window.bridge.torrent(other).tags == ())
    assert window.bridge.torrent(films).tags == ("hd",)


async def test_new_tag_and_new_category_from_the_menus(window, session, tmp_path):
    _films, other = await labelled_window(window, session, tmp_path)
    window.select_torrent(other)
    fill(window.label_menus.tags_menu(window))["New…"].trigger()
    window.label_menus.dialog.setTextValue("  weekend ")
    window.label_menus.dialog.accept()
    await until(lambda: window.bridge.refresh() or window.bridge.torrent(other).tags == ("weekend",))
    fill(window.label_menus.category_menu(window))["New…"].trigger()
    dialog = window.label_menus.dialog
    assert isinstance(dialog, NewCategoryDialog)
    dialog.name_edit.setText("Books")
    dialog.folder_edit.setText(str(tmp_path / "books"))
    dialog.accept()
    await until(lambda: window.bridge.refresh() or window.bridge.torrent(other).category == "Books")
    assert Category("Books", str(tmp_path / "books")) in session.snapshot().categories
    assert "Books (1)" in texts(window.label_lists.categories)


async def test_a_bad_tag_name_is_a_message_not_a_traceback(window, session, tmp_path):
    _films, other = await labelled_window(window, session, tmp_path)
    shown: list[tuple[str, str]] = []
    window.bridge.failed.connect(lambda title, text: shown.append((title, text)))
    window.bridge.set_tag([other], "a,b", on=True)
    await until(lambda: shown)
    assert shown[0][1] == "A tag name cannot contain a comma."


async def test_the_add_dialog_chooses_a_category_and_its_folder(window, session, tmp_path):
    await session.add_category("Films", str(tmp_path / "films"))
    await session.add_category("Music")
    window.bridge.refresh()
    window.add_torrent_files([write_torrent(tmp_path / "share", "clip.bin")])
    dialog = window.add_dialog
    before = dialog.save_path_edit.text()
    dialog.category_box.setCurrentIndex(dialog.category_box.findData("Films"))
    assert dialog.save_path_edit.text() == str(tmp_path / "films")
    dialog.category_box.setCurrentIndex(dialog.category_box.findData("Music"))
    assert dialog.save_path_edit.text() == before
    dialog.category_box.setCurrentIndex(dialog.category_box.findData("Films"))
    dialog.accept()
    await until(lambda: len(session.torrents) == 1)
    (snap,) = session.snapshot().torrents
    assert (snap.category, snap.save_path) == ("Films", str(tmp_path / "films"))


async def test_notifications_follow_the_preferences(window, tmp_path):
    said: list[tuple[str, ...]] = []
    window.tray.notify_finished = lambda name: said.append(("finished", name))
    window.tray.notify_error = lambda name, reason: said.append(("error", name, reason))
    window.bridge.torrent_finished.emit("ab" * 20, "film.bin")
    window.bridge.torrent_errored.emit("ab" * 20, "the disk is full")
    assert said == [("finished", "film.bin"), ("error", "ab" * 20, "the disk is full")]
    window.preferences = replace(window.preferences, notify_finished=False, notify_errors=False)
    window.bridge.torrent_finished.emit("ab" * 20, "film.bin")
    window.bridge.torrent_errored.emit("ab" * 20, "the disk is full")
    assert len(said) == 2


async def test_an_engine_notice_reaches_the_status_bar(window, session, tmp_path):
    session.emit(events.Notice("Could not add bad.torrent: data ends early. It was moved to /w/failed."))
    assert window.statusBar().currentMessage().startswith("Could not add bad.torrent")


# -- opening files ---------------------------------------------------------------------------


async def files_shown(window: MainWindow, session, folder: Path, save_path: Path, state: TorrentState) -> list[QUrl]:
    opened: list[QUrl] = []
    info_hash = await session.add_torrent(write_album(folder), save_path)
    window.bridge.start()
    await until(lambda: window.bridge.torrent(info_hash) and window.bridge.torrent(info_hash).state == state)
    window.select_torrent(info_hash)
    window.details.setCurrentWidget(window.details.files)
    await until(lambda: window.details.file_model.file_count() > 0)
    actions = window.details.file_actions
    actions._open_url = lambda url: opened.append(url) or True
    return opened


def first_file(model) -> QModelIndex:
    index = model.index(0, 0)
    while model.is_folder(index):
        index = model.index(0, 0, index)
    return index


async def test_double_clicking_a_complete_file_opens_it(window, session, tmp_path):
    opened = await files_shown(window, session, tmp_path / "album", tmp_path, TorrentState.SEEDING)
    model = window.details.file_model
    index = first_file(model)
    window.details.files.doubleClicked.emit(index)
    path = Path(opened[0].toLocalFile())
    assert path.is_file() and path.is_relative_to(tmp_path / "album")
    assert model.relative_path(index).endswith(path.name)
    window.details.file_actions.open_folder(index)
    assert Path(opened[1].toLocalFile()) == path.parent


async def test_an_incomplete_file_is_not_opened(window, session, tmp_path):
    opened = await files_shown(window, session, tmp_path / "album", tmp_path / "empty", TorrentState.DOWNLOADING)
    told: list[str] = []
    window.details.file_actions.told.connect(told.append)
    index = first_file(window.details.file_model)
    assert not window.details.file_model.is_complete(index)
    window.details.files.doubleClicked.emit(index)
    assert opened == [] and told == ["01.bin is not complete yet."]
    window.details.file_actions.open_folder(index)  # the folder is not there yet: where it will be
    assert [Path(url.toLocalFile()) for url in opened] == [tmp_path / "empty"]


def test_file_actions_without_a_torrent_do_nothing(qtbot):
    view = QTreeView()
    qtbot.addWidget(view)
    opened: list[QUrl] = []
    actions = FileActions(view, FileModel(), lambda: None, opened.append)
    actions.open_file(QModelIndex())
    actions.open_folder(QModelIndex())
    assert opened == []


async def test_the_chosen_category_and_tag_come_back_after_a_restart(window, session, settings, tmp_path, qtbot):
    await labelled_window(window, session, tmp_path)
    window.label_lists.choose(LabelFilter("Films", "hd"))
    window.save_state()
    again = MainWindow(EngineBridge(session), settings)
    qtbot.addWidget(again)
    assert again.label_lists.current() == LabelFilter()  # not known before the first snapshot
    again.bridge.refresh()
    assert again.label_lists.current() == LabelFilter("Films", "hd")
    assert sorted(again.model.item(r).name for r in range(again.model.rowCount())) == ["film.bin"]
