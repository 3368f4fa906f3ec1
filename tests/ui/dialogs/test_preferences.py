from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTime
from PySide6.QtWidgets import QLabel

from app.engine.transport.utp_endpoint import TRANSPORTS
from app.engine.watch_folder import AfterAdd, WatchedFolder
from app.ui.dialogs.preferences import PreferencesDialog
from app.ui.settings import (
    MIB,
    Preferences,
    changed_settings,
    load_preferences,
    save_preferences,
    session_settings,
)


def test_every_field_round_trips_through_the_dialog_and_qsettings(settings, tmp_path):
    dialog = PreferencesDialog(Preferences(download_dir=tmp_path))
    dialog.download_dir_edit.setText(str(tmp_path / "films"))
    dialog.port_box.setValue(51413)
    dialog.host_edit.setText("10.8.0.2")
    dialog.max_peers_box.setValue(300)
    dialog.max_peers_per_torrent_box.setValue(40)
    dialog.down_limit_box.setValue(2048)
    dialog.up_limit_box.setValue(256)
    dialog.alt_down_limit_box.setValue(100)
    dialog.alt_up_limit_box.setValue(10)
    dialog.alt_on_box.setChecked(True)
    dialog.schedule_box.setChecked(True)
    dialog.start_edit.setTime(QTime(22, 30))
    dialog.end_edit.setTime(QTime(6, 0))
    for day in (0, 1, 2, 3, 4):
        dialog.day_boxes[day].setChecked(False)
    dialog.max_downloads_box.setValue(3)
    dialog.max_seeds_box.setValue(5)
    dialog.ratio_box.setValue(2.5)
    dialog.seed_time_box.setValue(90)
    dialog.dht_box.setChecked(False)
    dialog.pex_box.setChecked(False)
    dialog.lsd_box.setChecked(False)
    dialog.port_mapping_box.setChecked(False)
    dialog.reserve_box.setValue(512)
    dialog.transport_box.setCurrentIndex(dialog.transport_box.findData("utp"))
    dialog.encryption_box.setCurrentIndex(dialog.encryption_box.findData("require"))
    dialog.log_level_box.setCurrentIndex(dialog.log_level_box.findData("DEBUG"))
    dialog.ip_filter_edit.setText(str(tmp_path / "level1.p2p.gz"))
    dialog.banned_edit.setText("10.0.0.7, 2001:db8::1")
    chosen = dialog.preferences()
    assert chosen.banned_peers == ("10.0.0.7", "2001:db8::1")
    assert chosen.log_level == "DEBUG"
    save_preferences(settings, chosen)
    settings.sync()
    loaded = load_preferences(settings)
    assert loaded == chosen
    assert loaded.alt_days == (5, 6)
    assert loaded.transport == "utp" and session_settings(loaded)["transport"] == "utp"
    assert loaded.port_mapping is False and session_settings(loaded)["port_mapping"] is False
    assert loaded.encryption == "require"
    assert (loaded.alt_start_minute, loaded.alt_end_minute) == (22 * 60 + 30, 6 * 60)
    again = PreferencesDialog(loaded).preferences()
    assert again == chosen


def test_the_session_gets_bytes_and_seconds(tmp_path):
    preferences = Preferences(
        download_dir=tmp_path, down_limit=2, seed_time_limit=3, disk_reserve=5,
        alt_schedule_on=True, alt_days=(6,), alt_start_minute=60, alt_end_minute=120,
        listen_host="127.0.0.1", enable_dht=False,
    )
    config = session_settings(preferences)
    assert config["down_limit"] == 2048
    assert config["seed_time_limit"] == 180.0
    assert config["disk_reserve"] == 5 * MIB
    assert config["alt_schedule"].days == frozenset({6})
    assert config["listen_host"] == "127.0.0.1" and config["enable_dht"] is False


def test_only_the_settings_that_changed_go_to_the_session(tmp_path):
    before = Preferences(download_dir=tmp_path, down_limit=2)
    after = replace(before, down_limit=3, enable_dht=False, close_to_tray=True, log_level="DEBUG", encryption="disable")
    assert changed_settings(before, after) == {"down_limit": 3 * 1024, "enable_dht": False, "encryption": "disable"}
    assert changed_settings(before, before) == {}


def test_an_empty_profile_gives_the_defaults(settings):
    loaded = load_preferences(settings)
    assert loaded.listen_port == 6881 and loaded.enable_dht and loaded.alt_days == tuple(range(7))
    assert loaded.port_mapping
    assert loaded.encryption == "allow"
    assert isinstance(loaded.download_dir, Path)


def test_the_log_tab_names_the_log_file(tmp_path):
    dialog = PreferencesDialog(Preferences(download_dir=tmp_path), log_file=tmp_path / "piecemeal.log")
    assert dialog.log_level_box.currentData() == "INFO"
    notes = [label.text() for label in dialog.findChildren(QLabel)]
    assert str(tmp_path / "piecemeal.log") in notes
    assert any(n.startswith("The newest 4.0 MiB are kept.") for n in notes), notes


def test_the_block_list_and_bans_reach_the_session(tmp_path):
    before = Preferences(download_dir=tmp_path)
    after = replace(before, ip_filter_path=str(tmp_path / "list.dat"), banned_peers=("10.0.0.7",))
    assert changed_settings(before, after) == {"ip_filter_path": tmp_path / "list.dat", "banned_peers": ("10.0.0.7",)}
    assert session_settings(before)["ip_filter_path"] is None
def test_watch_folder_and_completion_choices_round_trip_and_reach_the_session(settings, tmp_path):
    dialog = PreferencesDialog(Preferences(download_dir=tmp_path))
    assert dialog.notify_finished_box.isChecked() and dialog.notify_errors_box.isChecked()
    assert session_settings(dialog.preferences())["watch_folders"] == ()
    dialog.watch_dir_edit.setText(str(tmp_path / "watch"))
    dialog.watch_delete_box.setChecked(True)
    dialog.notify_errors_box.setChecked(False)
    dialog.program_edit.setText('notify-send "%N done"')
    chosen = dialog.preferences()
    save_preferences(settings, chosen)
    settings.sync()
    assert load_preferences(settings) == chosen
    config = session_settings(chosen)
    assert config["watch_folders"] == (WatchedFolder(tmp_path / "watch", after=AfterAdd.DELETE),)
    assert config["on_complete_program"] == 'notify-send "%N done"'
    assert not chosen.notify_errors and chosen.notify_finished


def test_connect_over_offers_every_dial_order_and_each_reaches_the_session(settings, tmp_path):
    """Connection tab, "Connect over": TCP first (the default), uTP first, or one of them only."""
    dialog = PreferencesDialog(Preferences(download_dir=tmp_path))
    offered = [dialog.transport_box.itemData(i) for i in range(dialog.transport_box.count())]
    assert offered == list(TRANSPORTS) and dialog.transport_box.currentData() == "both"
    assert dialog.transport_box.itemText(offered.index("utp-first")) == "uTP first, then TCP"
    before = dialog.preferences()
    dialog.transport_box.setCurrentIndex(offered.index("utp-first"))
    chosen = dialog.preferences()
    assert changed_settings(before, chosen) == {"transport": "utp-first"}
    save_preferences(settings, chosen)
    settings.sync()
    assert load_preferences(settings).transport == "utp-first"
    assert PreferencesDialog(chosen).transport_box.currentData() == "utp-first"


def test_a_transport_the_engine_does_not_know_falls_back_to_tcp_first(tmp_path):
    assert session_settings(Preferences(download_dir=tmp_path, transport="carrier-pigeon"))["transport"] == "both"


def test_listening_everywhere_shows_an_empty_address_with_words(tmp_path):
    dialog = PreferencesDialog(Preferences(download_dir=tmp_path, listen_host="0.0.0.0"))
    assert dialog.host_edit.text() == ""
    assert dialog.host_edit.placeholderText() == "Any address, IPv4 and IPv6"
    assert dialog.preferences().listen_host == "0.0.0.0"
