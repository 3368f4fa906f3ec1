"""The issue's budget: a refresh tick with 1,000 torrents and a 200,000-piece map within 8 ms.

Measured as this thread's CPU time, as the budget says: on a busy shared machine the
wall clock also counts the time other processes had the core.
"""

import random
import statistics
import time
from dataclasses import replace

from PySide6.QtCore import Qt

from app.engine.snapshots import PieceState
from app.ui.models.torrents import TorrentColumn, TorrentListModel
from app.ui.state_filter import FilterCounts
from app.ui.torrent_diff import diff_torrents
from app.ui.widgets.piece_map import PieceMap
from tests.ui.factories import torrent

BUDGET = 0.008
PIECES = 200_000


def test_a_tick_fits_the_budget(qtbot):
    rng = random.Random(5)
    model = TorrentListModel()
    model.sort(TorrentColumn.DOWN, Qt.SortOrder.DescendingOrder)
    counts = FilterCounts()
    known = {
        t.info_hash: t for t in (torrent(i, down_rate=rng.random() * 1e6) for i in range(1000))
    }
    model.apply(diff_torrents({}, known.values()))
    counts.update([], known.values())
    piece_map = PieceMap()
    qtbot.addWidget(piece_map)
    piece_map.resize(900, 300)
    pieces = bytearray(rng.choice(b"\x00\x03") for _ in range(PIECES))
    piece_map.set_pieces(bytes(pieces), bytes(PIECES), 2**14, PIECES * 2**14)
    ticks = []
    for _ in range(15):
        # A busy session: a tenth of the torrents move each tick, forty pieces change.
        new = [
            replace(t, down_rate=rng.random() * 1e6) if rng.random() < 0.1 else t
            for t in known.values()
        ]
        for index in rng.sample(range(PIECES), 40):
            pieces[index] = PieceState.REQUESTED
        started = time.thread_time()
        diff = diff_torrents(known, new)
        counts.update([known[t.info_hash] for t in diff.changed], diff.changed)
        model.apply(diff)
        piece_map.set_pieces(bytes(pieces), bytes(PIECES), 2**14, PIECES * 2**14)
        ticks.append(time.thread_time() - started)
        known = {t.info_hash: t for t in new}
    assert statistics.median(ticks) < BUDGET, (
        f"median tick {statistics.median(ticks) * 1000:.1f} ms"
    )
