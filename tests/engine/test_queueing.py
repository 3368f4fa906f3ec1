"""The queue from small tables: "d" downloads, "s" complete (would seed); upper case runs."""

from __future__ import annotations

import pytest

from app.engine.queueing import QueueEntry, QueueLimits, SeedingGoal, plan_queue, share_ratio


def entries(pattern: str) -> list[QueueEntry]:
    """One letter per torrent, in queue order; its key is its position."""
    return [QueueEntry(i, i, c.lower() == "s", c.isupper()) for i, c in enumerate(pattern)]


def test_no_limits_start_everything() -> None:
    plan = plan_queue(entries("dDsS"), QueueLimits())
    assert plan.active == {0, 1, 2, 3}
    assert plan.start == (0, 2) and plan.queue == ()


def test_the_first_downloads_in_the_queue_run() -> None:
    plan = plan_queue(entries("dddd"), QueueLimits(max_downloads=2))
    assert plan.start == (0, 1)
    assert plan.queue == ()


def test_a_torrent_ahead_in_the_queue_takes_the_place_of_one_behind() -> None:
    plan = plan_queue(entries("dDD"), QueueLimits(max_downloads=2))
    assert plan.start == (0,)
    assert plan.queue == (2,)


def test_downloads_and_seeds_have_their_own_limits() -> None:
    plan = plan_queue(entries("SDSDS"), QueueLimits(max_downloads=1, max_seeds=2))
    assert plan.active == {0, 1, 2}
    assert plan.queue == (3, 4)


def test_position_not_list_order_decides() -> None:
    shuffled = [QueueEntry("late", 9, False, True), QueueEntry("early", 1, False, False)]
    plan = plan_queue(shuffled, QueueLimits(max_downloads=1))
    assert plan.start == ("early",) and plan.queue == ("late",)


@pytest.mark.parametrize(
    ("goal", "ratio", "seconds", "reached"),
    [
        (SeedingGoal(), 100.0, 10**9, False),
        (SeedingGoal(ratio=2.0), 1.99, 0, False),
        (SeedingGoal(ratio=2.0), 2.0, 0, True),
        (SeedingGoal(seconds=3600), 0.0, 3599, False),
        (SeedingGoal(seconds=3600), 0.0, 3600, True),
        (SeedingGoal(ratio=2.0, seconds=3600), 2.5, 10, True),
    ],
)
def test_seeding_goal(goal: SeedingGoal, ratio: float, seconds: float, reached: bool) -> None:
    assert goal.reached(ratio, seconds) is reached


def test_share_ratio_of_a_torrent_seeded_from_its_own_data_counts_its_size() -> None:
    assert share_ratio(300, 100, 1000) == 3.0
    assert share_ratio(500, 0, 1000) == 0.5
    assert share_ratio(0, 0, 0) == 0.0
