"""The choker, driven by a fake clock: tit-for-tat slots, seeding, optimistic rotation."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable

import pytest

from app.engine.choker import ChokeCandidate, Choker


def peer(key: str, down: float = 0.0, up: float = 0.0, interested: bool = True) -> ChokeCandidate:
    return ChokeCandidate(key, interested, down, up)


def swarm(**down_rates: float) -> list[ChokeCandidate]:
    """Interested peers by name, each with the rate we download from it."""
    return [peer(key, down=rate) for key, rate in down_rates.items()]


def test_the_fastest_uploaders_to_us_get_the_regular_slots() -> None:
    choker = Choker(4, rng=random.Random(0))
    peers = swarm(a=10, b=50, c=40, d=30, e=20, f=5)
    unchoked = choker.decide(0.0, peers, seeding=False)
    assert {"b", "c", "d"} < unchoked
    assert len(unchoked) == 4  # plus one optimistic among a, e, f
    assert len(unchoked & {"a", "e", "f"}) == 1


def test_seeding_ranks_by_how_fast_peers_take_data() -> None:
    choker = Choker(3, rng=random.Random(0))
    peers = [peer("a", down=99, up=1), peer("b", up=30), peer("c", up=20), peer("d", up=10)]
    unchoked = choker.decide(0.0, peers, seeding=True)
    assert {"b", "c"} < unchoked
    assert len(unchoked) == 3


def test_peers_that_are_not_interested_take_no_slot() -> None:
    choker = Choker(4, rng=random.Random(0))
    peers = [peer("fast", down=999, interested=False)] + swarm(a=3, b=2, c=1)
    assert choker.decide(0.0, peers, seeding=False) == {"a", "b", "c"}


def test_everyone_interested_is_unchoked_when_slots_are_free() -> None:
    choker = Choker(4, rng=random.Random(0))
    assert choker.decide(0.0, swarm(a=0, b=0), seeding=False) == {"a", "b"}
    assert choker.decide(10.0, [], seeding=False) == frozenset()


def test_one_slot_means_only_the_optimistic_unchoke() -> None:
    choker = Choker(1, rng=random.Random(0))
    assert len(choker.decide(0.0, swarm(a=5, b=1, c=9), seeding=False)) == 1
    with pytest.raises(ValueError):
        Choker(0)


def test_rechoke_is_due_every_interval() -> None:
    choker = Choker(rechoke_interval=10.0)
    assert choker.due(0.0)
    choker.decide(0.0, [], seeding=False)
    assert not choker.due(9.9)
    choker.decide(5.0, [], seeding=False)  # off-schedule: does not postpone the next one
    assert choker.due(10.0)


def only(keys: frozenset[Hashable]) -> str:
    (key,) = keys
    assert isinstance(key, str)
    return key


def optimistic(choker: Choker, now: float, peers: list[ChokeCandidate]) -> str:
    """The one unchoked peer outside the regular slots (all peers here are slower than x, y, z)."""
    return only(choker.decide(now, peers, seeding=False) - {"x", "y", "z"})


def test_optimistic_unchoke_rotates_every_thirty_seconds() -> None:
    choker = Choker(4, rng=random.Random(1))
    peers = swarm(x=100, y=90, z=80, a=1, b=1, c=1, d=1, e=1)
    first = optimistic(choker, 0.0, peers)
    assert optimistic(choker, 10.0, peers) == first
    assert optimistic(choker, 20.0, peers) == first
    second = optimistic(choker, 30.0, peers)
    assert second != first
    assert optimistic(choker, 50.0, peers) == second
    assert optimistic(choker, 60.0, peers) != second


def test_off_schedule_decisions_leave_the_rotation_alone() -> None:
    choker = Choker(4, rng=random.Random(2))
    peers = swarm(x=100, y=90, r=50, a=1, b=1, c=1, d=1)
    bored = [p if p.key != "r" else peer("r", interested=False) for p in peers]
    (opt,) = choker.decide(0.0, peers, seeding=False) - {"x", "y", "r"}
    # r loses interest for a while: its slot is free, and a decision off-schedule fills it.
    unchoked = choker.decide(3.0, bored, seeding=False)
    assert {"x", "y", opt} < unchoked and len(unchoked) == 4
    assert choker.decide(10.0, peers, seeding=False) == {"x", "y", "r", opt}
    assert choker.decide(20.0, peers, seeding=False) == {"x", "y", "r", opt}
    assert opt in choker.decide(25.0, bored, seeding=False)
    rotated = choker.decide(30.0, peers, seeding=False)
    assert {"x", "y", "r"} < rotated and len(rotated) == 4 and opt not in rotated


def test_off_schedule_decisions_choke_nobody_who_kept_interest() -> None:
    choker = Choker(3, rng=random.Random(0))
    choker.decide(0.0, swarm(a=10, b=9, c=1), seeding=False)
    faster = swarm(a=10, b=9, c=1, d=500)
    assert {"a", "b"} < choker.decide(5.0, faster, seeding=False)
    assert {"a", "d"} < choker.decide(10.0, faster, seeding=False)  # periodic: re-ranked


def test_a_lost_optimistic_unchoke_is_replaced_at_once() -> None:
    choker = Choker(2, rng=random.Random(0))
    peers = swarm(x=100, a=1, b=1)
    opt = only(choker.decide(0.0, peers, seeding=False) - {"x"})
    bored = [p if p.key != opt else peer(opt, interested=False) for p in peers]
    replaced = choker.decide(1.0, bored, seeding=False)
    assert opt not in replaced and len(replaced) == 2


def test_a_fast_optimistic_peer_earns_a_regular_slot() -> None:
    choker = Choker(2, rng=random.Random(0))
    opt = only(choker.decide(0.0, swarm(x=100, a=1, b=1), seeding=False) - {"x"})
    rates = {"x": 1.0, "a": 1.0, "b": 1.0, opt: 500.0}
    unchoked = choker.decide(10.0, swarm(**rates), seeding=False)
    assert opt in unchoked and len(unchoked) == 2


def test_new_peers_are_three_times_as_likely_to_be_the_optimistic_unchoke() -> None:
    picks: Counter[str] = Counter()
    rng = random.Random(3)
    old = swarm(x=100, a=1, b=1, c=1)
    for _ in range(900):
        choker = Choker(2, rng=rng)
        choker.decide(0.0, old, seeding=False)
        joined = old + swarm(new=1)
        picks[optimistic_at(choker, 100.0, joined)] += 1
    # The outgoing optimistic steps aside; the newcomer weighs 3 against 1 for each of the
    # two other old peers: 3/5 of the picks (540), 2/15 for each old peer (120).
    assert 480 <= picks["new"] <= 600, picks
    assert all(80 <= picks[k] <= 160 for k in "abc"), picks


def optimistic_at(choker: Choker, now: float, peers: list[ChokeCandidate]) -> str:
    return only(choker.decide(now, peers, seeding=False) - {"x"})
