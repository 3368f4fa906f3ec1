"""One peer connection: the asyncio adapter around the sans-I/O `PeerProtocol`.

The adapter moves bytes between a transport and the protocol, reads the clock, and serves
uploads from the disk; every rule lives in app/engine/peer_protocol.py. The torrent knows
the connection by this object and calls the same commands on it as on the protocol.

The transport need not be TCP (uTP is one): the adapter uses only these methods of
`asyncio.Transport`:

    write(data), writelines(chunks), close(), is_closing(), get_write_buffer_size(),
    set_write_buffer_limits(high=...), pause_reading(), resume_reading() (the torrent's
    back-pressure and rate limits), get_extra_info("peername") (incoming connections) and
    get_extra_info("socket") (TCP_NODELAY, only when there is a socket), and set_protocol(p)
    (only in `take_over`).

It calls back get_buffer(sizehint)/buffer_updated(nbytes) (or data_received(data)),
eof_received(), connection_lost(exc), pause_writing() and resume_writing().

Hooks for what wraps the byte stream:

- Encryption (MSE/PE): set `cipher` to an object with `decrypt_into(view)` (decrypt the bytes
  of a memoryview in place) and `encrypt(data) -> bytes`. Received bytes are decrypted in the
  decoder's own buffer in `buffer_updated`, before they are decoded; every byte we send goes
  through `_write_chunks`, the one write path, where it is encrypted (one copy, joined).

Messages the protocol queues are not written at once: the connection joins the loop's
`SendQueue` (app/engine/send_queue.py) and writes all it queued during one loop turn in one
call at the start of the next (a `have` to 40 peers: 40 appends, one write each). Block data
written by `_serve` takes the queued messages in front of it, and a closing connection writes
them before it hangs up, so the order on the wire is the order of queueing.
- Handover: `take_over(transport, received, cipher)` continues a connection that another
  protocol object started (an MSE handshake, or a first read used to tell plaintext from MSE):
  it becomes the transport's protocol, and `received` (plaintext already read) is decoded first.
  Reading stays paused or running as the caller left it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from operator import attrgetter
from typing import TYPE_CHECKING, Protocol

from app.engine.errors import EngineError
from app.engine.peer_protocol import MAX_PIPELINE, MAX_UPLOAD_QUEUE, Lookup, PeerOwner, PeerProtocol
from app.engine.send_queue import send_queue
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder, piece_header

if TYPE_CHECKING:
    from app.engine.piece_picker import Block
    from app.engine.rate_limit import Throttle

__all__ = ["MAX_PIPELINE", "MAX_UPLOAD_QUEUE", "Lookup", "PeerConnection", "PeerOwner", "StreamCipher"]

log = logging.getLogger(__name__)

READ_AHEAD_PIECES = 4
SEND_BATCH = 1024 * 1024  # bytes of blocks handed to the socket at once: one loop pass per MiB
WRITE_BUFFER_HIGH = 4 * 1024 * 1024  # bytes queued in the transport before we stop serving
PIECE_HEADER = 13  # BEP 3: length, id, index, begin in front of a block


class StreamCipher(Protocol):
    """An encrypted stream (MSE/PE's RC4): what the adapter needs of it."""

    def decrypt_into(self, view: memoryview) -> None: ...
    def encrypt(self, data: bytes) -> bytes: ...


def _state(name: str) -> property:
    """A read-only view of the protocol's state, for the torrent, the UI and tests."""
    return property(attrgetter(f"protocol.{name}"))


class PeerConnection(asyncio.BufferedProtocol):
    """Signals to the owner: ready, pieces changed, blocks received/returned, closed."""

    def __init__(self, lookup: Lookup, owner: PeerOwner | None, address: tuple[str, int]):
        self.lookup = lookup
        self.address = address
        self.incoming = owner is None
        self.protocol = PeerProtocol(lookup, owner, self, now=time.monotonic())
        self.transport: asyncio.Transport | None = None
        self.throttle: Throttle | None = None  # the torrent's rate limits, set when the peer joins it
        self.cipher: StreamCipher | None = None  # MSE/PE, set by whoever negotiated it
        self._buffer = memoryview(b"")  # the last buffer handed to the transport
        self._hung_up = False
        self._serving = False
        self._serve_task: asyncio.Task[None] | None = None
        self._read_ahead_from: int | None = None  # the first queued piece at the last read-ahead
        self._write_ok = asyncio.Event()
        self._write_ok.set()
        loop = asyncio.get_running_loop()
        self._send_queue = send_queue(loop)
        self._queued = False  # in the send queue: writes what the protocol queued at its next flush
        self.handshake_done: asyncio.Future[None] = loop.create_future()

    owner = _state("owner")
    decoder: WireDecoder = _state("decoder")  # type: ignore[assignment]
    remote_id = _state("remote_id")
    client = _state("client")
    pieces = _state("pieces")
    am_choking = _state("am_choking")
    am_interested = _state("am_interested")
    peer_choking = _state("peer_choking")
    peer_interested = _state("peer_interested")
    outstanding = _state("outstanding")
    pipeline = _state("pipeline")
    upload_queue = _state("upload_queue")
    down = _state("down")
    up = _state("up")
    last_received = _state("last_received")
    last_piece = _state("last_piece")
    last_sent = _state("last_sent")
    connected_at = _state("connected_at")
    fast = _state("fast")
    allowed_fast = _state("allowed_fast")
    suggested = _state("suggested")
    fast_offered = _state("fast_offered")
    remote_extensions = _state("remote_extensions")
    pex = _state("pex")
    is_seed = _state("is_seed")
    closed = _state("closed")
    close_reason = _state("close_reason")

    # asyncio.BufferedProtocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.type == socket.SOCK_STREAM and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.protocol.start()
        self._flush()

    def take_over(
        self, transport: asyncio.Transport, received: bytes = b"", cipher: StreamCipher | None = None,
        reached: bytes | None = None,
    ) -> None:
        """Continue a connection another protocol object began; `received` is plaintext read so far,
        `reached` the torrent an accepted MSE handshake named (its handshake must name the same)."""
        self.cipher = cipher
        self.protocol.reached = reached
        transport.set_protocol(self)
        self.connection_made(transport)
        if received and not self.closed:
            self.protocol.receive_data(received, time.monotonic())
            self._flush()

    def get_buffer(self, sizehint: int) -> memoryview:
        buffer = self.protocol.get_buffer(sizehint)
        if self.throttle is not None:
            buffer = buffer[: self.throttle.read_bytes(len(buffer))]  # a limited peer is read in sips
        self._buffer = buffer
        return buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.cipher is not None:
            self.cipher.decrypt_into(self._buffer[:nbytes])
        if self.throttle is not None:
            self.throttle.received(self, nbytes)  # may stop reading for a while
        now = time.monotonic()
        self.protocol.buffer_updated(nbytes, now)
        self._flush(now)

    def data_received(self, data: bytes) -> None:
        """For a transport that hands over bytes instead of filling our buffer: one copy."""
        view = memoryview(data)
        while view and not self.closed:
            buffer = self.protocol.get_buffer(len(view))
            size = min(len(buffer), len(view))
            buffer[:size] = view[:size]
            self._buffer = buffer
            self.buffer_updated(size)
            view = view[size:]

    def eof_received(self) -> bool:
        self.close("the peer closed the connection")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.close(self.close_reason or (str(exc) if exc else "connection closed"))
        self._hang_up()

    def pause_writing(self) -> None:
        self._write_ok.clear()

    def resume_writing(self) -> None:
        self._write_ok.set()

    # commands from the owner: the protocol's, then whatever it has to send

    def close(self, reason: str) -> None:
        self.protocol.close(reason)
        self._flush()

    def send(self, message: m.Message) -> None:
        self.protocol.send(message)
        self._flush()

    def set_interested(self, interested: bool) -> None:
        self.protocol.set_interested(interested)
        self._flush()

    def set_choking(self, choking: bool) -> None:
        self.protocol.set_choking(choking)
        self._flush()

    def fill_pipeline(self) -> None:
        self.protocol.fill_pipeline()
        self._flush()

    def cancel(self, block: Block) -> None:
        self.protocol.cancel(block)
        self._flush()

    def abort_requests(self) -> list[Block]:
        return self.protocol.abort_requests()

    def tick(self, elapsed: float) -> None:
        """Once a second, from the torrent: rates, pipeline depth, idle and snub timeouts, keep-alives."""
        self.protocol.tick(time.monotonic(), elapsed)
        self._flush()

    def have(self, index: int) -> None:
        self.protocol.have(index)
        self._flush()

    def offer_allowed_fast(self, pieces: tuple[int, ...], piece_length: int) -> None:
        self.protocol.offer_allowed_fast(pieces, piece_length)
        self._flush()

    def send_extended(self, name: str, payload: bytes) -> None:
        self.protocol.send_extended(name, payload)
        self._flush()

    def metadata_known(self) -> None:
        self.protocol.metadata_known()
        self._flush()

    # reading the state

    @property
    def encrypted(self) -> bool:
        """MSE/PE negotiated RC4 for this connection (the peer table's "E")."""
        return self.cipher is not None

    @property
    def address_text(self) -> str:
        host, port = self.address[0], self.address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def listen_address(self) -> tuple[str, int] | None:
        """Where the peer accepts connections: for PEX and reconnecting."""
        if not self.incoming:
            return self.address
        port = self.remote_extensions.p if self.remote_extensions else None
        return (self.address[0], port) if port else None

    # internals

    def write_queued(self, now: float) -> None:
        """From the send queue, once a loop turn: everything the protocol queued, in one write."""
        self._queued = False
        data = self.protocol.data_to_send(now)
        if data:
            self._write_chunks([b"".join(data)])  # type: ignore[list-item]

    def _flush(self, now: float | None = None) -> None:
        """After every call into the protocol: queue its bytes for this turn's write, serve, or hang up."""
        protocol = self.protocol
        if protocol.closed:
            self.write_queued(time.monotonic() if now is None else now)  # the goodbye goes before the close
            self._hang_up()
        else:
            if protocol.wants_to_send and not self._queued:
                self._queued = True
                self._send_queue.add(self)
            if protocol.handshake_received and not self.handshake_done.done():
                self.handshake_done.set_result(None)
            if protocol.upload_queue and not self._serving:
                self._serving = True
                self._serve_task = asyncio.ensure_future(self._serve())  # kept: the loop holds tasks weakly

    def _hang_up(self) -> None:
        if self._hung_up:
            return
        self._hung_up = True
        reason = self.protocol.close_reason
        # Dropped for breaking the protocol: the user may want to know who and why (INFO);
        # ordinary goodbyes stay DEBUG.
        level = logging.INFO if self.protocol.broke_protocol else logging.DEBUG
        log.log(level, "closing %s (%s): %s", self.address_text, self.client or "client unknown", reason)
        if self.transport is not None:
            self.transport.close()
        if not self.handshake_done.done():
            if self.protocol.handshake_received:
                self.handshake_done.set_result(None)  # it came; the torrent may still have refused it
            else:
                self.handshake_done.set_exception(ConnectionError(reason))
                self.handshake_done.exception()  # mark retrieved: nobody may be waiting
        self._write_ok.set()

    def _write_chunks(self, chunks: list[bytes | memoryview]) -> None:
        """The one write path: every byte we send passes here (and through `cipher`, if any)."""
        # is_closing(): CPython 3.12's writelines() does not check a transport already lost
        # (reset by the peer) and leaves its socket registered after closing it.
        transport = self.transport
        if transport is None or self._hung_up or transport.is_closing():
            return
        if self.cipher is not None:
            transport.write(self.cipher.encrypt(b"".join(chunks)))
        elif len(chunks) == 1:
            transport.write(chunks[0])  # control messages, joined: write() skips writelines()' list of views
        else:
            transport.writelines(chunks)  # one sendmsg() for many blocks, no concatenation
        if transport.get_write_buffer_size() > WRITE_BUFFER_HIGH:
            # CPython 3.12's writelines() never calls pause_writing(); setting the limits
            # makes the transport compare its buffer with them (and pause us) as write() does.
            transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)

    async def _serve(self) -> None:
        """Send requested blocks in order, many per system call; waits while the socket is full."""
        protocol = self.protocol
        try:
            while protocol.upload_queue and not protocol.closed and protocol.owner is not None:
                await self._write_ok.wait()
                chunks, size = await self._next_batch(protocol.owner)
                if protocol.closed:
                    break
                if chunks and protocol.may_upload:
                    self._write_chunks(protocol.data_to_send(time.monotonic()) + chunks)  # queued messages first
                    protocol.blocks_sent(size, time.monotonic())
                await asyncio.sleep(0)  # let finished read-aheads and new requests in between batches
        except EngineError as exc:
            self.close(f"could not read a block to upload: {exc}")
        finally:
            self._serving = False

    def _read_ahead(self, owner: PeerOwner) -> None:
        """Start reading the next few pieces the peer asked for, so the disk is never waited on."""
        queue = self.protocol.upload_queue
        if not queue or queue[0].index == self._read_ahead_from:
            return  # done for this piece already: the scan walks hundreds of queued requests
        self._read_ahead_from = queue[0].index
        pieces: list[int] = []
        for request in queue:
            if not pieces or request.index != pieces[-1]:
                pieces.append(request.index)
                owner.prefetch(request.index)
                if len(pieces) > READ_AHEAD_PIECES:
                    return

    async def _next_batch(self, owner: PeerOwner) -> tuple[list[bytes | memoryview], int]:
        """Headers and data of the queued blocks already in memory (at least one block), and their size."""
        chunks: list[bytes | memoryview] = []
        size = 0
        limit = SEND_BATCH if self.throttle is None else self.throttle.batch_bytes(SEND_BATCH)
        self._read_ahead(owner)
        protocol = self.protocol
        while protocol.upload_queue and size < limit:
            req = protocol.upload_queue[0]  # a choke replaces the queue: look it up each time
            data = owner.cached_block(req.index, req.begin, req.length)
            if data is None:
                if chunks:
                    break  # send what is ready before waiting for the disk
                data = await owner.read_block(req.index, req.begin, req.length)
                if not protocol.upload_queue or protocol.upload_queue[0] is not req:
                    continue  # cancelled or choked while we read
            protocol.upload_queue.popleft()
            chunks += (piece_header(req.index, req.begin, len(data)), data)
            size += len(data)
        if self.throttle is not None and chunks:
            await self.throttle.upload(size + PIECE_HEADER * (len(chunks) // 2))  # whole messages
        return chunks, size

