"""One peer connection: the asyncio transport around the sans-I/O wire codec.

The peer keeps its own protocol state (who chokes whom, what the remote has, which of our
requests are in flight, what it asked us for) and hands everything shared (piece picker,
piece buffers, disk) to its owner, the torrent, through the `PeerOwner` protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from app.engine.bitfield import Bitfield
from app.engine.errors import EngineError, RemoteProtocolError
from app.engine.peer_id import client_name
from app.engine.rate import RateMeter
from app.engine.wire import messages as m
from app.engine.wire.codec import (
    BLOCK_SIZE,
    MAX_ACCEPTED_BLOCK,
    WireDecoder,
    encode,
    encode_handshake,
    encode_request,
    piece_header,
)

if TYPE_CHECKING:
    from app.engine.piece_picker import Block

log = logging.getLogger(__name__)

MAX_UPLOAD_QUEUE = 500  # requests we hold for one peer; libtorrent advertises 500 too (reqq)
MIN_PIPELINE = 128
MAX_PIPELINE = 2000
SEND_BATCH = 256 * 1024  # bytes of blocks handed to the socket at once
PIPELINE_SECONDS = 2.0  # keep this many seconds of the peer's rate in flight


class PeerOwner(Protocol):
    """What a peer needs from the torrent it belongs to."""

    info_hash: bytes
    num_pieces: int

    def peer_ready(self, peer: PeerConnection) -> None: ...
    def peer_closed(self, peer: PeerConnection, reason: str) -> None: ...
    def peer_pieces_changed(self, peer: PeerConnection, new: Bitfield | int) -> None: ...
    def request_blocks(self, peer: PeerConnection, count: int) -> list[Block]: ...
    def block_received(self, peer: PeerConnection, block: Block, data: memoryview) -> None: ...
    def blocks_returned(self, peer: PeerConnection, blocks: list[Block]) -> None: ...
    def interest_changed(self, peer: PeerConnection) -> None: ...
    def valid_request(self, request: m.Request) -> bool: ...
    async def read_block(self, index: int, begin: int, length: int) -> bytes | memoryview: ...
    def prefetch(self, index: int) -> None: ...
    def cached_block(self, index: int, begin: int, length: int) -> memoryview | None: ...
    def our_bitfield(self) -> Bitfield: ...


class Lookup(Protocol):
    """Finds the torrent an incoming handshake asks for (the session)."""

    peer_id: bytes

    def torrent_for(self, info_hash: bytes) -> PeerOwner | None: ...


class PeerConnection(asyncio.BufferedProtocol):
    """Signals to the owner: ready, pieces changed, blocks received/returned, closed."""

    def __init__(self, lookup: Lookup, owner: PeerOwner | None, address: tuple[str, int]):
        self.lookup = lookup
        self.owner = owner
        self.address = address
        self.incoming = owner is None
        self.transport: asyncio.Transport | None = None
        self.decoder = WireDecoder()
        self.remote_id = b""
        self.client = ""
        self.pieces: Bitfield | None = None
        self.am_choking = True
        self.am_interested = False
        self.peer_choking = True
        self.peer_interested = False
        self.outstanding: dict[tuple[int, int], Block] = {}
        self.pipeline = MIN_PIPELINE
        self.upload_queue: deque[m.Request] = deque()
        self.down = RateMeter(window=3.0)
        self.up = RateMeter(window=3.0)
        self.last_received = time.monotonic()
        self.last_piece = self.last_received
        self.last_sent = self.last_received
        self.connected_at = self.last_received
        self.unsolicited = 0
        self.closed = False
        self.close_reason = ""
        self._ready = False
        self._serving = False
        self._prefetched = -1
        self._write_ok = asyncio.Event()
        self._write_ok.set()
        self.handshake_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=4 * 1024 * 1024)
        if self.owner is not None:
            self._send_handshake(self.owner.info_hash)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.decoder.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.decoder.buffer_updated(nbytes)
        self.last_received = time.monotonic()
        try:
            for event in self.decoder.events():
                _HANDLERS[type(event)](self, event)
                if self.closed:
                    return
        except EngineError as exc:
            self.close(str(exc))

    def eof_received(self) -> bool:
        self.close("the peer closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish(self.close_reason or (str(exc) if exc else "connection closed"))

    def pause_writing(self) -> None:
        self._write_ok.clear()

    def resume_writing(self) -> None:
        self._write_ok.set()

    # commands from the owner

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.close_reason = reason
        log.debug("closing %s: %s", self.address_text, reason)
        if self.transport is not None:
            self.transport.close()
        self._finish(reason)

    def send(self, message: m.Message) -> None:
        self._write(encode(message))

    def set_interested(self, interested: bool) -> None:
        if interested != self.am_interested:
            self.am_interested = interested
            self.send(m.Interested() if interested else m.NotInterested())
            if interested:
                self.fill_pipeline()

    def set_choking(self, choking: bool) -> None:
        if choking != self.am_choking:
            self.am_choking = choking
            self.send(m.Choke() if choking else m.Unchoke())
            if choking:
                self.upload_queue.clear()  # BEP 3: a choke discards the peer's pending requests

    def fill_pipeline(self) -> None:
        """Keep `pipeline` blocks in flight: enough of this peer's rate to fill the link."""
        if self.peer_choking or not self.am_interested or self.owner is None:
            return
        wanted = self.pipeline - len(self.outstanding)
        if wanted < max(1, self.pipeline // 4):
            return
        blocks = self.owner.request_blocks(self, wanted)
        if not blocks:
            return
        for block in blocks:
            self.outstanding[(block.piece, block.offset)] = block
        self._write(b"".join(encode_request(b.piece, b.offset, b.length) for b in blocks))

    def cancel(self, block: Block) -> None:
        if self.outstanding.pop((block.piece, block.offset), None) is not None:
            self.send(m.Cancel(block.piece, block.offset, block.length))

    def abort_requests(self) -> list[Block]:
        """Forget every request in flight (choked, snubbed, timed out); returns them."""
        blocks = list(self.outstanding.values())
        self.outstanding.clear()
        return blocks

    def tick(self, elapsed: float) -> None:
        """Once a second: settle rates and size the request pipeline from the download rate."""
        self.down.tick(elapsed)
        self.up.tick(elapsed)
        depth = int(self.down.rate * PIPELINE_SECONDS / BLOCK_SIZE)
        self.pipeline = max(MIN_PIPELINE, min(MAX_PIPELINE, depth))
        self.fill_pipeline()

    def have(self, index: int) -> None:
        self.send(m.Have(index))

    # reading the state

    @property
    def address_text(self) -> str:
        host, port = self.address[0], self.address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def is_seed(self) -> bool:
        return self.pieces is not None and self.pieces.is_complete()

    # internals

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)
            self.last_sent = time.monotonic()

    def _write_chunks(self, chunks: list[bytes | memoryview]) -> None:
        if self.transport is not None and not self.closed:
            self.transport.writelines(chunks)  # one sendmsg() for many blocks, no concatenation
            self.last_sent = time.monotonic()

    def _send_handshake(self, info_hash: bytes) -> None:
        self._write(encode_handshake(info_hash, self.lookup.peer_id))

    def _finish(self, reason: str) -> None:
        self.closed = True
        if not self.handshake_done.done():
            self.handshake_done.set_exception(ConnectionError(reason))
            self.handshake_done.exception()  # mark retrieved: nobody may be waiting
        self._write_ok.set()
        if self.owner is not None and self._ready:
            self._ready = False
            self.owner.peer_closed(self, reason)

    def _require_ready(self) -> PeerOwner:
        if self.owner is None or not self._ready:
            raise RemoteProtocolError("message before the handshake")
        return self.owner

    def _on_handshake(self, hs: m.Handshake) -> None:
        if self.owner is None:
            owner = self.lookup.torrent_for(hs.info_hash)
            if owner is None:
                raise RemoteProtocolError("handshake for a torrent we do not have")
            self.owner = owner
            self._send_handshake(hs.info_hash)
        elif hs.info_hash != self.owner.info_hash:
            raise RemoteProtocolError("handshake with the wrong info-hash")
        if hs.peer_id == self.lookup.peer_id:
            raise RemoteProtocolError("connected to ourselves")
        self.remote_id = hs.peer_id
        self.client = client_name(hs.peer_id)
        num_pieces = self.owner.num_pieces
        self.decoder.max_message = max(MAX_ACCEPTED_BLOCK + 13, (num_pieces + 7) // 8 + 1, 1 << 20)
        ours = self.owner.our_bitfield()
        if ours.count:
            self.send(m.BitfieldMessage(ours.to_bytes()))
        self._ready = True
        self.handshake_done.set_result(None)
        self.owner.peer_ready(self)

    def _on_keep_alive(self, msg: m.KeepAlive) -> None:
        pass

    def _on_choke(self, msg: m.Choke) -> None:
        owner = self._require_ready()
        self.peer_choking = True
        owner.blocks_returned(self, self.abort_requests())  # BEP 3: choked requests are dropped

    def _on_unchoke(self, msg: m.Unchoke) -> None:
        self._require_ready()
        self.peer_choking = False
        self.fill_pipeline()

    def _on_interested(self, msg: m.Interested) -> None:
        owner = self._require_ready()
        self.peer_interested = True
        owner.interest_changed(self)

    def _on_not_interested(self, msg: m.NotInterested) -> None:
        owner = self._require_ready()
        self.peer_interested = False
        owner.interest_changed(self)

    def _on_have(self, msg: m.Have) -> None:
        owner = self._require_ready()
        if msg.index >= owner.num_pieces:
            raise RemoteProtocolError(f"have for piece {msg.index}, which does not exist")
        if self.pieces is None:
            self.pieces = Bitfield(owner.num_pieces)
        if self.pieces.add(msg.index):
            owner.peer_pieces_changed(self, msg.index)

    def _on_bitfield(self, msg: m.BitfieldMessage) -> None:
        owner = self._require_ready()
        if self.pieces is not None:
            raise RemoteProtocolError("bitfield sent after other messages")
        self.pieces = Bitfield.from_bytes(msg.data, owner.num_pieces)
        owner.peer_pieces_changed(self, self.pieces)

    def _on_request(self, msg: m.Request) -> None:
        owner = self._require_ready()
        if not owner.valid_request(msg):
            raise RemoteProtocolError(f"request outside the torrent: piece {msg.index}+{msg.begin}")
        if msg.length > BLOCK_SIZE or self.am_choking or len(self.upload_queue) >= MAX_UPLOAD_QUEUE:
            return  # BEP 3: we serve at most 16 KiB blocks and only to unchoked peers
        self.upload_queue.append(msg)
        if msg.index != self._prefetched:
            self._prefetched = msg.index
            owner.prefetch(msg.index)  # start the disk read now, not when the request is due
        if not self._serving:
            self._serving = True
            asyncio.ensure_future(self._serve())

    def _on_piece(self, msg: m.Piece) -> None:
        owner = self._require_ready()
        block = self.outstanding.pop((msg.index, msg.begin), None)
        if block is None or block.length != len(msg.data):
            self.unsolicited += 1
            if self.unsolicited > 2 * MAX_PIPELINE:
                raise RemoteProtocolError("too many blocks we did not ask for")
            return
        self.down.add(block.length)
        self.last_piece = self.last_received
        owner.block_received(self, block, msg.data)  # type: ignore[arg-type]
        self.fill_pipeline()

    def _on_cancel(self, msg: m.Cancel) -> None:
        self._require_ready()
        try:
            self.upload_queue.remove(m.Request(msg.index, msg.begin, msg.length))
        except ValueError:
            pass

    def _on_ignored(self, msg: m.Message) -> None:
        self._require_ready()

    async def _serve(self) -> None:
        """Send requested blocks in order, many per system call; waits while the socket is full."""
        try:
            while self.upload_queue and not self.closed and self.owner is not None:
                await self._write_ok.wait()
                chunks = await self._next_batch(self.owner)
                if self.closed or self.am_choking:
                    break
                if chunks:
                    self._write_chunks(chunks)
        except EngineError as exc:
            self.close(f"could not read a block to upload: {exc}")
        finally:
            self._serving = False

    async def _next_batch(self, owner: PeerOwner) -> list[bytes | memoryview]:
        """Headers and data of the queued blocks already in memory (at least one block)."""
        chunks: list[bytes | memoryview] = []
        size = 0
        while self.upload_queue and size < SEND_BATCH:
            req = self.upload_queue[0]
            data = owner.cached_block(req.index, req.begin, req.length)
            if data is None:
                if chunks:
                    break  # send what is ready before waiting for the disk
                data = await owner.read_block(req.index, req.begin, req.length)
                if not self.upload_queue or self.upload_queue[0] is not req:
                    continue  # cancelled or choked while we read
            self.upload_queue.popleft()
            chunks += (piece_header(req.index, req.begin, len(data)), data)
            size += len(data)
        self.up.add(size)
        return chunks

_HANDLERS: dict[type, Callable[[PeerConnection, m.Event], None]] = {
    m.Handshake: PeerConnection._on_handshake,
    m.KeepAlive: PeerConnection._on_keep_alive,
    m.Choke: PeerConnection._on_choke,
    m.Unchoke: PeerConnection._on_unchoke,
    m.Interested: PeerConnection._on_interested,
    m.NotInterested: PeerConnection._on_not_interested,
    m.Have: PeerConnection._on_have,
    m.BitfieldMessage: PeerConnection._on_bitfield,
    m.Request: PeerConnection._on_request,
    m.Piece: PeerConnection._on_piece,
    m.Cancel: PeerConnection._on_cancel,
    m.Port: PeerConnection._on_ignored,
    m.Suggest: PeerConnection._on_ignored,
    m.HaveAll: PeerConnection._on_ignored,
    m.HaveNone: PeerConnection._on_ignored,
    m.Reject: PeerConnection._on_ignored,
    m.AllowedFast: PeerConnection._on_ignored,
    m.Extended: PeerConnection._on_ignored,
}  # type: ignore[dict-item]
