"""A mainline DHT node (BEP 5): the asyncio UDP adapter around the pure DHT cores.

`DhtNode` owns one UDP socket of one address family (BEP 32: an IPv6 node is a node of its
own, with its own routing table, beside the IPv4 one; see dual_stack.py). It answers ping,
find_node, get_peers and announce_peer, keeps its routing table fresh, and runs iterative lookups for the session. All protocol
decisions live in krpc, routing_table, lookup, tokens, peer_store and rate_limiter; this
module only moves datagrams, futures and timers between them.

Everything after `start` goes through the loop `start` ran on (futures, timers, tasks),
never through `asyncio.get_running_loop()`: qasync runs callbacks outside `run_forever`
(its `run_until_complete` processes Qt events once more after the loop stopped), and a
callback there must still work.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from app.engine.callbacks import logged
from app.engine.dht import krpc
from app.engine.dht.krpc import Address, KrpcError, NodeInfo, Query, Response
from app.engine.dht.lookup import Lookup, LookupResult
from app.engine.dht.peer_store import PeerStore
from app.engine.dht.rate_limiter import QueryRateLimiter
from app.engine.dht.routing_table import K, NodeState, RoutingTable
from app.engine.dht.tokens import TokenKeeper
from app.engine.errors import LocalProtocolError
from app.engine.sockets import Sockets
from app.engine.tracker.compact import address_family

log = logging.getLogger(__name__)

DEFAULT_BOOTSTRAP: tuple[tuple[str, int], ...] = (
    ("router.bittorrent.com", 6881),
    ("dht.transmissionbt.com", 6881),
    ("router.utorrent.com", 6881),
)
VERSION = b"PM\x00\x01"  # BEP 5 'v': two letters for the client, two bytes of version
MAINTENANCE_INTERVAL = 1.0  # cheap: each round only looks at the clock-driven decisions of the table
REBOOTSTRAP_INTERVAL = 60.0  # an empty table (offline, routers down) retries the bootstrap this often
PINGS_PER_MAINTENANCE = 8  # questionable nodes checked per round, so a big table is not pinged at once
LOOKUP_SEEDS = 2 * K  # more than k, so a few dead entries do not shrink the first round


_logged = logged(log, "DHT")  # one bad datagram or timer must not stop the node


@dataclass(slots=True)
class _Pending:
    """A query waiting for its answer."""

    address: Address
    node_id: bytes | None  # None when we do not know who answers there yet (bootstrap, ping)
    future: asyncio.Future[Response | None]
    timer: asyncio.TimerHandle


class DhtNode(asyncio.DatagramProtocol):
    """One DHT node on one UDP port: `start`, then `get_peers` / `announce`, then `close`.

    `messages_sent` and `messages_received` count datagrams, for statistics.
    """

    DEFAULT_BOOTSTRAP = DEFAULT_BOOTSTRAP

    def __init__(
        self,
        *,
        node_id: bytes | None = None,
        bootstrap: Sequence[tuple[str, int]] = DEFAULT_BOOTSTRAP,
        clock: Callable[[], float] = time.monotonic,
        query_timeout: float = 5.0,
        max_queries_per_second: float = 100.0,
        max_queries_per_ip_per_second: float = 10.0,
        family: int = socket.AF_INET,
    ) -> None:
        if node_id is not None and len(node_id) != krpc.ID_LENGTH:
            raise ValueError(f"a node id is {krpc.ID_LENGTH} bytes")
        self.node_id = node_id or os.urandom(krpc.ID_LENGTH)
        self.family = family
        self.sibling: DhtNode | None = None  # the other family's node, for BEP 32 `want`
        self._bootstrap = tuple(bootstrap)
        self._clock = clock
        self._query_timeout = query_timeout
        now = clock()
        self._table = RoutingTable(self.node_id, now)
        self._tokens = TokenKeeper(now)
        self._store = PeerStore()
        self._limiter = QueryRateLimiter(max_queries_per_second, max_queries_per_ip_per_second, now)
        self._tids = krpc.TransactionIds(random.getrandbits(16))
        self._pending: dict[bytes, _Pending] = {}
        self._pinging: set[Address] = set()
        self._known: list[Address] = []  # nodes to ping at bootstrap (load_nodes, add_node before start)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._shared = False  # the socket belongs to someone else (one UDP port for uTP and DHT)
        self._maintenance: asyncio.TimerHandle | None = None
        self._bootstrapped: asyncio.Task[None] | None = None
        self._bootstrapped_at = now
        self._tasks: set[asyncio.Task[Any]] = set()
        self.messages_sent = 0
        self.messages_received = 0

    # ------------------------------------------------------------ public API

    @property
    def port(self) -> int:
        if self._transport is None:
            raise LocalProtocolError("the DHT node is not started")
        return int(self._transport.get_extra_info("sockname")[1])

    @property
    def node_count(self) -> int:
        """Good nodes in the routing table."""
        return len(self._table.nodes(self._clock()))

    async def start(
        self, sockets: Sockets | str = "0.0.0.0", port: int = 0, *, shared: asyncio.DatagramTransport | None = None
    ) -> None:
        """Bind the UDP socket (from the session's `Sockets`, or on an address) or use `shared`,
        whose owner hands us our datagrams, and bootstrap in the background (find_node on our
        own id)."""
        self._loop = asyncio.get_running_loop()
        self._shared = shared is not None
        if shared is not None:
            self.connection_made(shared)
        else:
            sockets = Sockets(sockets) if isinstance(sockets, str) else sockets
            await sockets.datagram(lambda: self, port=port, family=self.family)
        self._bootstrapped = self._spawn(self._bootstrap_once())
        self._bootstrapped_at = self._clock()
        self._maintenance = self._loop.call_later(MAINTENANCE_INTERVAL, self._maintain)

    async def close(self) -> None:
        self._bootstrapped = None
        if self._maintenance is not None:
            self._maintenance.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for pending in list(self._pending.values()):
            self._settle(pending, None)
        self._pending.clear()
        if self._transport is not None and not self._shared:
            self._transport.close()
        self._transport = None

    async def get_peers(self, info_hash: bytes) -> list[tuple[str, int]]:
        """Peers for `info_hash`: ours, then those found by an iterative get_peers lookup."""
        result = await self._find_peers(info_hash)
        return result.peers_with_ours

    async def announce(self, info_hash: bytes, port: int, implied_port: bool = False) -> list[tuple[str, int]]:
        """A get_peers lookup, then announce_peer to the closest nodes with their tokens (BEP 5).

        Returns the peers found on the way.
        """
        result = await self._find_peers(info_hash)
        answers = [
            self._request(
                node.address,
                krpc.AnnouncePeer(self._tids.next(), self.node_id, info_hash, port, token, implied_port, VERSION),
                node.node_id,
            )
            for node, token in result.lookup.tokens
        ]
        for answer in answers:
            await answer
        return result.peers_with_ours

    def add_node(self, host: str, port: int) -> None:
        """A node we heard of (a peer's `port` message, BEP 5): ping it; it joins the table if it answers."""
        if address_family(host) != self.family or not 0 < port < 0x10000:
            return
        if self._transport is None:
            self._known.append((host, port))
        else:
            self._ping((host, port))

    def load_nodes(self, nodes: Iterable[Sequence[Any]]) -> None:
        """Restore the nodes of `save_state()["nodes"]`: [host, port] pairs."""
        for host, port in nodes:
            self.add_node(str(host), int(port))

    def save_state(self) -> dict[str, Any]:
        """Our id (hex) and good nodes ([host, port] lists): JSON-ready, for the session store."""
        nodes = self._table.nodes(self._clock())
        return {"node_id": self.node_id.hex(), "nodes": [[node.host, node.port] for node in nodes]}

    # ------------------------------------------------------------ asyncio.DatagramProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self._transport = transport

    @_logged
    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._receive(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("DHT socket error: %s", exc)  # e.g. ICMP port unreachable: the query will time out

    # ------------------------------------------------------------ receiving

    def _receive(self, data: bytes, address: Address) -> None:
        self.messages_received += 1
        try:
            message = krpc.decode(data)
        except KrpcError as error:
            log.debug("DHT: malformed message from %s:%s: %s", *address, error)
            if error.reply is not None and self._limiter.allow(address[0], self._clock()):
                self._send(replace(error.reply, version=VERSION), address)
            return
        self._RECEIVERS[type(message)](self, message, address)

    def _on_query(self, query: Query, address: Address) -> None:
        now = self._clock()
        if not self._limiter.allow(address[0], now):
            return  # over the limit: dropped unanswered
        reply = self._ANSWERS[type(query)](self, query, address, now)
        self._send(reply, address)
        self._table.node_queried(query.sender_id, now)
        if self._table.wants(NodeInfo(query.sender_id, *address), now):
            self._ping(address)

    def _on_answer(self, answer: Response | krpc.Error, address: Address) -> None:
        pending = self._pending.get(answer.transaction_id)
        if pending is None or pending.address != address:
            return  # late, unsolicited or spoofed
        del self._pending[answer.transaction_id]
        if isinstance(answer, krpc.Error):
            log.debug("DHT: %s:%s answered error %s %s", *address, answer.code, answer.message)
            self._settle(pending, None)
            return
        if pending.node_id is None or pending.node_id == answer.sender_id:
            self._table.node_responded(NodeInfo(answer.sender_id, *address), self._clock())
        self._settle(pending, answer)

    _RECEIVERS: dict[type, Callable[[DhtNode, Any, Address], None]] = {
        krpc.Ping: _on_query,
        krpc.FindNode: _on_query,
        krpc.GetPeers: _on_query,
        krpc.AnnouncePeer: _on_query,
        krpc.Response: _on_answer,
        krpc.Error: _on_answer,
    }

    # ------------------------------------------------------------ answering queries

    def _answer_ping(self, query: krpc.Ping, address: Address, now: float) -> Response:
        return self._response(query, address)

    def _answer_find_node(self, query: krpc.FindNode, address: Address, now: float) -> Response:
        return self._response(query, address, **self._closest(query.target, query.want))

    def _answer_get_peers(self, query: krpc.GetPeers, address: Address, now: float) -> Response:
        # Nodes come with the values too (as libtorrent does), so lookups still converge.
        return self._response(
            query,
            address,
            **self._closest(query.info_hash, query.want),
            values=tuple(self._store.peers(query.info_hash, now)),
            token=self._tokens.token_for(address[0], now),
        )

    def _answer_announce_peer(self, query: krpc.AnnouncePeer, address: Address, now: float) -> Response | krpc.Error:
        if not self._tokens.is_valid(query.token, address[0], now):
            return krpc.Error(query.transaction_id, krpc.ErrorCode.PROTOCOL, "bad token", VERSION)
        # BEP 5: with implied_port, "the source port of the UDP packet should be used as the peer's port".
        port = address[1] if query.implied_port else query.port
        self._store.add(query.info_hash, (address[0], port), now)
        return self._response(query, address)

    def _response(self, query: Query, address: Address, **fields: Any) -> Response:
        # BEP 42: tell the querier the address we see it at.
        return Response(query.transaction_id, self.node_id, version=VERSION, ip=address, **fields)

    def _closest(self, target: bytes, want: tuple[bytes, ...]) -> dict[str, tuple[NodeInfo, ...]]:
        """BEP 32: the closest nodes of each family the querier `want`s, from that family's
        table (ours, or our sibling's); without `want`, of the family the query came over."""
        tables = {self.family: self._table}
        if self.sibling is not None:
            tables[self.sibling.family] = self.sibling._table
        wanted = [family for family, token in krpc.WANT_TOKENS.items() if token in want] or [self.family]
        return {
            _NODE_FIELDS[family]: tuple(tables[family].closest(target)) for family in wanted if family in tables
        }

    _ANSWERS: dict[type, Callable[[DhtNode, Any, Address, float], Response | krpc.Error]] = {
        krpc.Ping: _answer_ping,
        krpc.FindNode: _answer_find_node,
        krpc.GetPeers: _answer_get_peers,
        krpc.AnnouncePeer: _answer_announce_peer,
    }

    # ------------------------------------------------------------ sending queries

    def _send(self, message: krpc.Message, address: Address) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        self._transport.sendto(krpc.encode(message), address)
        self.messages_sent += 1

    def _request(self, address: Address, query: Query, node_id: bytes | None) -> asyncio.Future[Response | None]:
        """Send `query`; the future gives the response, or None on an error reply or a timeout."""
        assert self._loop is not None, "queries are sent only after start()"
        future: asyncio.Future[Response | None] = self._loop.create_future()
        if self._transport is None or query.transaction_id in self._pending:
            future.set_result(None)
            return future
        timer = self._loop.call_later(self._query_timeout, self._time_out, query.transaction_id)
        self._pending[query.transaction_id] = _Pending(address, node_id, future, timer)
        self._send(query, address)
        return future

    @_logged
    def _time_out(self, transaction_id: bytes) -> None:
        pending = self._pending.pop(transaction_id, None)
        if pending is None:
            return
        if pending.node_id is not None:
            self._table.node_failed(pending.node_id, self._clock())
        self._settle(pending, None)

    @staticmethod
    def _settle(pending: _Pending, answer: Response | None) -> None:
        pending.timer.cancel()
        if not pending.future.done():
            pending.future.set_result(answer)

    def _ping(self, address: Address, node_id: bytes | None = None) -> None:
        if address in self._pinging:
            return
        self._pinging.add(address)
        future = self._request(address, krpc.Ping(self._tids.next(), self.node_id, VERSION), node_id)
        future.add_done_callback(lambda _: self._pinging.discard(address))

    # ------------------------------------------------------------ lookups

    async def _find_peers(self, info_hash: bytes) -> _PeerSearch:
        if len(info_hash) != krpc.ID_LENGTH:
            raise ValueError(f"an info-hash is {krpc.ID_LENGTH} bytes")
        await self._wait_bootstrapped()
        result = await self._lookup(
            info_hash, lambda tid: krpc.GetPeers(tid, self.node_id, info_hash, VERSION)
        )
        ours = self._store.peers(info_hash, self._clock())
        return _PeerSearch(result, list(dict.fromkeys([*ours, *result.peers])))

    async def _find_node(self, target: bytes, extra_seeds: Iterable[NodeInfo] = ()) -> LookupResult:
        return await self._lookup(
            target, lambda tid: krpc.FindNode(tid, self.node_id, target, VERSION), extra_seeds
        )

    async def _lookup(
        self, target: bytes, make_query: Callable[[bytes], Query], extra_seeds: Iterable[NodeInfo] = ()
    ) -> LookupResult:
        seeds = [*self._table.closest(target, LOOKUP_SEEDS), *extra_seeds]
        lookup = Lookup(
            target, seeds, own_id=self.node_id, family=self.family, timeout=self._query_timeout
        )
        assert self._loop is not None
        answered = _Wakeup(self._loop)
        while True:
            now = self._clock()
            for node in lookup.next_queries(now):
                future = self._request(node.address, make_query(self._tids.next()), node.node_id)
                future.add_done_callback(functools.partial(self._feed_lookup, lookup, node, answered))
            deadline = lookup.next_deadline(now)
            if lookup.done or deadline is None:
                return lookup.result()
            await answered.wait(max(0.0, deadline - now))

    @_logged
    def _feed_lookup(
        self, lookup: Lookup, node: NodeInfo, answered: _Wakeup, future: asyncio.Future[Response | None]
    ) -> None:
        response = None if future.cancelled() else future.result()
        if response is None:
            lookup.on_failure(node, self._clock())
        else:
            lookup.on_response(node, response, self._clock())
        answered.set()

    # ------------------------------------------------------------ bootstrap and upkeep

    async def _wait_bootstrapped(self) -> None:
        if self._bootstrapped is None:
            raise LocalProtocolError("the DHT node is not running")
        await asyncio.shield(self._bootstrapped)

    async def _bootstrap_once(self) -> None:
        """BEP 5: find_node on our own id, through the routers and the nodes we knew before."""
        addresses = [*self._known, *await self._resolve(self._bootstrap)]
        self._known.clear()
        answers = [
            self._request(address, krpc.FindNode(self._tids.next(), self.node_id, self.node_id, VERSION), None)
            for address in dict.fromkeys(addresses)
        ]
        responses = [await answer for answer in answers]
        found = [response.nodes_of(self.family) for response in responses if response is not None]
        seeds = [node for nodes in found for node in nodes]
        await self._find_node(self.node_id, seeds)

    async def _resolve(self, hosts: Iterable[tuple[str, int]]) -> list[Address]:
        assert self._loop is not None
        addresses: list[Address] = []
        for host, port in hosts:
            family = address_family(host)
            if family is not None:  # an IP address: ours if it is of our family
                if family == self.family:
                    addresses.append((host, port))
                continue
            try:
                infos = await self._loop.getaddrinfo(host, port, family=self.family, type=socket.SOCK_DGRAM)
            except (OSError, UnicodeError) as error:
                log.info("DHT: bootstrap node %s:%s not found: %s", host, port, error)
                continue
            addresses.extend((str(info[4][0]), int(info[4][1])) for info in infos[:1])
        return addresses

    @_logged
    def _maintain(self) -> None:
        assert self._loop is not None
        self._maintenance = self._loop.call_later(MAINTENANCE_INTERVAL, self._maintain)
        now = self._clock()
        self._store.expire(now)
        for node in self._table.nodes(now, NodeState.QUESTIONABLE)[:PINGS_PER_MAINTENANCE]:
            self._ping(node.address, node.node_id)
        if len(self._table) == 0 and now - self._bootstrapped_at >= REBOOTSTRAP_INTERVAL:
            self._bootstrapped = self._spawn(self._bootstrap_once())
            self._bootstrapped_at = now
        for target in self._table.buckets_to_refresh(now):
            self._spawn(self._find_node(target))

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        assert self._loop is not None
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("DHT: background task failed", exc_info=task.exception())


class _Wakeup:
    """An event set from future callbacks and awaited with a timeout, all on one given loop.

    No wake-up is lost: callbacks only run while the lookup awaits `wait`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float) -> None:
        self._waiter = self._loop.create_future()
        timer = self._loop.call_later(timeout, self.set)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None


@dataclass(frozen=True, slots=True)
class _PeerSearch:
    lookup: LookupResult
    peers_with_ours: list[Address]


_NODE_FIELDS = {socket.AF_INET: "nodes", socket.AF_INET6: "nodes6"}  # BEP 32
