from PySide6.QtCore import QModelIndex, Qt

from app.ui import formatting
from app.ui.models.files import NAME, PRIORITY, PROGRESS, SIZE, FileModel, is_pad_file
from app.ui.models.roles import PROGRESS_ROLE
from tests.ui.factories import file

FILES = (
    file("Album/cover.jpg", size=1000, downloaded=1000),
    file("Album/CD1/01.flac", size=3000, downloaded=0),
    file("Album/CD1/02.flac", size=4000, downloaded=2000, priority=0),
)


def _child(model: FileModel, *rows: int) -> QModelIndex:
    index = QModelIndex()
    for row in rows:
        index = model.index(row, 0, index)
    return index


def test_passes_qtmodeltester(qtmodeltester):
    model = FileModel()
    model.set_files(FILES)
    qtmodeltester.check(model, force_py=True)


def test_folders_add_up_their_files():
    model = FileModel()
    model.set_files(FILES)
    album = _child(model, 0)
    assert album.data() == "Album"
    assert model.rowCount(album) == 2
    assert album.siblingAtColumn(SIZE).data() == "3.9 KiB"  # the chosen files: 02.flac is skipped
    assert album.siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 1000 / 4000
    assert album.siblingAtColumn(PRIORITY).data() == "Mixed"
    assert album.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.PartiallyChecked
    skipped = _child(model, 0, 1, 1)
    assert skipped.data() == "02.flac"
    assert skipped.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked


def test_progress_updates_touch_the_file_and_its_folders():
    model = FileModel()
    model.set_files(FILES)
    changed = []
    model.dataChanged.connect(lambda top, _bottom: changed.append(top.data()))
    model.modelReset.connect(lambda: changed.append("reset"))
    model.set_files((FILES[0], file("Album/CD1/01.flac", size=3000, downloaded=3000), FILES[2]))
    assert sorted(changed) == ["01.flac", "Album", "CD1"]
    assert _child(model, 0).siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 1.0  # all chosen bytes
    assert _child(model, 0, 1, 1).siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 0.5  # the skipped one


def test_a_priority_change_updates_folder_check_states():
    model = FileModel()
    model.set_files(FILES)
    model.set_files(FILES[:2] + (file("Album/CD1/02.flac", size=4000, downloaded=2000),))
    assert _child(model, 0).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert _child(model, 0, 1).siblingAtColumn(PRIORITY).data() == "Normal"


def test_other_files_rebuild_the_tree():
    model = FileModel()
    model.set_files(FILES)
    model.set_files((file("single.iso", size=10),))
    assert model.rowCount() == 1
    assert _child(model, 0).data() == "single.iso"
    assert _child(model, 0).siblingAtColumn(NAME).data(Qt.ItemDataRole.ToolTipRole) == "single.iso"


def test_unticking_a_folder_skips_every_file_in_it():
    model = FileModel()
    model.set_files(FILES)
    emitted = []
    model.priorities_changed.connect(emitted.append)
    cd1 = _child(model, 0, 1)
    assert model.flags(cd1) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.setData(cd1, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert emitted == [[1, 0, 0]]
    assert cd1.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    model.setData(_child(model, 0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert emitted[-1] == [1, 1, 1]


PADDED = (
    file("Album/01.flac", size=3000, downloaded=3000),
    file("Album/.pad/1096", size=1096, downloaded=1096, padding=True),  # BEP 47
    file("Album/02.flac", size=4096, downloaded=0),
    file("Album/.pad/notes.txt", size=10),  # a real file in a folder of that name
)


def test_pad_files_are_the_ones_the_engine_marks():
    assert [is_pad_file(f) for f in PADDED] == [False, True, False, False]


def test_pad_files_do_not_show_but_keep_their_place(qtmodeltester):
    model = FileModel()
    model.set_files(PADDED)
    qtmodeltester.check(model, force_py=True)
    album = _child(model, 0)
    names = [model.index(r, 0, album).data() for r in range(model.rowCount(album))]
    assert names == ["01.flac", "02.flac", ".pad"]
    assert model.file_count() == 3
    assert album.siblingAtColumn(SIZE).data() == "6.9 KiB"
    assert album.siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 3000 / 7106
    emitted = []
    model.priorities_changed.connect(emitted.append)
    model.setData(_child(model, 0, 1), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert emitted == [[1, 1, 0, 1]]
    assert model.wanted() == (2, 3010)


def test_updates_skip_pad_files():
    model = FileModel()
    model.set_files(PADDED)
    changed = []
    model.dataChanged.connect(lambda top, _bottom: changed.append(top.data()))
    model.set_files(PADDED[:2] + (file("Album/02.flac", size=4096, downloaded=4096),) + PADDED[3:])
    assert sorted(changed) == ["02.flac", "Album"]
    assert _child(model, 0, 1).siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 1.0


def test_a_folder_counts_the_chosen_files_and_says_so():
    model = FileModel()
    model.set_files((
        file("Album/01.flac", size=3000, downloaded=3000),
        file("Album/02.flac", size=4000, downloaded=0),
        file("Album/03.flac", size=1000, downloaded=500),
    ))
    album = _child(model, 0)
    assert album.siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 3500 / 8000
    model.setData(_child(model, 0, 1), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert album.siblingAtColumn(SIZE).data() == formatting.size(4000)
    assert album.siblingAtColumn(SIZE).data(Qt.ItemDataRole.ToolTipRole) == (
        f"{formatting.size(4000)} chosen of {formatting.size(8000)} in this folder"
    )
    assert album.siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 3500 / 4000
    assert _child(model, 0, 1).siblingAtColumn(SIZE).data() == formatting.size(4000)  # a file: its own size
    model.set_all_wanted(False)  # nothing chosen: the folder shows all it holds
    assert album.siblingAtColumn(SIZE).data() == formatting.size(8000)
    assert album.siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 3500 / 8000
