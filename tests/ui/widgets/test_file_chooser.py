from app.ui.widgets.file_chooser import EXPAND_ALL_UP_TO, FileChooser, chosen_text
from tests.ui.factories import file


def test_chosen_text_says_how_much_is_chosen():
    assert chosen_text(1, 1, 10, 10) == "1 file · 10 B"
    assert chosen_text(50, 50, 2**30, 2**30) == "All 50 files · 1.0 GiB"
    assert chosen_text(3, 50, 2**20, 2**30) == "3 of 50 files chosen · 1.0 MiB of 1.0 GiB"
    assert chosen_text(0, 50, 0, 2**30) == "Tick at least one file to download"


def test_select_none_and_all_tick_every_file_and_say_so(qtbot):
    chooser = FileChooser([file(f"Set/{n:02}.bin", size=1024) for n in range(5)])
    qtbot.addWidget(chooser)
    counts = []
    chooser.chosen_changed.connect(counts.append)
    chooser.select_none.click()
    assert chooser.priorities() == [0] * 5 and chooser.chosen_count() == 0
    chooser.select_none.click()  # nothing changes: nothing to say
    chooser.select_all.click()
    assert counts == [0, 5]
    assert chooser.summary.text() == "All 5 files · 5.0 KiB"


def test_large_torrents_open_only_the_top_folder(qtbot):
    many = [file(f"Big/part{n // 50}/{n}.bin") for n in range(EXPAND_ALL_UP_TO + 1)]
    chooser = FileChooser(many)
    qtbot.addWidget(chooser)
    top = chooser.model.index(0, 0)
    assert chooser.view.isExpanded(top)
    assert not chooser.view.isExpanded(chooser.model.index(0, 0, top))
