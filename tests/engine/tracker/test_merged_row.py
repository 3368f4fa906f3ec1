"""One tracker row from its states under a hybrid torrent's two ids (pure)."""

from app.engine.tracker.announce_list import ANNOUNCING, ERROR, NOT_CONTACTED, WORKING, TrackerState
from app.engine.tracker.merged_row import merged_row

URL = "http://tracker.test/announce"


def state(status: str, message: str = "", seeds: int | None = None, peers: int | None = None,
          answered: float | None = None, failed: float | None = None) -> TrackerState:
    return TrackerState(URL, 2, status=status, message=message, seeds=seeds, peers=peers,
                        answered_at=answered, failed_at=failed)


def test_one_id_is_shown_as_it_is() -> None:
    row = merged_row([state(WORKING, "slow down", 3, 4, answered=5.0)])
    assert (row.url, row.tier, row.status, row.message, row.seeds, row.peers, row.answered_at) == (
        URL, 2, WORKING, "slow down", 3, 4, 5.0)


def test_the_liveliest_status_shows() -> None:
    assert merged_row([state(WORKING), state(ANNOUNCING)]).status == ANNOUNCING
    assert merged_row([state(ERROR, "refused"), state(WORKING)]).status == WORKING
    assert merged_row([state(NOT_CONTACTED), state(ERROR, "refused")]).status == ERROR
    assert merged_row([state(NOT_CONTACTED), state(NOT_CONTACTED)]).status == NOT_CONTACTED


def test_a_working_ids_warning_comes_before_the_other_ids_failure() -> None:
    assert merged_row([state(ERROR, "unregistered torrent"), state(WORKING, "be nice")]).message == "be nice"
    assert merged_row([state(ERROR, "unregistered torrent"), state(WORKING)]).message == "unregistered torrent"


def test_counts_and_times_are_the_largest_known() -> None:
    row = merged_row([state(WORKING, seeds=5, peers=2, answered=10.0),
                      state(ERROR, seeds=None, peers=7, answered=3.0, failed=12.0)])
    assert (row.seeds, row.peers, row.answered_at, row.failed_at) == (5, 7, 10.0, 12.0)
    assert merged_row([state(NOT_CONTACTED), state(NOT_CONTACTED)]).seeds is None
