"""The DHT on each address family the session speaks: an IPv4 node and an IPv6 node (BEP 32).

BEP 32 runs the IPv6 DHT as a network of its own: its own socket, its own routing table, its
nodes in `nodes6`. Both our nodes share one id, as BEP 32 allows and libtorrent does. The
torrents see one DHT: a lookup runs on every node at once and their peers are merged; a node
a peer tells us of goes to the node of its family.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.engine.dht import krpc
from app.engine.dht.node import DEFAULT_BOOTSTRAP, DhtNode
from app.engine.sockets import Sockets
from app.engine.tracker.compact import address_family

log = logging.getLogger(__name__)

Address = tuple[str, int]


class DualStackDht:
    """One DhtNode per family in `families`: `start`, then `get_peers` / `announce`, then `close`."""

    def __init__(
        self,
        *,
        families: Sequence[int] = (socket.AF_INET,),
        node_id: bytes | None = None,
        bootstrap: Sequence[tuple[str, int]] = DEFAULT_BOOTSTRAP,
        **options: Any,
    ) -> None:
        self.node_id = node_id or os.urandom(krpc.ID_LENGTH)
        self.nodes = {
            family: DhtNode(node_id=self.node_id, bootstrap=bootstrap, family=family, **options)
            for family in families
        }
        self._link_siblings()

    @property
    def port(self) -> int:
        """The UDP port of the first node (IPv4 when there is one): the BEP 5 `port` message's."""
        return next(iter(self.nodes.values())).port

    @property
    def node_count(self) -> int:
        return sum(node.node_count for node in self.nodes.values())

    async def start(
        self, sockets: Sockets, port: int, *, shared: Mapping[int, asyncio.DatagramTransport] | None = None
    ) -> None:
        """Each node on `port`, or any port if that one is taken; a family this machine lacks
        (no IPv6) is left out, with a warning. `shared`: per family, a socket that belongs to
        someone else (uTP's), who hands the node its datagrams."""
        for family, node in list(self.nodes.items()):
            try:
                if shared and family in shared:
                    await node.start(shared=shared[family])
                else:
                    await _start_on(node, sockets, port)
            except OSError as exc:
                if family == socket.AF_INET or len(self.nodes) == 1:
                    raise
                log.warning("DHT: no IPv6 node: %s", exc.strerror or exc)
                del self.nodes[family]
        self._link_siblings()

    async def close(self) -> None:
        for node in self.nodes.values():
            await node.close()

    async def get_peers(self, info_hash: bytes) -> list[Address]:
        return _merged(await asyncio.gather(*(node.get_peers(info_hash) for node in self.nodes.values())))

    async def announce(self, info_hash: bytes, port: int, implied_port: bool = False) -> list[Address]:
        announces = (node.announce(info_hash, port, implied_port) for node in self.nodes.values())
        return _merged(await asyncio.gather(*announces))

    def add_node(self, host: str, port: int) -> None:
        node = self.nodes.get(address_family(host) or 0)
        if node is not None:
            node.add_node(host, port)

    def load_nodes(self, nodes: Iterable[Sequence[Any]]) -> None:
        """Restore `save_state()["nodes"]`: [host, port] pairs of either family."""
        for host, port in nodes:
            self.add_node(str(host), int(port))

    def save_state(self) -> dict[str, Any]:
        nodes = [pair for node in self.nodes.values() for pair in node.save_state()["nodes"]]
        return {"node_id": self.node_id.hex(), "nodes": nodes}

    def _link_siblings(self) -> None:
        """BEP 32 `want`: a node answers with the other family's nodes from its sibling."""
        ipv4, ipv6 = self.nodes.get(socket.AF_INET), self.nodes.get(socket.AF_INET6)
        if ipv4 is not None and ipv6 is not None:
            ipv4.sibling, ipv6.sibling = ipv6, ipv4


async def _start_on(node: DhtNode, sockets: Sockets, port: int) -> None:
    try:
        await node.start(sockets, port)
    except OSError:  # the UDP port is taken: any port will do for the DHT
        await node.start(sockets, 0)


def _merged(found: Iterable[list[Address]]) -> list[Address]:
    return list(dict.fromkeys(peer for peers in found for peer in peers))
