"""One tracker's row from its states under each id of a torrent (a BEP 52 hybrid has two).

Pure. The liveliest status shows: an announce in flight, else a working id, else a failing one.
The swarm counts are the largest either id reported, as libtorrent's update_scrape_state takes
the largest over protocol versions (most peers of a hybrid swarm announce under both ids, so a
sum would count them twice). A failing id's message shows even while the other id works.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.engine.tracker.announce_list import ANNOUNCING, ERROR, NOT_CONTACTED, WORKING, TrackerState

_LIVELINESS = {NOT_CONTACTED: 0, ERROR: 1, WORKING: 2, ANNOUNCING: 3}


@dataclass(frozen=True, slots=True)
class TrackerRow:
    url: str
    tier: int
    status: str
    message: str
    seeds: int | None
    peers: int | None
    answered_at: float | None
    failed_at: float | None


def merged_row(states: Sequence[TrackerState]) -> TrackerRow:
    """`states`: one tracker URL's state under each id, at least one."""
    status = max((state.status for state in states), key=_LIVELINESS.__getitem__)
    return TrackerRow(
        url=states[0].url,
        tier=states[0].tier,
        status=status,
        message=_message(states, status),
        seeds=_largest(state.seeds for state in states),
        peers=_largest(state.peers for state in states),
        answered_at=_largest(state.answered_at for state in states),
        failed_at=_largest(state.failed_at for state in states),
    )


def _message(states: Sequence[TrackerState], status: str) -> str:
    """The shown status's own message (a warning, a failure) first, else another id's failure."""
    ordered = sorted(states, key=lambda state: state.status != status)
    return next((state.message for state in ordered if state.message), "")


def _largest[T: (int, float)](values: Iterable[T | None]) -> T | None:
    return max((value for value in values if value is not None), default=None)
