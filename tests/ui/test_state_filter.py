from app.engine.snapshots import StopReason, TorrentState
from app.ui.state_filter import FilterCounts, StateFilter, matches
from tests.ui.factories import torrent


def test_counts_per_category():
    torrents = [
        torrent(0),
        torrent(1, state=TorrentState.SEEDING, progress=1.0),
        torrent(2, state=TorrentState.SEEDING, reason=StopReason.SEEDING_GOAL, progress=1.0),
        torrent(3, reason=StopReason.ERROR),
        torrent(4, state=TorrentState.CHECKING),
        torrent(5, reason=StopReason.QUEUED),
        torrent(6, reason=StopReason.NO_SPACE),
    ]
    counts = FilterCounts()
    counts.update([], torrents)
    assert counts.counts() == {
        StateFilter.ALL: 7,
        StateFilter.DOWNLOADING: 3,
        StateFilter.SEEDING: 1,
        StateFilter.COMPLETED: 2,
        StateFilter.PAUSED: 2,
        StateFilter.ERROR: 1,
    }


def test_a_finished_torrent_is_not_downloading():
    assert not matches(StateFilter.DOWNLOADING, torrent(0, progress=1.0))


def test_counts_follow_changes_and_removals():
    counts = FilterCounts()
    counts.update([], [torrent(0), torrent(1)])
    counts.update([torrent(0)], [torrent(0, reason=StopReason.USER)])
    counts.update([torrent(1)], [])
    assert counts.counts()[StateFilter.ALL] == 1
    assert counts.counts()[StateFilter.PAUSED] == 1
    assert counts.counts()[StateFilter.DOWNLOADING] == 0
