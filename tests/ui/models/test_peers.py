from PySide6.QtCore import Qt

from app.ui.models.peers import FLAGS_COLUMN, PeerModel, describe_flags
from tests.ui.factories import peer


def test_passes_qtmodeltester(qtmodeltester):
    model = PeerModel()
    model.set_items([peer(0), peer(1), peer(2)])
    model.set_items([peer(1, down_rate=1.0), peer(3)])
    qtmodeltester.check(model, force_py=True)


def test_rows_follow_the_peers_by_address():
    model = PeerModel()
    model.set_items([peer(0), peer(1)])
    inserted, removed, changed = [], [], []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: removed.append((first, last)))
    model.dataChanged.connect(lambda top, bottom: changed.append((top.row(), bottom.row())))
    model.set_items([peer(1, up_rate=10.0), peer(2)])
    assert removed == [(0, 0)]
    assert changed == [(0, 0)]
    assert inserted == [(1, 1)]
    assert [model.index(r, 0).data() for r in range(2)] == ["127.0.0.3:6881", "127.0.0.4:6881"]


def test_flags_are_explained_in_a_tooltip():
    model = PeerModel()
    model.set_items([peer(0, flags="D I")])
    tooltip = model.index(0, FLAGS_COLUMN).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip == describe_flags("D I")
    assert "incoming connection" in tooltip and "downloading from the peer" in tooltip


def test_the_connection_column_names_the_transport():
    model = PeerModel()
    model.set_items([peer(0, transport="uTP"), peer(1)])
    column = model.columnCount() - 1
    assert model.headerData(column, Qt.Orientation.Horizontal) == "Connection"
    assert [model.index(row, column).data() for row in range(2)] == ["uTP", "TCP"]


def test_a_web_seed_row_says_why_it_is_backed_off():
    model = PeerModel()
    url = "http://127.0.0.1:8000/pub/"
    model.set_items([peer(0), peer(1, address=url, client="Web seed", note="dropped: HTTP 404 Not Found")])
    assert model.index(1, 0).data() == url
    assert model.index(1, 1).data() == "Web seed — dropped: HTTP 404 Not Found"
    assert model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole) == f"{url}\ndropped: HTTP 404 Not Found"
    assert model.index(0, 1).data() == peer(0).client


def test_a_web_seed_row_counts_the_blocks_it_took_over_from_slow_peers():
    model = PeerModel()
    url = "http://127.0.0.1:8000/pub/"
    model.set_items([peer(0, address=url, client="Web seed", taken_over=125)])
    assert model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == f"{url}\ntook over 125 blocks from slow peers"


def test_an_encrypted_peer_says_so():
    model = PeerModel()
    model.set_items([peer(0, flags="D E", encrypted=True), peer(1)])
    assert "encrypted connection" in model.index(0, FLAGS_COLUMN).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == "outgoing connection, encrypted"
    assert model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole) == "outgoing connection"
