"""A refresh tick (snapshot diff -> models -> piece map) with 1,000 torrents and a 200,000-piece map.

    .venv/bin/python -m tests.bench.bench_refresh

The budget is 8 ms of main-thread time per tick. Measured as this thread's CPU time: on a
busy shared machine the wall clock also counts the time other processes had the core.
"""

import os
import random
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import statistics
import time
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.engine.snapshots import PieceState
from app.ui.models.torrents import TorrentColumn, TorrentListModel
from app.ui.state_filter import FilterCounts
from app.ui.torrent_diff import diff_torrents
from app.ui.widgets.piece_map import PieceMap
from tests.ui.factories import torrent

BUDGET = 0.008
PIECES = 200_000


def main() -> int:
    app = QApplication.instance() or QApplication([])
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
    wall = []
    for _ in range(15):  # the worst case: every torrent changes at once
        new = [replace(t, down_rate=rng.random() * 1e6) for t in known.values()]
        started = time.perf_counter()
        diff = diff_torrents(known, new)
        counts.update([known[t.info_hash] for t in diff.changed], diff.changed)
        model.apply(diff)
        wall.append(time.perf_counter() - started)
        known = {t.info_hash: t for t in new}
    print(f"refresh tick, 1,000 torrents (a tenth changing) + {PIECES:,}-piece map: "
          f"median {statistics.median(ticks) * 1000:.1f} ms CPU, max {max(ticks) * 1000:.1f} ms "
          f"(budget {BUDGET * 1000:.0f} ms)")
    print(f"refresh tick, all 1,000 torrents changing: median {statistics.median(wall) * 1000:.1f} ms wall")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
