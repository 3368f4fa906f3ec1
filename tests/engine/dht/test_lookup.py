"""The lookup state machine against scripted networks: node id -> what that node answers. No sockets."""

import random
from dataclasses import dataclass, field

from app.engine.dht.krpc import Address, NodeInfo, Response
from app.engine.dht.lookup import Lookup
from app.engine.dht.routing_table import distance

TARGET = bytes(20)


def nid(value: int) -> bytes:
    return value.to_bytes(20, "big")


def info(value: int) -> NodeInfo:
    return NodeInfo(nid(value), "127.0.0.1", 1 + value % 60000)


@dataclass
class Script:
    """What one fake node answers: the nodes it returns, peers, a token; dead nodes never answer."""

    nodes: list[NodeInfo] = field(default_factory=list)
    peers: tuple[Address, ...] = ()
    alive: bool = True


Network = dict[bytes, Script]


def answer(network: Network, node: NodeInfo) -> Response | None:
    script = network[node.node_id]
    if not script.alive:
        return None
    closest = sorted(script.nodes, key=lambda n: distance(n.node_id, TARGET))[:8]
    return Response(b"tt", node.node_id, nodes=tuple(closest), values=script.peers, token=b"tk" + node.node_id[-2:])


def run(lookup: Lookup, network: Network, now: float = 0.0, step: float = 0.1) -> tuple[float, list[NodeInfo]]:
    """Pump the lookup: live nodes answer at once, dead ones never; returns the end time and the queried."""
    queried: list[NodeInfo] = []
    while not lookup.done:
        batch = lookup.next_queries(now)
        queried += batch
        for node in batch:
            response = answer(network, node)
            if response is not None:
                lookup.on_response(node, response, now)
        if not batch and not lookup.done:
            deadline = lookup.next_deadline(now)
            assert deadline is not None, "a lookup that is not done must be waiting for something"
            now = max(now + step, deadline)
    return now, queried


def kademlia_network(size: int, rng: random.Random) -> tuple[Network, list[NodeInfo]]:
    """Each node knows a few random nodes and its 8 true nearest, as a real routing table would."""
    nodes = [NodeInfo(rng.randbytes(20), "127.0.0.1", port) for port in range(1, size + 1)]
    network: Network = {}
    for node in nodes:
        nearest = sorted(nodes, key=lambda other: distance(other.node_id, node.node_id))[1:9]
        network[node.node_id] = Script(nodes=[*rng.sample(nodes, 10), *nearest])
    return network, nodes


def test_converges_on_the_true_k_closest() -> None:
    rng = random.Random(5)
    network, nodes = kademlia_network(300, rng)
    lookup = Lookup(TARGET, rng.sample(nodes, 3))
    _, queried = run(lookup, network)
    expected = sorted(nodes, key=lambda n: distance(n.node_id, TARGET))[:8]
    assert list(lookup.result().nodes) == expected
    assert len(queried) < 60  # iterative, not a flood of all 300
    assert lookup.result().queries == len(queried)


def test_sends_alpha_queries_at_a_time() -> None:
    network = {info(v).node_id: Script() for v in range(1, 11)}
    lookup = Lookup(TARGET, [info(v) for v in range(1, 11)], alpha=3)
    first = lookup.next_queries(0.0)
    assert first == [info(1), info(2), info(3)]  # the nearest first
    assert lookup.next_queries(0.1) == []
    lookup.on_response(first[0], answer(network, first[0]), 0.2)  # type: ignore[arg-type]
    assert lookup.next_queries(0.2) == [info(4)]


def test_a_slow_node_frees_its_slot_and_a_dead_one_times_out() -> None:
    network = {info(v).node_id: Script(alive=v != 1) for v in range(1, 5)}
    lookup = Lookup(TARGET, [info(v) for v in range(1, 5)], alpha=1, slow_after=1.0, timeout=5.0)
    assert lookup.next_queries(0.0) == [info(1)]  # dead: never answers
    assert lookup.next_deadline(0.0) == 1.0
    assert lookup.next_queries(0.5) == []
    assert lookup.next_queries(1.0) == [info(2)]  # info(1) is slow now: it no longer holds the slot
    assert lookup.next_deadline(1.5) == 2.0  # info(2) turns slow first; info(1) times out at 5
    lookup.on_response(info(2), answer(network, info(2)), 1.5)  # type: ignore[arg-type]
    end, _ = run(lookup, network, now=1.5)
    assert end == 5.0  # done only once the dead node, one of the k closest, has timed out
    assert list(lookup.result().nodes) == [info(2), info(3), info(4)]


def test_ends_when_nothing_closer_remains() -> None:
    network = {info(9).node_id: Script(nodes=[info(20), info(30)]), info(20).node_id: Script(), info(30).node_id: Script()}
    lookup = Lookup(TARGET, [info(9)])
    _, queried = run(lookup, network)
    assert queried == [info(9), info(20), info(30)]
    assert lookup.result().nodes == (info(9), info(20), info(30))


def test_only_the_k_closest_must_answer() -> None:
    far = [info(1000 + v) for v in range(5)]
    near = [info(v) for v in range(1, 4)]
    network = {n.node_id: Script() for n in far + near}
    network[far[0].node_id] = Script(nodes=near)
    lookup = Lookup(TARGET, far, k=3, alpha=1)
    _, queried = run(lookup, network)
    assert queried == [far[0], *near]  # the other far nodes are never asked
    assert lookup.result().nodes == tuple(near)


def test_without_seeds_the_lookup_is_done_at_once() -> None:
    lookup = Lookup(TARGET, [])
    assert lookup.done and lookup.next_queries(0.0) == [] and lookup.next_deadline(0.0) is None
    assert lookup.result().nodes == () and lookup.result().peers == ()


def test_collects_peers_once_each_and_tokens_of_the_closest() -> None:
    peers_a = (("127.0.0.5", 6881), ("127.0.0.6", 6882))
    peers_b = (("127.0.0.6", 6882), ("127.0.0.7", 0), ("127.0.0.8", 1))
    network = {
        info(5).node_id: Script(nodes=[info(1), info(2)]),
        info(1).node_id: Script(peers=peers_a),
        info(2).node_id: Script(peers=peers_b),
    }
    lookup = Lookup(TARGET, [info(5)])
    run(lookup, network)
    result = lookup.result()
    assert result.peers == (("127.0.0.5", 6881), ("127.0.0.6", 6882), ("127.0.0.8", 1))  # port 0 dropped
    assert result.tokens == tuple((n, b"tk" + n.node_id[-2:]) for n in (info(1), info(2), info(5)))


def test_a_node_answering_with_another_id_counts_as_failed() -> None:
    lookup = Lookup(TARGET, [info(1)])
    (queried,) = lookup.next_queries(0.0)
    lookup.on_response(queried, Response(b"tt", nid(77), nodes=(info(2),), token=b"x"), 0.1)
    assert lookup.done and lookup.result().nodes == () and lookup.result().tokens == ()


def test_explicit_failure_moves_on_without_waiting() -> None:
    lookup = Lookup(TARGET, [info(1), info(2)], alpha=1)
    (first,) = lookup.next_queries(0.0)
    lookup.on_failure(first, 0.1)
    assert lookup.next_queries(0.1) == [info(2)]


def test_a_late_answer_still_counts() -> None:
    network = {info(1).node_id: Script(nodes=[info(2)]), info(2).node_id: Script()}
    lookup = Lookup(TARGET, [info(1)], timeout=5.0)
    lookup.next_queries(0.0)
    assert lookup.next_queries(6.0) == [] and lookup.done  # timed out: nothing left
    lookup.on_response(info(1), answer(network, info(1)), 7.0)  # type: ignore[arg-type]
    assert not lookup.done and lookup.next_queries(7.0) == [info(2)]


def test_our_own_id_and_port_zero_are_never_queried() -> None:
    unreachable = NodeInfo(nid(3), "127.0.0.1", 0)
    lookup = Lookup(TARGET, [info(1), unreachable, info(2)], own_id=nid(2))
    assert lookup.next_queries(0.0) == [info(1)]
