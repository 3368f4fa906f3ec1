"""DhtNode on loopback: answers to raw KRPC datagrams, and a small DHT of DhtNodes finding each other."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from app.engine import bencode
from app.engine.dht import krpc
from app.engine.dht.krpc import AnnouncePeer, Error, FindNode, GetPeers, Ping, Response
from app.engine.dht.node import VERSION, DhtNode
from app.engine.errors import LocalProtocolError
from tests.engine.dht.helpers import unlimited_node

CLIENT_ID = b"C" * 20
INFO_HASH = bytes(range(40, 60))


class Client(asyncio.DatagramProtocol):
    """A bare UDP socket speaking KRPC through the codec: it plays a remote node by hand."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[krpc.Message] = asyncio.Queue()
        self.queries: list[krpc.Query] = []  # queries the node sent us
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = krpc.decode(data)
        if isinstance(message, Response | Error):
            self.inbox.put_nowait(message)
        else:
            self.queries.append(message)

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def send(self, data: bytes, node: DhtNode) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", node.port))

    async def ask(self, message: krpc.Message, node: DhtNode) -> Response | Error:
        self.send(krpc.encode(message), node)
        return await self.answer()

    async def answer(self, timeout: float = 2.0) -> Response | Error:
        reply = await asyncio.wait_for(self.inbox.get(), timeout)
        assert isinstance(reply, Response | Error)
        return reply


async def open_client(host: str = "127.0.0.1") -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_datagram_endpoint(Client, local_addr=(host, 0))
    return client


@pytest.fixture
async def node() -> AsyncIterator[DhtNode]:
    dht = unlimited_node(bootstrap=())
    await dht.start("127.0.0.1")
    yield dht
    await dht.close()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    remote = await open_client()
    yield remote
    assert remote.transport is not None
    remote.transport.close()


async def test_ping_is_answered_with_our_id_and_the_address_we_see(node: DhtNode, client: Client) -> None:
    reply = await client.ask(Ping(b"p1", CLIENT_ID), node)
    assert reply == Response(b"p1", node.node_id, version=VERSION, ip=client.address)


async def join_table(client: Client, node: DhtNode) -> None:
    """Query `node` as CLIENT_ID and answer the ping it sends back, as a real node would."""
    await client.ask(Ping(b"p1", CLIENT_ID), node)
    async with asyncio.timeout(2):
        while not client.queries:
            await asyncio.sleep(0.01)
    ping = client.queries.pop()
    assert isinstance(ping, Ping) and ping.sender_id == node.node_id
    client.send(krpc.encode(Response(ping.transaction_id, CLIENT_ID)), node)
    async with asyncio.timeout(2):
        while node.node_count == 0:
            await asyncio.sleep(0.01)


async def test_a_new_querier_is_pinged_back_and_joins_the_table(node: DhtNode, client: Client) -> None:
    await join_table(client, node)
    reply = await client.ask(FindNode(b"f1", b"D" * 20, CLIENT_ID), node)
    assert isinstance(reply, Response)
    assert [(n.node_id, n.address) for n in reply.nodes] == [(CLIENT_ID, client.address)]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_after_fifteen_quiet_minutes_nodes_are_pinged_and_buckets_refreshed(client: Client) -> None:
    clock = FakeClock()
    dht = unlimited_node(bootstrap=(), clock=clock)
    await dht.start("127.0.0.1")
    try:
        await join_table(client, dht)
        clock.now += 15 * 60 + 1
        assert dht.node_count == 0  # questionable now
        async with asyncio.timeout(3):
            while {type(q) for q in client.queries} != {Ping, FindNode}:
                await asyncio.sleep(0.05)
        ping = next(q for q in client.queries if isinstance(q, Ping))
        client.send(krpc.encode(Response(ping.transaction_id, CLIENT_ID)), dht)
        async with asyncio.timeout(2):
            while dht.node_count == 0:
                await asyncio.sleep(0.01)
    finally:
        await dht.close()


async def test_announce_with_the_token_from_get_peers_is_stored(node: DhtNode, client: Client) -> None:
    first = await client.ask(GetPeers(b"g1", CLIENT_ID, INFO_HASH), node)
    assert isinstance(first, Response) and first.token and first.values == ()
    stored = await client.ask(AnnouncePeer(b"a1", CLIENT_ID, INFO_HASH, 6881, first.token), node)
    assert stored == Response(b"a1", node.node_id, version=VERSION, ip=client.address)
    implied = await client.ask(AnnouncePeer(b"a2", CLIENT_ID, INFO_HASH, 1, first.token, implied_port=True), node)
    assert isinstance(implied, Response)
    second = await client.ask(GetPeers(b"g2", CLIENT_ID, INFO_HASH), node)
    assert isinstance(second, Response)
    assert sorted(second.values) == sorted([("127.0.0.1", 6881), client.address])


async def test_announce_with_a_bad_token_is_refused(node: DhtNode, client: Client) -> None:
    reply = await client.ask(AnnouncePeer(b"a1", CLIENT_ID, INFO_HASH, 6881, b"forged"), node)
    assert isinstance(reply, Error) and reply.code == krpc.ErrorCode.PROTOCOL
    peers = await client.ask(GetPeers(b"g1", CLIENT_ID, INFO_HASH), node)
    assert isinstance(peers, Response) and peers.values == ()


async def test_a_token_is_bound_to_the_ip_that_asked(node: DhtNode, client: Client) -> None:
    other = await open_client("127.0.0.2")
    try:
        first = await client.ask(GetPeers(b"g1", CLIENT_ID, INFO_HASH), node)
        assert isinstance(first, Response) and first.token
        reply = await other.ask(AnnouncePeer(b"a1", b"O" * 20, INFO_HASH, 6881, first.token), node)
        assert isinstance(reply, Error)
    finally:
        assert other.transport is not None
        other.transport.close()


async def test_malformed_queries_get_errors_and_garbage_gets_nothing(node: DhtNode, client: Client) -> None:
    client.send(b"\xffnot bencode at all", node)
    client.send(bencode.encode({b"t": b"x1", b"y": b"q", b"q": b"find_node", b"a": {b"id": CLIENT_ID}}), node)
    reply = await client.answer()
    assert isinstance(reply, Error) and reply.transaction_id == b"x1" and reply.code == 203
    client.send(bencode.encode({b"t": b"x2", b"y": b"q", b"q": b"vote", b"a": {b"id": CLIENT_ID}}), node)
    reply = await client.answer()
    assert reply == Error(b"x2", 204, "Method Unknown", version=VERSION)
    assert await client.ask(Ping(b"p1", CLIENT_ID), node) == Response(
        b"p1", node.node_id, version=VERSION, ip=client.address
    )


async def test_unsolicited_responses_are_ignored(node: DhtNode, client: Client) -> None:
    client.send(krpc.encode(Response(b"zz", CLIENT_ID, nodes=(krpc.NodeInfo(b"E" * 20, "127.0.0.1", 9),))), node)
    assert isinstance(await client.ask(Ping(b"p1", CLIENT_ID), node), Response)
    assert node.node_count == 0


async def test_queries_beyond_the_per_ip_limit_are_dropped(client: Client) -> None:
    limited = DhtNode(bootstrap=(), clock=lambda: 1000.0,  # time stands still: nothing refills
                      max_queries_per_second=1000.0, max_queries_per_ip_per_second=5.0)
    await limited.start("127.0.0.1")
    other = await open_client("127.0.0.2")
    try:
        for index in range(40):
            client.send(krpc.encode(Ping(b"p%d" % index, CLIENT_ID)), limited)
        await other.ask(Ping(b"after", CLIENT_ID), limited)  # answered once the 40 were handled
        end = Response(b"end", b"E" * 20)  # queued behind every answer the node sent the client
        assert other.transport is not None
        other.transport.sendto(krpc.encode(end), client.address)
        answers = []
        async with asyncio.timeout(5):
            while (reply := await client.inbox.get()) != end:
                answers.append(reply)
        assert len(answers) == 10  # a 2-second burst of 5 a second
    finally:
        assert other.transport is not None
        other.transport.close()
        await limited.close()


async def test_a_dead_bootstrap_node_costs_one_timeout(client: Client) -> None:
    assert client.transport is not None
    silent_port = client.address[1]  # a socket that never answers
    dht = unlimited_node(bootstrap=[("127.0.0.1", silent_port)], query_timeout=0.3)
    await dht.start("127.0.0.1")
    try:
        async with asyncio.timeout(10):
            assert await dht.get_peers(INFO_HASH) == []
        assert len(client.queries) == 1  # asked once, timed out once, not asked again
        assert isinstance(client.queries[0], FindNode) and client.queries[0].target == dht.node_id
    finally:
        await dht.close()


async def test_lookups_need_a_started_node() -> None:
    with pytest.raises(LocalProtocolError):
        await DhtNode(bootstrap=()).get_peers(INFO_HASH)


async def test_add_node_pings_it_into_the_table(node: DhtNode) -> None:
    other = unlimited_node(bootstrap=())
    await other.start("127.0.0.1")
    try:
        node.add_node("127.0.0.1", other.port)
        node.add_node("not an address", 1)
        async with asyncio.timeout(2):
            while node.node_count == 0:
                await asyncio.sleep(0.01)
        assert node.save_state() == {"node_id": node.node_id.hex(), "nodes": [["127.0.0.1", other.port]]}
    finally:
        await other.close()


async def test_saved_state_restores_id_and_nodes(node: DhtNode) -> None:
    first = unlimited_node(bootstrap=[("127.0.0.1", node.port)])
    await first.start("127.0.0.1")
    await first.get_peers(INFO_HASH)  # waits for the bootstrap
    state = first.save_state()
    await first.close()
    assert state["nodes"] == [["127.0.0.1", node.port]]

    again = unlimited_node(node_id=bytes.fromhex(state["node_id"]), bootstrap=())
    again.load_nodes(state["nodes"])
    await again.start("127.0.0.1")
    try:
        await again.get_peers(INFO_HASH)
        assert again.node_id.hex() == state["node_id"] and again.node_count == 1
    finally:
        await again.close()


async def test_a_small_dht_finds_an_announced_peer() -> None:
    first = unlimited_node(bootstrap=())
    await first.start("127.0.0.1")
    nodes = [first]
    try:
        for _ in range(29):
            dht = unlimited_node(bootstrap=[("127.0.0.1", first.port)])
            await dht.start("127.0.0.1")
            nodes.append(dht)
        info_hash = os.urandom(20)
        assert await nodes[7].announce(info_hash, 51413) == []
        assert await nodes[23].get_peers(info_hash) == [("127.0.0.1", 51413)]
        assert all(dht.node_count > 0 for dht in nodes)
        assert await nodes[23].announce(info_hash, 6881, implied_port=True) == [("127.0.0.1", 51413)]
        found = await nodes[11].get_peers(info_hash)
        assert sorted(found) == sorted([("127.0.0.1", 51413), ("127.0.0.1", nodes[23].port)])
    finally:
        for dht in nodes:
            await dht.close()
