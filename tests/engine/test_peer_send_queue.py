"""Coalesced writes (issue 14): what a connection queues during one loop turn leaves in one write.

Counted, not timed: `CountingTransport` records each write() / writelines() call as one
write, with the bytes it carried, and each close(). The order of messages on the wire is the
order they were queued in, as when every message was written at once.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from app.engine.bitfield import Bitfield
from app.engine.peer import PeerConnection
from app.engine.peer_protocol import RESERVED
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder, encode, encode_handshake
from tests.engine.test_peer import DiskOwner, LEECH_ID, ShiftingXor
from tests.engine.test_peer_protocol import FAST, IH, PIECE, PIECES, REMOTE_ID, SEED_ID, Lookup, Owner
from tests.swarm_helpers import eventually


class CountingTransport(asyncio.Transport):
    """A transport that sends nowhere: it counts writes and keeps what each one carried."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []  # "write" and "close", in order
        self.protocol: Any = None
        self.closing = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writelines([data])

    def writelines(self, chunks: Any) -> None:
        self.writes.append(b"".join(chunks))
        self.events.append("write")

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


def messages(data: bytes, *, handshake: bool = False) -> list[m.Event]:
    decoder = WireDecoder(expect_handshake=handshake)
    decoder.feed(data)
    return [m.Piece(e.index, e.begin, bytes(e.data)) if isinstance(e, m.Piece) else e for e in decoder.events()]


def connected(owner: Owner | None, transport: CountingTransport, lookup_id: bytes = LEECH_ID) -> PeerConnection:
    torrents = {IH: owner} if owner is not None and lookup_id == SEED_ID else {}
    peer = PeerConnection(Lookup(lookup_id, torrents), None if lookup_id == SEED_ID else owner, ("127.0.0.1", 50000))
    transport.set_protocol(peer)
    peer.connection_made(transport)
    return peer


async def next_turn() -> None:
    """One turn of the loop: the send queue's flush, scheduled before this, has run."""
    await asyncio.sleep(0)


async def test_messages_queued_in_one_turn_leave_in_one_write_in_their_order() -> None:
    transport = CountingTransport()
    peer = connected(Owner(os.urandom(PIECES * PIECE), Bitfield(PIECES)), transport)
    peer.have(1)
    peer.have(2)
    peer.set_choking(False)
    peer.set_interested(True)
    peer.send(m.KeepAlive())
    assert transport.writes == []  # nothing written during the turn
    await next_turn()
    assert len(transport.writes) == 1
    assert transport.writes[0] == encode_handshake(IH, LEECH_ID, RESERVED) + b"".join(
        encode(message) for message in (m.Have(1), m.Have(2), m.Unchoke(), m.Interested(), m.KeepAlive())
    )
    peer.have(3)
    await next_turn()
    assert transport.writes[1:] == [encode(m.Have(3))]  # a later turn: a write of its own


async def test_a_have_to_forty_peers_is_one_write_each() -> None:
    transports = [CountingTransport() for _ in range(40)]
    peers = [connected(Owner(b"", Bitfield(PIECES)), transport) for transport in transports]
    await next_turn()
    for piece in range(3):  # three pieces verified in one turn
        for peer in peers:
            peer.have(piece)
    await next_turn()
    for transport in transports:
        assert transport.writes[1:] == [b"".join(encode(m.Have(piece)) for piece in range(3))]


async def test_a_closing_connection_writes_what_it_queued_before_it_hangs_up() -> None:
    transport = CountingTransport()
    peer = connected(Owner(b"", Bitfield(PIECES)), transport)
    peer.have(4)
    peer.close("done")
    assert transport.events == ["write", "close"]
    assert transport.writes == [encode_handshake(IH, LEECH_ID, RESERVED) + encode(m.Have(4))]
    await next_turn()
    assert transport.events == ["write", "close"]  # the send queue finds nothing left


async def test_an_encrypted_connection_encrypts_the_coalesced_bytes_once_in_order() -> None:
    transport = CountingTransport()
    owner = Owner(b"", Bitfield(PIECES))
    peer = PeerConnection(Lookup(LEECH_ID, {}), owner, ("127.0.0.1", 50000))
    cipher = ShiftingXor()
    peer.take_over(transport, b"", cipher)
    peer.have(5)
    peer.have(6)
    await next_turn()
    assert len(transport.writes) == 1
    plain = encode_handshake(IH, LEECH_ID, RESERVED) + encode(m.Have(5)) + encode(m.Have(6))
    assert transport.writes[0] == ShiftingXor._apply(plain, 0) and cipher.sent == len(plain)


class CachedOwner(DiskOwner):
    """Every block is in memory: the upload batch goes out in the turn its task first runs."""

    def cached_block(self, index: int, begin: int, length: int) -> memoryview | None:
        return memoryview(self.payload)[index * PIECE + begin :][:length]


async def test_blocks_served_go_out_behind_the_messages_queued_before_them() -> None:
    seed = CachedOwner(os.urandom(PIECES * PIECE), Bitfield.full(PIECES))
    transport = CountingTransport()
    peer = connected(seed, transport, SEED_ID)
    peer.data_received(encode_handshake(IH, REMOTE_ID, FAST) + encode(m.HaveNone()) + encode(m.Interested()))
    await eventually(lambda: not peer.am_choking and transport.writes, "the seed unchoked the remote")
    await next_turn()
    written = len(transport.writes)
    peer.data_received(encode(m.Request(0, 0, 16384)))  # queues nothing: the serving task starts
    peer.have(7)  # queued after the task was scheduled, so before its batch is written
    await eventually(lambda: peer.up.total == 16384, "the block was served")
    await next_turn()
    sent = messages(b"".join(transport.writes[written:]))
    assert sent == [m.Have(7), m.Piece(0, 0, seed.payload[:16384])]
    assert len(transport.writes) == written + 1  # the have rode along with the block
