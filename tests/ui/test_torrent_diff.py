from app.ui.torrent_diff import TorrentDiff, diff_torrents
from tests.ui.factories import torrent


def test_sorts_snapshots_into_added_changed_removed():
    old = {t.info_hash: t for t in (torrent(1), torrent(2), torrent(3))}
    new = [torrent(1), torrent(2, progress=0.5), torrent(4)]
    diff = diff_torrents(old, new)
    assert diff == TorrentDiff(
        added=(torrent(4),), changed=(torrent(2, progress=0.5),), removed=(torrent(3).info_hash,)
    )


def test_equal_snapshots_are_no_change():
    old = {torrent(1).info_hash: torrent(1)}
    diff = diff_torrents(old, [torrent(1)])
    assert not diff
