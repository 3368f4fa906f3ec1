"""PeerConnection, the asyncio adapter: the hooks encryption (MSE/PE) and uTP build on.

- A transport that is not TCP works if it has the methods the adapter's docstring lists:
  `LinkedTransport` has those and nothing else (asyncio.Transport's others raise).
- `take_over` continues a connection another protocol object began, with bytes it read.
- `cipher` sees every byte both ways: a keystream that shifts with each byte would garble
  the stream if a single byte went around it.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from app.engine.bitfield import Bitfield
from app.engine.peer import PeerConnection
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder, encode, encode_handshake
from tests.engine.test_peer_protocol import FAST, IH, PIECE, PIECES, REMOTE_ID, SEED_ID, Lookup, Owner
from tests.swarm_helpers import eventually

LEECH_ID = b"-PM0100-adapterleech"


class DiskOwner(Owner):
    """The in-memory torrent of the protocol tests, with the disk side the adapter serves from."""

    async def read_block(self, index: int, begin: int, length: int) -> memoryview:
        await asyncio.sleep(0)  # a disk read takes a turn of the loop
        return memoryview(self.payload)[index * PIECE + begin :][:length]

    def cached_block(self, index: int, begin: int, length: int) -> memoryview | None:
        return None

    def prefetch(self, index: int) -> None:
        pass


class LinkedTransport(asyncio.Transport):
    """One end of an in-memory stream, as a uTP socket would be: no `socket` extra info."""

    def __init__(self, peername: tuple[str, int]) -> None:
        super().__init__()
        self.other: LinkedTransport | None = None
        self.protocol: Any = None
        self.peername = peername
        self.closing = False
        self.reading = True
        self.written = 0

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.peername if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writelines([data])

    def writelines(self, chunks: Any) -> None:
        data = b"".join(chunks)
        self.written += len(data)
        assert self.other is not None
        asyncio.get_running_loop().call_soon(self.other.deliver, data)

    def deliver(self, data: bytes) -> None:
        if not self.closing:
            self.protocol.data_received(data)  # a transport without BufferedProtocol support

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)
            assert self.other is not None
            asyncio.get_running_loop().call_soon(self.other.closed_by_other_end)

    def closed_by_other_end(self) -> None:
        if not self.closing:
            self.protocol.eof_received()

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class ShiftingXor:
    """A stand-in stream cipher: byte n is XORed with (7 * n + 1) mod 256, per direction."""

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0

    @staticmethod
    def _apply(data: bytes | memoryview, start: int) -> bytes:
        return bytes(b ^ ((7 * (start + i) + 1) & 0xFF) for i, b in enumerate(data))

    def decrypt_into(self, view: memoryview) -> None:
        view[:] = self._apply(view, self.received)
        self.received += len(view)

    def encrypt(self, data: bytes) -> bytes:
        out = self._apply(data, self.sent)
        self.sent += len(data)
        return out


async def test_two_adapters_transfer_a_torrent_over_a_non_tcp_transport() -> None:
    seed = DiskOwner(os.urandom(PIECES * PIECE), Bitfield.full(PIECES))
    leecher = DiskOwner(seed.payload, Bitfield(PIECES))
    ours, theirs = LinkedTransport(("127.0.0.1", 6881)), LinkedTransport(("127.0.0.1", 50000))
    ours.other, theirs.other = theirs, ours
    seed_side = PeerConnection(Lookup(SEED_ID, {IH: seed}), None, ("127.0.0.1", 50000))
    leech_side = PeerConnection(Lookup(LEECH_ID, {}), leecher, ("127.0.0.1", 6881))
    for transport, side in ((theirs, seed_side), (ours, leech_side)):
        transport.set_protocol(side)
        side.connection_made(transport)
    await eventually(lambda: len(leecher.received) == PIECES * 2, "every block arrived")
    assert all(data == seed.payload[p * PIECE + o :][: len(data)] for (p, o), data in leecher.received.items())
    assert seed_side.up.total == PIECES * PIECE and not seed_side.closed
    leech_side.close("done")
    await eventually(lambda: seed_side.closed, "the other end saw the close")
    assert seed.closed == ["the peer closed the connection"] and leecher.closed == ["done"]


async def test_take_over_continues_an_encrypted_connection_with_the_bytes_already_read() -> None:
    """What MSE/PE will do: its handshake object reads the first bytes (here: the peer's
    encrypted BitTorrent handshake and a message), then hands the transport over."""
    seed = DiskOwner(os.urandom(PIECES * PIECE), Bitfield.full(PIECES))
    accepted: asyncio.Future[tuple[asyncio.Transport, bytes]] = asyncio.get_running_loop().create_future()
    cipher = ShiftingXor()

    class FirstRead(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if not accepted.done():
                self.transport.pause_reading()  # type: ignore[attr-defined]
                accepted.set_result((self.transport, data))  # type: ignore[arg-type]

    server = await asyncio.get_running_loop().create_server(FirstRead, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    remote = ShiftingXor()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(remote.encrypt(encode_handshake(IH, REMOTE_ID, FAST) + encode(m.HaveNone())))
        transport, first = await asyncio.wait_for(accepted, 10)
        peer = PeerConnection(Lookup(SEED_ID, {IH: seed}), None, ("127.0.0.1", 0))
        plain = bytearray(first)
        cipher.decrypt_into(memoryview(plain))  # the handshake object decrypted what it read
        peer.take_over(transport, bytes(plain), cipher)
        transport.resume_reading()
        writer.write(remote.encrypt(encode(m.Interested())))  # read through the adapter's buffer
        decoder = WireDecoder()
        events: list[m.Event] = []
        async with asyncio.timeout(10):
            while m.Unchoke() not in events:
                data = await reader.read(65536)
                assert data, "the connection closed"
                received = bytearray(data)
                remote.decrypt_into(memoryview(received))
                decoder.feed(received)
                events += list(decoder.events())
        assert isinstance(events[0], m.Handshake) and events[0].peer_id == SEED_ID
        assert events[1:3] == [m.HaveAll(), events[2]] and isinstance(events[2], m.Extended)
        assert seed.ready == 1 and peer.peer_interested and peer.pieces == Bitfield(PIECES)
        assert peer.handshake_done.done() and peer.handshake_done.exception() is None
        assert peer.transport is transport and transport.get_extra_info("socket").type == socket.SOCK_STREAM
    finally:
        writer.close()
        server.close()
