"""One peer connection: the asyncio transport around the sans-I/O wire codec.

The peer keeps its own protocol state (who chokes whom, what the remote has, which of our
requests are in flight, what it asked us for) and hands everything shared (piece picker,
piece buffers, disk) to its owner, the torrent, through the `PeerOwner` protocol.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from app.engine.bitfield import Bitfield
from app.engine.errors import EngineError, RemoteProtocolError
from app.engine.peer_id import client_name
from app.engine.rate import RateMeter
from app.engine.wire import extension as ext
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
    from app.engine.rate_limit import Throttle
    from app.engine.transport.mse import Rc4Stream

log = logging.getLogger(__name__)

# BEP 10 extension protocol (byte 5, 0x10), BEP 5 DHT (byte 7, 0x01), BEP 6 fast (byte 7, 0x04).
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
MAX_UPLOAD_QUEUE = 2000  # requests we hold for one peer (advertised as reqq, BEP 10)
MIN_PIPELINE = 128
MAX_PIPELINE = 2000
READ_AHEAD_PIECES = 4
SEND_BATCH = 256 * 1024  # bytes of blocks handed to the socket at once
WRITE_BUFFER_HIGH = 4 * 1024 * 1024  # bytes queued in the transport before we stop serving
PIPELINE_SECONDS = 2.0  # keep this many seconds of the peer's rate in flight
PIECE_HEADER = 13  # BEP 3: length, id, index, begin in front of a block
MAX_ALLOWED_FAST = 64  # BEP 6 allowed fast pieces we keep from one peer (k is 10 in the BEP)
MAX_SUGGESTED = 8  # BEP 6 suggestions we keep from one peer, the newest
MAX_SUGGESTS = 4  # BEP 6 suggestions we send one peer over its connection
FAST_SERVINGS = 3  # a choked peer gets its allowed fast pieces at most this many times over
# BEP 9: before the metadata, a `have` may name any piece of an info dictionary we would accept
# (one 20-byte SHA-1 per piece).
MAX_EARLY_PIECES = ext.MAX_METADATA_SIZE // 20


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
    def suggestions(self, peer: PeerConnection) -> list[int]: ...  # pieces worth a BEP 6 suggest
    def our_bitfield(self) -> Bitfield | None: ...  # None until the metadata is known
    def our_extension_handshake(self, peer: PeerConnection) -> ext.ExtensionHandshake: ...
    def extension_handshake(self, peer: PeerConnection, handshake: ext.ExtensionHandshake) -> None: ...
    def metadata_message(self, peer: PeerConnection, message: ext.MetadataMessage) -> None: ...
    def pex_received(self, peer: PeerConnection, message: ext.PexMessage) -> None: ...
    def dht_port(self, peer: PeerConnection, port: int) -> None: ...


class Lookup(Protocol):
    """Finds the torrent an incoming handshake asks for (the session)."""

    peer_id: bytes
    dht_port: int | None  # our DHT node's UDP port, sent to peers in a `port` message

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
        self.throttle: Throttle | None = None  # the torrent's rate limits, set when the peer joins it
        self.fast = False  # both sides speak BEP 6
        self.allowed_fast: set[int] = set()  # BEP 6: pieces the peer serves us even while choking us
        self.suggested: deque[int] = deque(maxlen=MAX_SUGGESTED)  # BEP 6 hints, newest last
        self.fast_offered: frozenset[int] = frozenset()  # BEP 6: pieces we serve it while choking it
        self._fast_budget = 0  # bytes of those we still serve it while choked
        self._suggests_sent = 0
        # BEP 9: what the peer said of its pieces before we knew how many there are.
        self._early: m.BitfieldMessage | m.HaveAll | m.HaveNone | None = None
        self._early_haves: Bitfield | None = None
        self.remote_extensions: ext.ExtensionHandshake | None = None  # BEP 10, once received
        self.pex = ext.PexState()
        self.closed = False
        self.close_reason = ""
        self.cipher: Rc4Stream | None = None  # MSE/PE: RC4 both ways, set before connection_made
        self.encrypted = False
        self._received: memoryview | None = None  # where the transport writes the next bytes
        self._ready = False
        self._serving = False
        self._serve_task: asyncio.Task[None] | None = None  # the upload loop, kept from the GC
        self._write_ok = asyncio.Event()
        self._write_ok.set()
        self.handshake_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        if self.owner is not None:
            self._send_handshake(self.owner.info_hash)

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer = self.decoder.get_buffer(sizehint)
        if self.throttle is not None:
            buffer = buffer[: self.throttle.read_bytes(len(buffer))]  # a limited peer is read in sips
        self._received = buffer
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.cipher is not None and self._received is not None:
            self.cipher.decrypt_into(self._received[:nbytes])
        self._received = None
        self.decoder.buffer_updated(nbytes)
        self._decode()

    def receive_decrypted(self, data: bytes) -> None:
        """The stream's first bytes, received (and decrypted) by the MSE handshake before us."""
        self.decoder.feed(data)
        self._decode()

    def _decode(self) -> None:
        try:
            for event in self.decoder.events():
                self.last_received = time.monotonic()  # whole messages only: a dribble is idle
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
        # Dropped for breaking the protocol (a RemoteProtocolError being handled): the user
        # may want to know who and why (INFO); ordinary goodbyes stay DEBUG.
        level = logging.INFO if isinstance(sys.exception(), RemoteProtocolError) else logging.DEBUG
        log.log(level, "closing %s (%s): %s", self.address_text, self.client or "client unknown", reason)
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
                self._reject_all()  # BEP 3: a choke discards pending requests; BEP 6 says so

    def _reject_all(self) -> None:
        """BEP 6: reject every pending request but those for allowed fast pieces."""
        rejected = [r for r in self.upload_queue if r.index not in self.fast_offered]
        if self.fast:
            self._write(b"".join(encode(m.Reject(r.index, r.begin, r.length)) for r in rejected))
        self.upload_queue = deque(r for r in self.upload_queue if r.index in self.fast_offered)

    def fill_pipeline(self) -> None:
        """Keep `pipeline` blocks in flight: enough of this peer's rate to fill the link."""
        if not self.am_interested or self.owner is None or (self.peer_choking and not self.allowed_fast):
            return  # BEP 6: a peer that chokes us still serves its allowed fast pieces
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

    def offer_allowed_fast(self, pieces: tuple[int, ...], piece_length: int) -> None:
        """BEP 6: the peer may ask for these pieces even while we choke it, a few times each."""
        self.fast_offered = frozenset(pieces)
        self._fast_budget = FAST_SERVINGS * piece_length * len(pieces)
        self._write(b"".join(encode(m.AllowedFast(index)) for index in pieces))

    def metadata_known(self) -> None:
        """The torrent now knows its pieces (BEP 9): apply what the peer said of its own before.

        A bitfield of the wrong size, or a `have` past the last piece, closes the connection."""
        num_pieces = self.owner.num_pieces if self.owner is not None else 0
        self.allowed_fast = {index for index in self.allowed_fast if index < num_pieces}
        early, haves = self._early, self._early_haves
        self._early = self._early_haves = None
        try:
            if early is not None:
                _HANDLERS[type(early)](self, early)
            for index in haves or ():
                self._on_have(m.Have(index))
        except EngineError as exc:
            self.close(str(exc))

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
            self.transport.write(data if self.cipher is None else self.cipher.encrypt(data))
            self.last_sent = time.monotonic()

    def _write_chunks(self, chunks: list[bytes | memoryview]) -> None:
        # is_closing(): CPython 3.12's writelines() does not check a transport already lost
        # (reset by the peer) and leaves its socket registered after closing it.
        if self.transport is not None and not self.closed and not self.transport.is_closing():
            if self.cipher is not None:
                chunks = [self.cipher.encrypt(chunk) for chunk in chunks]
            self.transport.writelines(chunks)  # one sendmsg() for many blocks, no concatenation
            self.last_sent = time.monotonic()
            if self.transport.get_write_buffer_size() > WRITE_BUFFER_HIGH:
                # CPython 3.12's writelines() never calls pause_writing(); setting the limits
                # makes the transport compare its buffer with them (and pause us) as write() does.
                self.transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)

    def _send_handshake(self, info_hash: bytes) -> None:
        self._write(encode_handshake(info_hash, self.lookup.peer_id, RESERVED))

    def send_extended(self, name: str, payload: bytes) -> None:
        """Send an extension message, if the peer takes that extension (BEP 10)."""
        remote_id = self.remote_extensions.ext_id(name) if self.remote_extensions else None
        if remote_id:
            self.send(m.Extended(remote_id, payload))

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """Where the peer accepts connections: for PEX and reconnecting."""
        if not self.incoming:
            return self.address
        port = self.remote_extensions.p if self.remote_extensions else None
        return (self.address[0], port) if port else None

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
        self.fast = hs.supports_fast
        self._send_pieces(self.owner.our_bitfield())
        if hs.supports_extensions:
            payload = ext.encode_extension_handshake(self.owner.our_extension_handshake(self))
            self.send(m.Extended(ext.EXTENSION_HANDSHAKE_ID, payload))
        if hs.supports_dht and self.lookup.dht_port:
            self.send(m.Port(self.lookup.dht_port))
        self._ready = True
        self.handshake_done.set_result(None)
        self.owner.peer_ready(self)

    def _send_pieces(self, ours: Bitfield | None) -> None:
        """What we have, right after the handshake: BEP 6 have-all/have-none when they fit."""
        if self.fast and (ours is None or ours.count == 0):
            self.send(m.HaveNone())
        elif self.fast and ours.is_complete():
            self.send(m.HaveAll())
        elif ours is not None and ours.count:
            self.send(m.BitfieldMessage(ours.to_bytes()))

    def _on_keep_alive(self, msg: m.KeepAlive) -> None:
        pass

    def _on_choke(self, msg: m.Choke) -> None:
        owner = self._require_ready()
        self.peer_choking = True
        if not self.fast:  # BEP 3: choked requests are dropped; BEP 6: each gets a reject instead
            owner.blocks_returned(self, self.abort_requests())

    def _on_unchoke(self, msg: m.Unchoke) -> None:
        self._require_ready()
        self.peer_choking = False
        self.fill_pipeline()

    def _on_interested(self, msg: m.Interested) -> None:
        owner = self._require_ready()
        if not self.peer_interested and self.fast:
            self._suggest(owner)  # before the owner may unchoke it: its first requests can follow
        self.peer_interested = True
        owner.interest_changed(self)

    def _suggest(self, owner: PeerOwner) -> None:
        """BEP 6: point a newly interested peer at pieces we hold in memory, a few per connection."""
        pieces = owner.suggestions(self)[: max(0, MAX_SUGGESTS - self._suggests_sent)]
        self._suggests_sent += len(pieces)
        self._write(b"".join(encode(m.Suggest(index)) for index in pieces))

    def _on_not_interested(self, msg: m.NotInterested) -> None:
        owner = self._require_ready()
        self.peer_interested = False
        owner.interest_changed(self)

    def _on_have(self, msg: m.Have) -> None:
        owner = self._require_ready()
        if not owner.num_pieces:
            self._remember_have(msg.index)
            return
        if msg.index >= owner.num_pieces:
            raise RemoteProtocolError(f"have for piece {msg.index}, which does not exist")
        if self.pieces is None:
            self.pieces = Bitfield(owner.num_pieces)
        if self.pieces.add(msg.index):
            owner.peer_pieces_changed(self, msg.index)

    def _remember_have(self, index: int) -> None:
        """BEP 9: before the metadata, keep the `have` until the piece count is known."""
        if index >= MAX_EARLY_PIECES:
            raise RemoteProtocolError(f"have for piece {index}, more pieces than a torrent can have")
        if self._early_haves is None:
            self._early_haves = Bitfield(MAX_EARLY_PIECES)
        self._early_haves.add(index)

    def _first_pieces_message(self, owner: PeerOwner, msg: m.BitfieldMessage | m.HaveAll | m.HaveNone) -> bool:
        """Is the piece count known? If not, `msg` is kept for when it is (BEP 9).

        BEP 3 and BEP 6: a bitfield, have-all or have-none comes once, before any `have`."""
        if self.pieces is not None or self._early is not None or self._early_haves is not None:
            raise RemoteProtocolError("the peer's pieces announced twice, or after a have")
        if not owner.num_pieces:
            self._early = msg
        return bool(owner.num_pieces)

    def _on_bitfield(self, msg: m.BitfieldMessage) -> None:
        owner = self._require_ready()
        if self._first_pieces_message(owner, msg):
            self._set_pieces(owner, Bitfield.from_bytes(msg.data, owner.num_pieces))

    def _set_pieces(self, owner: PeerOwner, pieces: Bitfield) -> None:
        self.pieces = pieces
        owner.peer_pieces_changed(self, pieces)

    def _on_have_all(self, msg: m.HaveAll) -> None:
        owner = self._require_fast()
        if self._first_pieces_message(owner, msg):
            self._set_pieces(owner, Bitfield.full(owner.num_pieces))

    def _on_have_none(self, msg: m.HaveNone) -> None:
        owner = self._require_fast()
        if self._first_pieces_message(owner, msg):
            self._set_pieces(owner, Bitfield(owner.num_pieces))

    def _on_reject(self, msg: m.Reject) -> None:
        owner = self._require_fast()
        if self.peer_choking:
            self.allowed_fast.discard(msg.index)  # BEP 6 lets it refuse allowed pieces: ask no more
        block = self.outstanding.pop((msg.index, msg.begin), None)
        if block is not None:
            owner.blocks_returned(self, [block])

    def _on_allowed_fast(self, msg: m.AllowedFast) -> None:
        owner = self._require_fast()
        if owner.num_pieces and msg.index >= owner.num_pieces:
            return  # BEP 6 sets no rule for a piece that does not exist; libtorrent ignores it too
        if len(self.allowed_fast) < MAX_ALLOWED_FAST:
            self.allowed_fast.add(msg.index)
            self.fill_pipeline()

    def _on_suggest(self, msg: m.Suggest) -> None:
        owner = self._require_fast()
        if msg.index < owner.num_pieces and msg.index not in self.suggested:
            self.suggested.append(msg.index)  # BEP 6 advisory: a hint for the picker, no more

    def _on_port(self, msg: m.Port) -> None:
        owner = self._require_ready()
        if msg.port:
            owner.dht_port(self, msg.port)

    def _on_extended(self, msg: m.Extended) -> None:
        owner = self._require_ready()
        if self.remote_extensions is None and msg.ext_id != ext.EXTENSION_HANDSHAKE_ID:
            raise RemoteProtocolError("extension message before the extension handshake")
        handler = _EXTENSION_HANDLERS.get(msg.ext_id)
        if handler is not None:  # BEP 10: unknown extension messages are ignored
            handler(self, owner, msg.payload)

    def _on_extension_handshake(self, owner: PeerOwner, payload: bytes) -> None:
        self.remote_extensions = ext.parse_extension_handshake(payload)
        owner.extension_handshake(self, self.remote_extensions)

    def _on_ut_metadata(self, owner: PeerOwner, payload: bytes) -> None:
        message = ext.parse_metadata_message(payload)
        if message is not None:
            owner.metadata_message(self, message)

    def _on_ut_pex(self, owner: PeerOwner, payload: bytes) -> None:
        owner.pex_received(self, ext.parse_pex(payload))

    def _require_fast(self) -> PeerOwner:
        owner = self._require_ready()
        if not self.fast:
            raise RemoteProtocolError("fast-extension message from a peer that did not offer it")
        return owner

    def _on_request(self, msg: m.Request) -> None:
        owner = self._require_ready()
        if not owner.valid_request(msg):
            raise RemoteProtocolError(f"request outside the torrent: piece {msg.index}+{msg.begin}")
        if msg.length > BLOCK_SIZE or len(self.upload_queue) >= MAX_UPLOAD_QUEUE or not self._may_serve(msg):
            if self.fast:  # BEP 6: say no rather than stay silent
                self.send(m.Reject(msg.index, msg.begin, msg.length))
            return  # BEP 3: we serve at most 16 KiB blocks and only to unchoked peers
        self.upload_queue.append(msg)
        if not self._serving:
            self._serving = True
            self._serve_task = asyncio.ensure_future(self._serve())

    def _may_serve(self, msg: m.Request) -> bool:
        """Unchoked, or asking for an allowed fast piece within its budget (BEP 6), which it spends."""
        if not self.am_choking:
            return True
        if msg.index not in self.fast_offered or self._fast_budget < msg.length:
            return False
        self._fast_budget -= msg.length
        return True

    def _on_piece(self, msg: m.Piece) -> None:
        owner = self._require_ready()
        block = self.outstanding.pop((msg.index, msg.begin), None)
        if block is not None and block.length != len(msg.data):
            raise RemoteProtocolError(f"block {msg.index}+{msg.begin} has {len(msg.data)} bytes, not {block.length}")
        if block is None:
            self.unsolicited += 1
            if self.unsolicited > 2 * MAX_PIPELINE:
                raise RemoteProtocolError("too many blocks we did not ask for")
            return
        self.down.add(block.length)
        if self.throttle is not None:
            self.throttle.received(self, PIECE_HEADER + block.length)  # may stop reading for a while
        self.last_piece = self.last_received
        owner.block_received(self, block, msg.data)  # type: ignore[arg-type]
        self.fill_pipeline()

    def _on_cancel(self, msg: m.Cancel) -> None:
        self._require_ready()
        try:
            self.upload_queue.remove(m.Request(msg.index, msg.begin, msg.length))
        except ValueError:
            pass

    async def _serve(self) -> None:
        """Send requested blocks in order, many per system call; waits while the socket is full."""
        try:
            while self.upload_queue and not self.closed and self.owner is not None:
                await self._write_ok.wait()
                chunks = await self._next_batch(self.owner)
                if self.closed:
                    break
                if chunks and (self.fast or not self.am_choking):
                    self._write_chunks(chunks)  # BEP 6: a request taken before a choke is answered
                await asyncio.sleep(0)  # let finished read-aheads and new requests in between batches
        except EngineError as exc:
            self.close(f"could not read a block to upload: {exc}")
        finally:
            self._serving = False

    def _read_ahead(self, owner: PeerOwner) -> None:
        """Start reading the next few pieces the peer asked for, so the disk is never waited on."""
        pieces: list[int] = []
        for request in self.upload_queue:
            if not pieces or request.index != pieces[-1]:
                pieces.append(request.index)
                owner.prefetch(request.index)
                if len(pieces) > READ_AHEAD_PIECES:
                    return

    async def _next_batch(self, owner: PeerOwner) -> list[bytes | memoryview]:
        """Headers and data of the queued blocks already in memory (at least one block)."""
        chunks: list[bytes | memoryview] = []
        size = 0
        limit = SEND_BATCH if self.throttle is None else self.throttle.batch_bytes(SEND_BATCH)
        self._read_ahead(owner)
        while self.upload_queue and size < limit:
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
        if self.throttle is not None and chunks:
            await self.throttle.upload(size + PIECE_HEADER * (len(chunks) // 2))  # whole messages
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
    m.Port: PeerConnection._on_port,
    m.Suggest: PeerConnection._on_suggest,
    m.HaveAll: PeerConnection._on_have_all,
    m.HaveNone: PeerConnection._on_have_none,
    m.Reject: PeerConnection._on_reject,
    m.AllowedFast: PeerConnection._on_allowed_fast,
    m.Extended: PeerConnection._on_extended,
}  # type: ignore[dict-item]

_EXTENSION_HANDLERS: dict[int, Callable[[PeerConnection, PeerOwner, bytes], None]] = {
    ext.EXTENSION_HANDSHAKE_ID: PeerConnection._on_extension_handshake,
    ext.LOCAL_EXTENSION_IDS[ext.UT_METADATA]: PeerConnection._on_ut_metadata,
    ext.LOCAL_EXTENSION_IDS[ext.UT_PEX]: PeerConnection._on_ut_pex,
}
