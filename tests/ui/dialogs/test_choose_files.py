from PySide6.QtCore import Qt

from app.ui.dialogs.choose_files import ChooseFilesDialog, files_summary
from tests.ui.factories import file

FILES = (
    file("Album/01.flac", size=3000),
    file("Album/.pad/1096", size=1096, padding=True),  # BEP 47
    file("Album/02.flac", size=4096),
)


def test_shows_the_real_files_and_keeps_the_pad_files_place(qtbot):
    dialog = ChooseFilesDialog("ab" * 20, "Album", FILES)
    qtbot.addWidget(dialog)
    assert dialog.name_label.text() == "Album" and "Album" in dialog.windowTitle()
    model = dialog.chooser.model
    album = model.index(0, 0)
    assert [model.index(r, 0, album).data() for r in range(model.rowCount(album))] == [
        "01.flac",
        "02.flac",
    ]
    model.setData(model.index(1, 0, album), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert dialog.priorities() == [1, 1, 0]


def test_choosing_nothing_cannot_start_the_download(qtbot):
    dialog = ChooseFilesDialog("ab" * 20, "Album", FILES)
    qtbot.addWidget(dialog)
    start = dialog.start_button
    assert start.text() == "Download"
    dialog.chooser.select_none.click()
    assert not start.isEnabled()
    assert dialog.priorities() == [0, 1, 0]
    dialog.chooser.select_all.click()
    assert start.isEnabled() and dialog.priorities() == [1, 1, 1]


def test_the_summary_leaves_pad_files_out():
    assert files_summary(FILES) == "6.9 KiB in 2 files"
