import random

import pytest

from app.engine.dht.krpc import NodeInfo
from app.engine.dht.routing_table import (
    GOOD_FOR,
    K,
    MAX_FAILURES,
    REFRESH_AFTER,
    NodeState,
    RoutingTable,
    distance,
    shared_prefix_bits,
)

OWN = bytes(20)


def node_id(shared: int, suffix: int = 0) -> bytes:
    """An id sharing exactly `shared` leading bits with OWN (all zeros), then `suffix` in the low bits."""
    return ((1 << (159 - shared)) | suffix).to_bytes(20, "big")


def node(shared: int, suffix: int = 0) -> NodeInfo:
    return NodeInfo(node_id(shared, suffix), "127.0.0.1", 1000 + shared * 64 + suffix)


def fill(table: RoutingTable, nodes: list[NodeInfo], now: float = 0.0) -> list[bool]:
    return [table.node_responded(n, now) for n in nodes]


def test_node_id_helper() -> None:
    assert shared_prefix_bits(node_id(0), OWN) == 0
    assert shared_prefix_bits(node_id(5, 3), OWN) == 5


def test_one_bucket_until_it_holds_k_nodes() -> None:
    table = RoutingTable(OWN, 0.0)
    assert fill(table, [node(0, i) for i in range(K)]) == [True] * K
    assert table.bucket_count == 1 and len(table) == K


def test_full_bucket_with_our_id_splits() -> None:
    table = RoutingTable(OWN, 0.0)
    fill(table, [node(0, i) for i in range(K)])  # all in the far half
    assert table.node_responded(node(1), 0.0)  # the near half: the bucket splits
    assert table.bucket_count == 2 and len(table) == K + 1


def test_full_bucket_without_our_id_caches_the_newcomer() -> None:
    table = RoutingTable(OWN, 0.0)
    fill(table, [node(0, i) for i in range(K)])
    table.node_responded(node(1), 0.0)  # split: bucket 0 (far half) no longer holds our id
    assert not table.node_responded(node(0, K), 0.0)
    assert node(0, K).node_id not in table and len(table) == K + 1


def test_splitting_keeps_the_whole_neighbourhood() -> None:
    rng = random.Random(7)
    table = RoutingTable(OWN, 0.0, rng=rng)
    nodes = [NodeInfo(rng.randbytes(20), "127.0.0.1", port) for port in range(1, 2001)]
    accepted = fill(table, nodes)
    assert table.bucket_count > 5
    assert len(table) == sum(accepted) <= K * table.bucket_count
    nearest = sorted(nodes, key=lambda n: distance(n.node_id, OWN))[:K]
    assert all(n.node_id in table for n in nearest)
    assert table.closest(OWN, K) == nearest


def test_closest_is_ordered_by_xor_distance() -> None:
    rng = random.Random(3)
    table = RoutingTable(OWN, 0.0)
    nodes = [NodeInfo(rng.randbytes(20), "127.0.0.1", port) for port in range(1, 60)]
    fill(table, nodes)
    target = rng.randbytes(20)
    kept = [n for n in nodes if n.node_id in table]
    assert table.closest(target, 10) == sorted(kept, key=lambda n: distance(n.node_id, target))[:10]


def test_states_follow_the_fifteen_minute_rule() -> None:
    table = RoutingTable(OWN, 0.0)
    a = node(3)
    table.node_responded(a, 100.0)
    assert table.state(a.node_id, 100.0 + GOOD_FOR) is NodeState.GOOD
    assert table.state(a.node_id, 100.0 + GOOD_FOR + 1) is NodeState.QUESTIONABLE
    table.node_queried(a.node_id, 2000.0)  # BEP 5: a node that replied once and queries us is good
    assert table.state(a.node_id, 2000.0) is NodeState.GOOD
    assert table.state(node(4).node_id, 0.0) is None


def test_failures_in_a_row_make_a_node_bad_and_a_reply_heals_it() -> None:
    table = RoutingTable(OWN, 0.0)
    a = node(3)
    table.node_responded(a, 0.0)
    for _ in range(MAX_FAILURES - 1):
        table.node_failed(a.node_id, 1.0)
    assert table.state(a.node_id, 1.0) is NodeState.GOOD
    table.node_failed(a.node_id, 1.0)
    assert table.state(a.node_id, 1.0) is NodeState.BAD
    assert a not in table.closest(a.node_id)
    table.node_responded(a, 2.0)
    assert table.state(a.node_id, 2.0) is NodeState.GOOD


def _far_bucket_full(table: RoutingTable) -> list[NodeInfo]:
    far = [node(0, i) for i in range(K)]
    fill(table, far)
    table.node_responded(node(1), 0.0)  # split, so the far bucket cannot split again
    return far


def test_bad_node_is_evicted_when_a_new_node_needs_the_slot() -> None:
    table = RoutingTable(OWN, 0.0)
    far = _far_bucket_full(table)
    for _ in range(MAX_FAILURES):
        table.node_failed(far[2].node_id, 1.0)
    assert far[2].node_id in table  # bad but kept: nothing waits for its slot
    newcomer = node(0, 100)
    assert table.node_responded(newcomer, 2.0)
    assert newcomer.node_id in table and far[2].node_id not in table


def test_replacement_cache_fills_the_slot_of_a_bad_node() -> None:
    table = RoutingTable(OWN, 0.0)
    far = _far_bucket_full(table)
    older, newer = node(0, 100), node(0, 101)
    assert fill(table, [older, newer], 1.0) == [False, False]
    for _ in range(MAX_FAILURES):
        table.node_failed(far[0].node_id, 2.0)
    assert far[0].node_id not in table
    assert newer.node_id in table and older.node_id not in table  # the most recently seen first
    assert table.state(newer.node_id, 2.0) is NodeState.GOOD


def test_replacement_cache_keeps_the_k_most_recent() -> None:
    table = RoutingTable(OWN, 0.0)
    far = _far_bucket_full(table)
    cached = [node(0, 100 + i) for i in range(K + 3)]
    fill(table, cached, 1.0)
    for victim in far:
        for _ in range(MAX_FAILURES):
            table.node_failed(victim.node_id, 2.0)
    assert {n.node_id for n in cached[3:]} <= {n.node_id for n in table.nodes(2.0)}
    assert not any(n.node_id in table for n in cached[:3])


def test_a_failing_cached_node_leaves_the_cache() -> None:
    table = RoutingTable(OWN, 0.0)
    far = _far_bucket_full(table)
    cached = node(0, 100)
    table.node_responded(cached, 1.0)
    table.node_failed(cached.node_id, 1.5)
    for _ in range(MAX_FAILURES):
        table.node_failed(far[0].node_id, 2.0)
    assert cached.node_id not in table and far[0].node_id in table


def test_an_id_does_not_move_to_another_address() -> None:
    table = RoutingTable(OWN, 0.0)
    a = node(3)
    table.node_responded(a, 0.0)
    assert not table.node_responded(NodeInfo(a.node_id, "127.0.0.9", 9), 1.0)
    assert table.closest(a.node_id, 1) == [a]


def test_a_new_id_at_a_known_address_replaces_the_old_one() -> None:
    table = RoutingTable(OWN, 0.0)
    a = node(3)
    table.node_responded(a, 0.0)
    restarted = NodeInfo(node_id(7), a.host, a.port)
    assert table.node_responded(restarted, 1.0)
    assert a.node_id not in table and restarted.node_id in table and len(table) == 1


def test_our_own_id_is_never_added() -> None:
    table = RoutingTable(OWN, 0.0)
    assert not table.node_responded(NodeInfo(OWN, "127.0.0.1", 1), 0.0)
    assert len(table) == 0


def test_wants_a_node_only_if_it_could_enter() -> None:
    table = RoutingTable(OWN, 0.0)
    far = _far_bucket_full(table)
    assert table.wants(node(5), 0.0)  # room near us
    assert not table.wants(node(0, 100), 0.0)  # far bucket full of good nodes
    assert not table.wants(far[0], 0.0)  # already known
    assert table.wants(node(0, 100), GOOD_FOR + 1)  # the far bucket has gone questionable


def test_no_bucket_needs_refreshing_before_fifteen_minutes() -> None:
    table = RoutingTable(OWN, 0.0)
    _far_bucket_full(table)
    assert table.buckets_to_refresh(REFRESH_AFTER - 1) == []


def test_stale_buckets_get_a_random_target_in_their_range_once() -> None:
    table = RoutingTable(OWN, 0.0, rng=random.Random(1))
    fill(table, [node(shared, suffix) for shared in range(4) for suffix in range(K)])
    targets = table.buckets_to_refresh(REFRESH_AFTER)
    assert len(targets) == table.bucket_count == 4
    assert [shared_prefix_bits(t, OWN) for t in targets[:-1]] == [0, 1, 2]
    assert shared_prefix_bits(targets[-1], OWN) >= 3
    assert table.buckets_to_refresh(REFRESH_AFTER + 1) == []


def test_a_reply_keeps_its_bucket_fresh() -> None:
    table = RoutingTable(OWN, 0.0)
    a = node(0)
    table.node_responded(a, 0.0)
    table.node_responded(a, 600.0)
    assert table.buckets_to_refresh(REFRESH_AFTER) == []
    assert len(table.buckets_to_refresh(600.0 + REFRESH_AFTER)) == 1


def test_own_id_must_be_twenty_bytes() -> None:
    with pytest.raises(ValueError):
        RoutingTable(b"short", 0.0)
