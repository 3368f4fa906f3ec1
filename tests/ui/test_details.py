from PySide6.QtWidgets import QInputDialog

from app.engine.diagnosis import Cause, CauseKind
from app.engine.snapshots import PieceState, TorrentDetails
from app.engine.torrent_options import TorrentOptions
from app.ui.app_log import detached_log
from app.ui.details import DetailsTabs, distributed_copies, general_fields, size_text
from tests.ui.factories import file, peer, torrent


def _details(**changes) -> TorrentDetails:
    base = dict(
        info_hash=torrent(0).info_hash,
        peers=(peer(0), peer(1)),
        files=(file("Torrent 0/a.bin", size=10),),
        pieces=bytes([PieceState.VERIFIED, PieceState.MISSING] * 8),
        availability=bytes([1, 2] * 8),
        time_active=125.0,
        comment="hello",
        private=True,
        options=TorrentOptions(),
        seeding_time=0.0,
    )
    base.update(changes)
    return TorrentDetails(**base)


def test_distributed_copies_counts_the_rarest_and_the_share_above():
    assert distributed_copies(bytes([1, 2, 2, 1])) == 1.5
    assert distributed_copies(bytes([0, 0])) == 0.0
    assert distributed_copies(b"") is None


def test_general_fields_say_it_in_words():
    fields = general_fields(torrent(0, seeds=1, peers=3), _details())
    assert fields["Connections"] == "1 seed, 3 peers"
    assert fields["Time active"] == "2 minutes and 5 seconds"
    seeded = general_fields(torrent(0), _details(seeding_time=60.0))
    assert seeded["Time active"] == "2 minutes and 5 seconds (seeding 1 minute)"
    assert fields["Comment"] == "hello (private torrent)"
    assert fields["Availability"] == "1.50 copies among connected peers"
    assert fields["Pieces"] == "16 × 256.0 KiB"
    assert (fields["Category"], fields["Tags"]) == ("", "")
    labelled = general_fields(torrent(0, category="Films", tags=("hd", "new")), _details())
    assert (labelled["Category"], labelled["Tags"]) == ("Films", "hd, new")


def test_general_lists_what_limits_the_speed_strongest_first():
    causes = (
        Cause(CauseKind.TORRENT_LIMIT, "This torrent's download limit is reached", "99 KiB/s of 100 KiB/s",
              "Raise or remove the torrent's download limit"),
        Cause(CauseKind.CHOKED, "Most peers refuse to send to us (they choke us)", "3 of 4 peers", "Upload more"),
    )
    fields = general_fields(torrent(0), _details(causes=causes))
    assert fields["Why this speed"] == (
        "1. This torrent's download limit is reached (99 KiB/s of 100 KiB/s). "
        "Raise or remove the torrent's download limit.\n"
        "2. Most peers refuse to send to us (they choke us) (3 of 4 peers). Upload more."
    )
    assert general_fields(torrent(0), _details())["Why this speed"] == ""


def test_general_fields_show_the_format_and_both_info_hashes(qtbot):
    v2 = "ab" * 32
    hybrid = general_fields(torrent(0), _details(format="hybrid", info_hash_v1=torrent(0).info_hash, info_hash_v2=v2))
    assert (hybrid["Format"], hybrid["Info-hash"], hybrid["Info-hash v2"]) == (
        "hybrid (v1 and v2)", torrent(0).info_hash, v2,
    )
    v2_only = general_fields(torrent(0), _details(format="v2", info_hash_v2=v2))
    assert (v2_only["Format"], v2_only["Info-hash"]) == ("v2 (BitTorrent v2 only)", "none: a v2-only torrent")
    v1 = general_fields(torrent(0), _details(format="v1", info_hash_v1=torrent(0).info_hash))
    assert (v1["Format"], v1["Info-hash"], v1["Info-hash v2"]) == ("v1", torrent(0).info_hash, "")
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    tabs.setCurrentWidget(tabs.general)
    tabs.show_torrent(torrent(0))
    tabs.show_details(_details(format="v1", info_hash_v1=torrent(0).info_hash))
    assert tabs.general.values["Format"].text() == "v1"
    assert tabs.general.values["Info-hash v2"].isHidden()


def test_only_the_visible_tab_is_filled(qtbot):
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    tabs.setCurrentWidget(tabs.general)
    tabs.show_torrent(torrent(0))
    tabs.show_details(_details())
    assert tabs.peer_model.rowCount() == 0
    tabs.setCurrentWidget(tabs.peers)
    assert tabs.peer_model.rowCount() == 2
    tabs.setCurrentWidget(tabs.pieces)
    assert tabs.pieces.summary.text() == "8 of 16 × 256.0 KiB pieces verified"


def test_details_of_another_torrent_are_ignored(qtbot):
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    tabs.setCurrentWidget(tabs.peers)
    tabs.show_torrent(torrent(1))
    tabs.show_details(_details())
    assert tabs.peer_model.rowCount() == 0


def test_error_row_shows_only_with_an_error(qtbot):
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    tabs.show()
    tabs.show_torrent(torrent(0))
    assert not tabs.general.values["Error"].isVisible()
    tabs.show_torrent(torrent(0, error="Disk full."))
    assert tabs.general.values["Error"].isVisible()
    assert tabs.general.values["Error"].text() == "Disk full."


def test_size_counts_the_chosen_files_and_names_the_total_when_some_are_skipped():
    assert size_text(torrent(0)) == "1.0 MiB verified of 4.0 MiB (25.0%)"
    skipped = torrent(0, wanted_size=2 * 2**20, progress=0.25, verified_bytes=2**20)
    assert size_text(skipped) == "512.0 KiB verified of 2.0 MiB chosen (25.0%) · 4.0 MiB in all"


def test_ipv6_peers_show_in_brackets(qtbot):
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    tabs.setCurrentWidget(tabs.peers)
    tabs.show_torrent(torrent(0))
    tabs.show_details(_details(peers=(peer(0, address="[2001:db8::7]:6881"), peer(1))))
    shown = {tabs.peer_model.index(row, 0).data() for row in range(tabs.peer_model.rowCount())}
    assert shown == {"[2001:db8::7]:6881", "127.0.0.3:6881"}


def test_add_peer_asks_for_an_address_and_hands_it_on(qtbot, monkeypatch):
    tabs = DetailsTabs(detached_log())
    qtbot.addWidget(tabs)
    assert tabs.add_peer_action in tabs.peer_menu(None).actions()
    assert tabs.add_peer_action in tabs.peer_menu("[::1]:6881").actions()
    assert not tabs.add_peer_action.isEnabled()  # no torrent selected
    tabs.show_torrent(torrent(0))
    assert tabs.add_peer_action.isEnabled()
    answers = iter([(" [::1]:6881 ", True), ("127.0.0.1:1", False), ("  ", True)])
    monkeypatch.setattr(QInputDialog, "getText", lambda *args, **kwargs: next(answers))
    entered: list[tuple[str, str]] = []
    tabs.peer_address_entered.connect(lambda info_hash, text: entered.append((info_hash, text)))
    for _ in range(3):
        tabs.add_peer_action.trigger()
    assert entered == [(torrent(0).info_hash, "[::1]:6881")]  # cancelled and empty: nothing
