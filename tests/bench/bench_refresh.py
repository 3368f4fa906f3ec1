"""A refresh tick (what changed -> models -> piece map), sorting, filtering and scrolling.

    .venv/bin/python -m tests.bench.bench_refresh [--count 1000] [--changing 100]

Budgets: 8 ms of main-thread time per tick (`--changing` torrents move each tick, a
200,000-piece map changes; the engine's snapshot book says which, as the session's does); sorting by any column, filtering by name and scrolling one page
each stay under a frame (16 ms). Measured as this thread's CPU time: on a busy shared
machine the wall clock also counts the time other processes had the core.
"""

import argparse
import os
import random
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableView

from app.engine.snapshots import PieceState, StopReason, TorrentSnapshot, TorrentState
from app.ui.models.torrents import TorrentColumn, TorrentListModel
from app.ui.state_filter import FilterCounts
from app.engine.snapshot_book import SnapshotBook
from app.ui.torrent_diff import diff_changes, diff_torrents
from app.ui.widgets.piece_map import PieceMap
from tests.ui.factories import torrent

TICK_BUDGET = 0.008
FRAME = 0.016
PIECES = 200_000
_MIX: tuple[dict[str, object], ...] = (
    *({"state": TorrentState.SEEDING},) * 8,
    {"state": TorrentState.SEEDING, "reason": StopReason.USER},  # paused
    {"state": TorrentState.DOWNLOADING},
)


def _session(count: int, rng: random.Random) -> dict[str, TorrentSnapshot]:
    made = (
        torrent(i, down_rate=rng.random() * 1e6, **_MIX[i % len(_MIX)],
                name=f"{rng.choice(['debian', 'archive', 'ubuntu', 'texts'])}-{i}")
        for i in range(count)
    )
    return {t.info_hash: t for t in made}


def _cpu(action: Callable[[], object]) -> float:
    started = time.thread_time()
    action()
    return time.thread_time() - started


def _ticks(model: TorrentListModel, known: dict[str, TorrentSnapshot], changing: int,
           rng: random.Random) -> list[float]:
    counts = FilterCounts()
    counts.update([], known.values())
    piece_map = PieceMap()
    piece_map.resize(900, 300)
    pieces = bytearray(rng.choice(b"\x00\x03") for _ in range(PIECES))
    piece_map.set_pieces(bytes(pieces), bytes(PIECES), 2**14, PIECES * 2**14)
    book = SnapshotBook()
    for snapshot in known.values():
        book.record(snapshot)
    revision = book.revision
    ticks = []
    for _ in range(15):
        moving = set(rng.sample(list(known), changing))
        new = [replace(t, down_rate=rng.random() * 1e6) if h in moving else t for h, t in known.items()]
        for snapshot in new:
            if snapshot.info_hash in moving:
                book.record(snapshot)  # the engine's side: the busy torrents' new snapshots
        for index in rng.sample(range(PIECES), 40):
            pieces[index] = PieceState.REQUESTED

        def tick() -> None:
            nonlocal revision
            changes = book.since(revision)
            revision = changes.revision
            diff = diff_changes(known, changes)
            counts.update([known[t.info_hash] for t in diff.changed], diff.changed)
            model.apply(diff)
            piece_map.set_pieces(bytes(pieces), bytes(PIECES), 2**14, PIECES * 2**14)

        ticks.append(_cpu(tick))
        known.clear()
        known.update((t.info_hash, t) for t in new)
    return ticks


def _sorts(model: TorrentListModel) -> dict[str, float]:
    return {
        column.name.lower(): _cpu(lambda c=column: model.sort(c, Qt.SortOrder.AscendingOrder))
        for column in TorrentColumn
    }


def _scroll(model: TorrentListModel, app: QApplication) -> float:
    view = QTableView()
    view.setModel(model)
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    bar = view.verticalScrollBar()
    pages = []
    for step in range(1, 11):
        def page(s: int = step) -> None:
            bar.setValue(bar.maximum() * s // 10)
            view.viewport().repaint()
        pages.append(_cpu(page))
    view.close()
    return max(pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--changing", type=int, default=100)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    rng = random.Random(5)
    model = TorrentListModel()
    model.sort(TorrentColumn.DOWN, Qt.SortOrder.DescendingOrder)
    known = _session(args.count, rng)
    model.apply(diff_torrents({}, known.values()))
    ticks = _ticks(model, known, args.changing, rng)
    sorts = _sorts(model)
    filtering = max(_cpu(lambda w=w: model.set_search_text(w)) for w in ("deb", "debian-1", "zzz", ""))
    scroll = _scroll(model, app)
    worst_sort = max(sorts, key=sorts.__getitem__)
    print(f"refresh tick, {args.count:,} torrents ({args.changing} changing) + {PIECES:,}-piece map: "
          f"median {statistics.median(ticks) * 1000:.1f} ms CPU, max {max(ticks) * 1000:.1f} ms "
          f"(budget {TICK_BUDGET * 1000:.0f} ms)")
    print(f"sort by any column: worst {sorts[worst_sort] * 1000:.1f} ms ({worst_sort}) "
          f"(budget {FRAME * 1000:.0f} ms)")
    print(f"filter by name: worst {filtering * 1000:.1f} ms (budget {FRAME * 1000:.0f} ms)")
    print(f"scroll one tenth and repaint: worst {scroll * 1000:.1f} ms (budget {FRAME * 1000:.0f} ms)")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
