import math
import random
from collections.abc import Iterable

from app.engine.tracker.announce_list import (
    ERROR,
    NOT_CONTACTED,
    WORKING,
    AnnounceList,
    TrackerState,
)
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry

TIERS = [["a1", "a2", "a3"], ["b1", "b2"], ["c1"]]


class NoShuffle(random.Random):
    def shuffle(self, x: list[object]) -> None:  # type: ignore[override]
        pass


def make_list(tiers: Iterable[Iterable[str]] = TIERS) -> AnnounceList:
    return AnnounceList([list(t) for t in tiers], NoShuffle())


def request(event: AnnounceEvent = AnnounceEvent.NONE, left: int = 100) -> AnnounceRequest:
    return AnnounceRequest(b"i" * 20, b"p" * 20, 6881, 0, 0, left, event)


def response(
    interval: int = 1800, min_interval: int | None = None, warning: str = ""
) -> AnnounceResponse:
    return AnnounceResponse(interval, min_interval, (), 5, 7, warning, None)


def run_round(announces: AnnounceList, now: float, working: set[str], left: int = 100) -> list[str]:
    """Play one round as TrackerManager does; the trackers named in `working` answer."""
    tried = []
    for tracker in announces.begin_round(now):
        tried.append(tracker.url)
        event = announces.event_for(tracker)
        announces.announcing(tracker)
        if tracker.url in working:
            announces.succeeded(tracker, request(event, left), response(), now)
            return tried
        announces.failed(tracker, "connection refused", now)
    announces.round_failed()
    return tried


def by_url(announces: AnnounceList, url: str) -> TrackerState:
    return next(t for t in announces.trackers() if t.url == url)


def order(announces: AnnounceList) -> list[str]:
    return [t.url for t in announces.trackers()]


def test_tiers_are_shuffled_within_themselves_only() -> None:
    tiers = [[f"a{i}" for i in range(8)], [f"b{i}" for i in range(8)]]
    orders = {tuple(order(AnnounceList(tiers, random.Random(seed)))) for seed in range(5)}
    assert len(orders) > 1
    for urls in orders:
        assert sorted(urls[:8]) == tiers[0] and sorted(urls[8:]) == tiers[1]


def test_duplicates_and_empty_tiers_are_dropped() -> None:
    announces = make_list([["a", "b", "a"], [], ["b", "c"]])
    assert [(t.url, t.tier) for t in announces.trackers()] == [("a", 0), ("b", 0), ("c", 1)]


def test_first_round_is_due_at_once_and_stops_at_the_first_answer() -> None:
    announces = make_list()
    assert announces.due_at() == 0.0
    assert run_round(announces, 0.0, working={"a1"}) == ["a1"]
    assert announces.due_at() == 1800.0
    assert by_url(announces, "a1").status == WORKING
    assert by_url(announces, "a2").status == NOT_CONTACTED


def test_tracker_that_answers_moves_to_the_front_of_its_tier() -> None:
    announces = make_list()
    assert run_round(announces, 0.0, working={"a3"}) == ["a1", "a2", "a3"]
    assert order(announces) == ["a3", "a1", "a2", "b1", "b2", "c1"]


def test_a_failed_tier_hands_over_to_the_next() -> None:
    announces = make_list()
    assert run_round(announces, 0.0, working={"b2"}) == ["a1", "a2", "a3", "b1", "b2"]
    assert order(announces) == ["a1", "a2", "a3", "b2", "b1", "c1"]
    assert by_url(announces, "a1").status == ERROR
    assert by_url(announces, "a1").message == "connection refused"


def test_dead_trackers_back_off_60_s_doubling_to_an_hour() -> None:
    announces = make_list([["dead"], ["live"]])
    now, waits = 0.0, []
    for _ in range(8):
        run_round(announces, now, working={"live"})
        dead = by_url(announces, "dead")
        waits.append(dead.retry_at - now)
        now = dead.retry_at
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_backing_off_trackers_are_skipped_and_a_good_answer_clears_the_back_off() -> None:
    announces = make_list([["t1", "t2"]])
    run_round(announces, 0.0, working={"t2"})
    assert run_round(announces, 30.0, working={"t1", "t2"}) == ["t2"]
    assert run_round(announces, 60.0, working={"t1"}) == ["t2", "t1"]
    t1 = by_url(announces, "t1")
    assert (t1.status, t1.failures, t1.retry_at) == (WORKING, 0, 0.0)


def test_when_every_tracker_fails_the_next_round_waits_for_the_first_back_off() -> None:
    announces = make_list([["a"], ["b"]])
    run_round(announces, 0.0, working=set())
    run_round(announces, 60.0, working=set())  # both fail again: each backs off 120 s
    assert announces.due_at() == 180.0
    assert announces.begin_round(100.0) == []


def test_no_trackers_means_no_announces() -> None:
    announces = make_list([])
    assert run_round(announces, 0.0, working=set()) == []
    assert announces.due_at() == math.inf


def test_next_round_waits_for_the_longer_of_interval_and_min_interval() -> None:
    announces = make_list([["a"]])
    tracker = announces.begin_round(0.0)[0]
    announces.succeeded(
        tracker, request(AnnounceEvent.STARTED), response(interval=120, min_interval=300), 0.0
    )
    assert announces.due_at() == 300.0


def test_reannounce_honours_min_interval_and_retries_dead_trackers() -> None:
    announces = make_list([["dead"], ["live"]])
    tried = []
    for tracker in announces.begin_round(0.0):
        tried.append(tracker.url)
        if tracker.url == "dead":
            announces.failed(tracker, "timed out", 0.0)
        else:
            announces.succeeded(
                tracker, request(AnnounceEvent.STARTED), response(min_interval=100), 0.0
            )
    announces.force(10.0)
    assert announces.due_at() == 100.0
    assert [t.url for t in announces.begin_round(100.0)] == ["dead", "live"]
    assert announces.due_at() == 1800.0  # the forced round was consumed


def test_started_first_then_completed_once() -> None:
    announces = make_list([["a"]])
    events = []
    for now in (0.0, 1800.0):
        tracker = announces.begin_round(now)[0]
        events.append(announces.event_for(tracker))
        announces.succeeded(tracker, request(events[-1]), response(), now)
    announces.mark_completed(2000.0)
    assert announces.due_at() == 2000.0
    for now in (2000.0, 3800.0):
        tracker = announces.begin_round(now)[0]
        events.append(announces.event_for(tracker))
        announces.succeeded(tracker, request(events[-1], left=0), response(), now)
    assert events == ["started", "", "completed", ""]


def test_completed_is_not_sent_to_a_tracker_that_met_us_as_a_seed() -> None:
    announces = make_list([["a", "b"]])
    run_round(announces, 0.0, working={"a"})
    announces.mark_completed(10.0)
    run_round(announces, 10.0, working={"b"}, left=0)  # a died: b gets 'started' with left=0
    assert by_url(announces, "b").started and not by_url(announces, "b").started_as_leecher
    assert announces.event_for(by_url(announces, "b")) == AnnounceEvent.NONE
    assert announces.event_for(by_url(announces, "a")) == AnnounceEvent.COMPLETED


def test_a_failed_started_is_sent_again() -> None:
    announces = make_list([["a"]])
    run_round(announces, 0.0, working=set())
    assert announces.event_for(by_url(announces, "a")) == AnnounceEvent.STARTED


def test_stopped_goes_only_to_trackers_that_got_started() -> None:
    announces = make_list()
    run_round(announces, 0.0, working={"b1"})
    assert [t.url for t in announces.started_trackers()] == ["b1"]
    announces.stopped(by_url(announces, "b1"))
    assert announces.started_trackers() == []


def test_answer_keeps_counts_warning_and_tracker_id() -> None:
    announces = make_list([["a"]])
    tracker = announces.begin_round(0.0)[0]
    answer = AnnounceResponse(1800, None, (), 3, 4, "slow down", b"tid")
    announces.succeeded(tracker, request(AnnounceEvent.STARTED), answer, 5.0)
    assert (tracker.seeds, tracker.peers, tracker.message) == (3, 4, "slow down")
    assert (tracker.tracker_id, tracker.answered_at) == (b"tid", 5.0)
    announces.succeeded(tracker, request(), response(), 1805.0)
    assert tracker.tracker_id == b"tid"  # BEP 3: kept when the next answer has none


def test_next_announce_per_tracker() -> None:
    announces = make_list([["a"], ["b"], ["c"]])
    run_round(announces, 0.0, working={"b"})
    assert (
        announces.next_announce(by_url(announces, "a")) == 1800.0
    )  # after its back-off, at the next round
    assert announces.next_announce(by_url(announces, "b")) == 1800.0
    assert announces.next_announce(by_url(announces, "c")) is None


def _countless(interval: int = 1800, min_interval: int | None = 300) -> AnnounceResponse:
    return AnnounceResponse(interval, min_interval, (), None, None, "", None)


def test_an_announce_without_counts_asks_for_a_scrape_at_once_then_every_min_interval():
    announces = make_list([["h"]])
    (tracker,) = announces.begin_round(0.0)
    announces.succeeded(tracker, request(AnnounceEvent.STARTED), _countless(), 10.0)
    assert (tracker.seeds, tracker.peers) == (None, None)
    assert announces.scrapes_due(10.0) == [tracker] and announces.due_at() == 10.0
    announces.scraped(tracker, ScrapeEntry(complete=4, incomplete=9, downloaded=1), 11.0)
    assert (tracker.seeds, tracker.peers) == (4, 9)
    assert announces.scrapes_due(310.0) == [] and announces.scrapes_due(311.0) == [tracker]
    assert announces.next_announce(tracker) == 10.0 + 1800  # scrapes do not move the announce
    announces.succeeded(tracker, request(), _countless(), 1810.0)  # counts left out again: kept
    assert (tracker.seeds, tracker.peers) == (4, 9) and tracker.scrape_at == 311.0


def test_no_scrape_when_the_announce_has_counts_or_the_scrape_fails():
    announces = make_list([["h"]])
    (tracker,) = announces.begin_round(0.0)
    announces.succeeded(tracker, request(AnnounceEvent.STARTED), response(), 0.0)
    assert tracker.scrape_at == math.inf and (tracker.seeds, tracker.peers) == (5, 7)
    announces.succeeded(tracker, request(), _countless(), 1800.0)
    assert announces.scrapes_due(1800.0) == [tracker]
    announces.scraped(tracker, None, 1801.0)  # no scrape URL, or we were left out: wait
    assert announces.scrapes_due(10_000.0) == []
