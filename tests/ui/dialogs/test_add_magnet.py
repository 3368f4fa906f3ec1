from PySide6.QtGui import QGuiApplication

from app.ui.dialogs.add_magnet import AddMagnetDialog, MagnetRequest
from app.ui.settings import Preferences, choose_magnet_files, save_preferences

LINK = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Example"


def test_offers_the_clipboards_magnet_link_and_the_remembered_folder(qtbot, settings, tmp_path):
    save_preferences(settings, Preferences(download_dir=tmp_path / "downloads"))
    QGuiApplication.clipboard().setText(f"  {LINK}\n")
    dialog = AddMagnetDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.link() == LINK
    assert dialog.save_path() == tmp_path / "downloads"
    assert dialog.start_box.isChecked() and not dialog.choose_files_box.isChecked()
    QGuiApplication.clipboard().setText("https://example.org/")
    other = AddMagnetDialog(settings)
    qtbot.addWidget(other)
    assert other.link() == "" and not other.add_button.isEnabled()


def test_ok_remembers_the_folder_and_the_choice_of_files(qtbot, settings, tmp_path):
    dialog = AddMagnetDialog(settings)
    qtbot.addWidget(dialog)
    dialog.link_edit.setText(LINK)
    dialog.save_path_edit.setText(str(tmp_path / "films"))
    dialog.choose_files_box.setChecked(True)
    dialog.start_box.setChecked(False)
    with qtbot.waitSignal(dialog.accepted, timeout=1000):
        dialog.accept()
    assert dialog.request() == MagnetRequest(LINK, tmp_path / "films", True, True)
    assert choose_magnet_files(settings)
    again = AddMagnetDialog(settings)
    qtbot.addWidget(again)
    assert again.choose_files_box.isChecked()
    assert again.save_path() == tmp_path / "films"


def test_a_malformed_link_says_why_and_stays_open(qtbot, settings):
    dialog = AddMagnetDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.link_edit.setText("magnet:?xt=urn:btih:nothex")
    dialog.choose_files_box.setChecked(True)
    dialog.accept()
    assert dialog.isVisible() and dialog.result() == 0
    assert dialog.error_label.isVisible()
    assert dialog.error_label.text() == (
        "The magnet link's info-hash is neither 40 hexadecimal nor 32 base32 digits."
    )
    assert not choose_magnet_files(settings)  # nothing is remembered from a refused link
    dialog.link_edit.setText(LINK)
    assert not dialog.error_label.isVisible()
