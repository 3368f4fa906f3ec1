"""BEP 52 on the wire: a hybrid torrent reached by its v2 id (handshake and DHT), hash requests answered
(piece layers at once, leaf hashes from the data for a peer we upload to)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.engine import merkle
from app.engine.creator import create_torrent
from app.engine.dht.node import DhtNode
from app.engine.metainfo import Metainfo, parse_metainfo
from app.engine.snapshots import TorrentState
from app.engine.torrent import CHOKED_LEAF_ANSWERS
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder
from tests.hostile_peer import ScriptedPeer
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, wait_for_state

PIECE = 32 * 1024


async def next_of(peer: ScriptedPeer, kinds: tuple[type, ...], timeout: float = 10.0) -> m.Message:
    """The first message of one of `kinds` the session sends (others are skipped)."""
    decoder = WireDecoder(expect_handshake=False)
    async with asyncio.timeout(timeout):
        while True:
            data = await peer.reader.read(65536)
            assert data, "the session hung up"
            decoder.feed(data)
            for event in decoder.events():
                if isinstance(event, kinds):
                    return event


async def seeding(tmp_path: Path, format: str):  # type: ignore[no-untyped-def]
    content = random_tree(tmp_path / "seed", {"tree/a.bin": 10 * PIECE + 5, "tree/b.bin": 1000})
    return create_torrent(content / "tree", piece_length=PIECE, format=format), content


@asynccontextmanager
async def greeted_v2_seed(tmp_path: Path) -> AsyncIterator[tuple[Path, Metainfo, bytes, ScriptedPeer]]:
    """A session seeding a v2 torrent, and a scripted peer past the handshake: the content folder,
    the metainfo, the pieces root of its 10-piece file and the peer."""
    torrent, content = await seeding(tmp_path, "v2")
    meta = parse_metainfo(torrent)
    root = next(entry.pieces_root for entry in meta.files if entry.path[-1] == "a.bin")
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, content)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        peer = await ScriptedPeer.connect(session.listen_port)
        peer.send_handshake(meta.info_hash)
        await peer.read_handshake()
        try:
            yield content, meta, root, peer
        finally:
            peer.close()


async def test_a_v2_peer_reaches_a_hybrid_torrent_by_its_truncated_v2_hash(tmp_path: Path) -> None:
    torrent, content = await seeding(tmp_path, "hybrid")
    meta = parse_metainfo(torrent)
    assert meta.info_hash_v2 is not None
    async with running_session() as session:
        info_hash = await session.add_torrent(torrent, content)
        await wait_for_state(session, info_hash, TorrentState.SEEDING)
        peer = await ScriptedPeer.connect(session.listen_port)
        peer.send_handshake(meta.info_hash_v2[:20])
        assert (await peer.read_handshake()).info_hash == meta.info_hash_v2[:20]
        peer.close()


async def test_hash_requests_are_answered_with_hashes_or_a_reject(tmp_path: Path) -> None:
    async with greeted_v2_seed(tmp_path) as (content, meta, root, peer):
        peer.send(m.HashRequest(root, 1, 0, 16, 3))  # 32 KiB pieces: the piece layer is layer 1
        answer = await next_of(peer, (m.Hashes, m.HashReject))
        assert isinstance(answer, m.Hashes)
        assert answer.hashes[: 11 * 32] == meta.piece_layers[root]
        peer.send(m.HashRequest(root, 0, 0, 16, 3))  # 8 pieces' leaves: more than a peer we choke gets
        assert isinstance(await next_of(peer, (m.Hashes, m.HashReject)), m.HashReject)


async def test_a_peer_we_choke_gets_one_pieces_leaves_at_a_time_a_few_times(tmp_path: Path) -> None:
    """libtorrent asks for a failed piece's leaves once, choked or not: answered, within a budget."""
    async with greeted_v2_seed(tmp_path) as (content, meta, root, peer):
        answers = []
        for n in range(CHOKED_LEAF_ANSWERS + 1):
            peer.send(m.HashRequest(root, 0, 2 * (n % 11), 2, 4))  # one piece's two leaves
            answers.append(type(await next_of(peer, (m.Hashes, m.HashReject))))
        assert answers == [m.Hashes] * CHOKED_LEAF_ANSWERS + [m.HashReject]


async def test_leaf_hashes_are_computed_for_a_peer_we_upload_to(tmp_path: Path) -> None:
    """BEP 52: a request for a block, then for the leaf hashes of its piece, must not be rejected."""
    async with greeted_v2_seed(tmp_path) as (content, meta, root, peer):
        full = merkle.layers_above(merkle.block_hashes((content / "tree" / "a.bin").read_bytes()), 0)
        peer.send(m.Interested())
        await next_of(peer, (m.Unchoke,))
        for piece in (0, 10):  # the first piece, and the last: a short block and padding
            leaves = m.HashRequest(root, 0, 2 * piece, 2, 4)  # 32 KiB pieces: two leaves each
            peer.send(m.Request(piece, 0, merkle.BLOCK_SIZE), leaves)
            answer = await next_of(peer, (m.Hashes, m.HashReject))
            assert isinstance(answer, m.Hashes) and answer.request == leaves
            assert answer.hashes == b"".join(merkle.proof(full, 2 * piece, 2, 4))


async def test_a_hybrid_torrent_is_announced_on_the_dht_under_both_ids(tmp_path: Path) -> None:
    """BEP 52: v2 peers look a hybrid torrent up by its truncated v2 hash, v1 peers by the v1 hash."""
    nodes = [DhtNode(bootstrap=(), max_queries_per_second=1000, max_queries_per_ip_per_second=1000) for _ in range(4)]
    await nodes[0].start("127.0.0.1", 0)
    for node in nodes[1:]:
        node.add_node("127.0.0.1", nodes[0].port)
        await node.start("127.0.0.1", 0)
    torrent, content = await seeding(tmp_path, "hybrid")
    meta = parse_metainfo(torrent)
    assert meta.info_hash_v2 is not None
    try:
        async with running_session(enable_dht=True, dht_bootstrap=(("127.0.0.1", nodes[0].port),)) as session:
            await session.add_torrent(torrent, content)
            ours = ("127.0.0.1", session.listen_port)
            for info_hash in (meta.info_hash, meta.info_hash_v2[:20]):
                async with asyncio.timeout(60):
                    while ours not in await nodes[1].get_peers(info_hash):
                        await asyncio.sleep(0.5)
    finally:
        for node in nodes:
            await node.close()
