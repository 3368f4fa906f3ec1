"""DualStackDht: an IPv4 and an IPv6 node under one id, their lookups merged (BEP 32)."""

from __future__ import annotations

import os
import socket

from app.engine.dht import DualStackDht
from app.engine.sockets import Sockets
from tests.engine.dht.helpers import unlimited_node

UNLIMITED = {"max_queries_per_second": 10_000.0, "max_queries_per_ip_per_second": 10_000.0}


async def test_peers_are_found_over_both_families_and_nodes_go_to_their_own_table() -> None:
    routers = [unlimited_node(bootstrap=()), unlimited_node(bootstrap=(), family=socket.AF_INET6)]
    await routers[0].start("127.0.0.1")
    await routers[1].start("::1")
    bootstrap = [("127.0.0.1", routers[0].port), ("::1", routers[1].port)]
    both = (socket.AF_INET, socket.AF_INET6)
    dhts = [DualStackDht(families=both, bootstrap=bootstrap, **UNLIMITED) for _ in range(2)]
    try:
        for dht in dhts:
            await dht.start(Sockets(), 0)
        assert [node.node_id for node in dhts[0].nodes.values()] == [dhts[0].node_id] * 2
        info_hash = os.urandom(20)
        await dhts[0].announce(info_hash, 6881)
        assert sorted(await dhts[1].get_peers(info_hash)) == [("127.0.0.1", 6881), ("::1", 6881)]
        assert dhts[1].node_count == 2 * len(routers)  # each node knows the router and the other dht
        saved = dhts[1].save_state()
        assert {host for host, _ in saved["nodes"]} == {"127.0.0.1", "::1"}
    finally:
        for dht in dhts:
            await dht.close()
        for router in routers:
            await router.close()


async def test_a_chosen_ipv6_address_makes_an_ipv6_only_dht() -> None:
    dht = DualStackDht(families=Sockets("::1").families, bootstrap=())
    try:
        await dht.start(Sockets("::1"), 0)
        assert list(dht.nodes) == [socket.AF_INET6]
        dht.add_node("127.0.0.1", 1)  # no node of that family: ignored, not an error
    finally:
        await dht.close()
