"""Issue 19: with 10,000 torrents a refresh tick costs what changed, not what exists.

Counted, not timed: how many torrents the engine looks at, how many snapshots it builds,
how many it hands the bridge and how many rows the model repaints (tests/bench/bench_refresh.py and bench_startup.py measure the time).
"""

import hashlib

from app.engine.bencode import encode
from app.engine.snapshots import TorrentChanges
from app.engine.torrent import Torrent
from app.ui.bridge import EngineBridge
from app.ui.models.torrents import TorrentListModel
from app.ui.torrent_diff import TorrentDiff

COUNT = 10_000


def _metainfo(n: int) -> bytes:
    """A one-piece torrent; its data is never read (added paused)."""
    return encode({b"info": {
        b"name": f"archive-{n:05}.bin".encode(), b"piece length": 16384, b"length": 1000 + n,
        b"pieces": hashlib.sha1(str(n).encode()).digest(),
    }})


async def test_a_tick_with_ten_thousand_quiet_torrents_rebuilds_and_repaints_only_what_changed(
    session, tmp_path, monkeypatch
):
    hashes = [await session.add_torrent(_metainfo(n), tmp_path, paused=True) for n in range(COUNT)]
    built: list[Torrent] = []
    build = Torrent._build_snapshot
    monkeypatch.setattr(Torrent, "_build_snapshot", lambda self, reach: built.append(self) or build(self, reach))
    looked_at: list[Torrent] = []
    key = Torrent._quiet_key
    monkeypatch.setattr(Torrent, "_quiet_key", lambda self, reach: looked_at.append(self) or key(self, reach))
    handed: list[int] = []
    changes = session.changes
    monkeypatch.setattr(session, "changes", lambda since: _counted(changes(since), handed))
    bridge = EngineBridge(session)
    model = TorrentListModel()
    bridge.torrents_changed.connect(model.apply)
    bridge.refresh()
    assert model.rowCount() == COUNT and len(built) == COUNT
    diffs: list[TorrentDiff] = []
    repainted: list[int] = []
    bridge.torrents_changed.connect(diffs.append)
    model.dataChanged.connect(lambda top, bottom: repainted.extend(range(top.row(), bottom.row() + 1)))
    built.clear()
    looked_at.clear()
    handed.clear()
    bridge.refresh()
    # Nothing changed: no torrent looked at, none handed over, rebuilt or repainted.
    assert (looked_at, handed, built, diffs, repainted) == ([], [0], [], [], [])
    await session.resume(hashes[123])
    bridge.refresh()
    assert {t.info_hash for t in looked_at} == {bytes.fromhex(hashes[123])} and handed == [0, 1]
    assert [t.info_hash for t in built] == [bytes.fromhex(hashes[123])]
    assert [[t.info_hash for t in d.changed] for d in diffs] == [[hashes[123]]]
    assert repainted == [model.row_of(hashes[123])]


def _counted(changes: TorrentChanges, handed: list[int]) -> TorrentChanges:
    handed.append(len(changes.torrents))
    return changes
