from app.engine.snapshots import TorrentState
from app.ui.state_filter import StateFilter, count_by_filter, matches
from tests.ui.factories import torrent


def test_counts_per_category():
    torrents = [
        torrent(0),
        torrent(1, state=TorrentState.SEEDING, progress=1.0),
        torrent(2, state=TorrentState.PAUSED, progress=1.0),
        torrent(3, state=TorrentState.ERROR),
        torrent(4, state=TorrentState.CHECKING),
    ]
    assert count_by_filter(torrents) == {
        StateFilter.ALL: 5,
        StateFilter.DOWNLOADING: 2,
        StateFilter.SEEDING: 1,
        StateFilter.COMPLETED: 2,
        StateFilter.PAUSED: 1,
        StateFilter.ERROR: 1,
    }


def test_a_finished_torrent_is_not_downloading():
    assert not matches(StateFilter.DOWNLOADING, torrent(0, progress=1.0))
