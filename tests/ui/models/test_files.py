from PySide6.QtCore import QModelIndex, Qt

from app.ui.models.files import NAME, PRIORITY, PROGRESS, SIZE, FileModel
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
    assert album.siblingAtColumn(SIZE).data() == "7.8 KiB"
    assert album.siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 3000 / 8000
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
    assert _child(model, 0).siblingAtColumn(PROGRESS).data(PROGRESS_ROLE) == 6000 / 8000


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
