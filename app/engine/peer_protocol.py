"""The rules of one peer connection, without I/O: bytes and `now` in, bytes out, decisions to the owner.

`PeerProtocol` holds everything one connection knows (who chokes whom, what the remote has,
which of our requests are in flight, what it asked us for) and applies BEP 3, BEP 6 (fast
extension) and BEP 10 (extension protocol) to it. It has no socket, task or clock:

    inputs   get_buffer(sizehint) / buffer_updated(nbytes, now)   received bytes, in the
             receive_data(data, now)                              decoder's own buffer or copied
             tick(now, elapsed)                                   once a second: rates, timeouts
             the owner's commands: set_interested, set_choking, fill_pipeline, cancel, have,
             offer_allowed_fast, metadata_known, send, send_extended, close
    outputs  data_to_send(now) -> list[bytes]                     what to write, in order
             wants_to_send                                        whether there is any
             upload_queue, may_upload, blocks_sent(nbytes, now)   requests to serve from the disk
             closed, close_reason                                 hang up (the owner was told)

Decisions that need the torrent's shared state (the piece picker, the choker, the metadata)
are synchronous calls to the owner (`PeerOwner`), made with `peer`: the object the owner
knows the connection by (the asyncio adapter, or the protocol itself in tests). A received
block goes to the owner as a memoryview into the decoder's buffer, with no copy and no
per-block object besides the decoded message.

Tolerant where real clients differ, strict where it protects us (issue 12). Every reason
we hang up, and the quirks we take instead, beside libtorrent (peer_connection.cpp,
bt_peer_connection.cpp) and Transmission (peer-msgs.cc):

    quirk or breach                         we                              libtorrent            Transmission
    --------------------------------------  ------------------------------  --------------------  ----------------
    bitfield/have-all/have-none again, or   replace our view, the owner     peer_lost(old),       replace its view
      after haves (aria2 sends a bitfield     recounts (peer_pieces_          peer_has(new)
      instead of many haves)                  replaced); the same view: no-op
    > MAX_VIEW_CHANGES changed views        close (each costs O(pieces))    no limit              no limit
    have for a piece it already announced   ignore                          ignore                ignore
    have before any bitfield                the view starts empty           as have-none first    set the bit
    keep-alive anywhere (before a bitfield) ignore                          ignore                ignore
    extension handshake again               merge: `m` adds, 0 removes      re-read               re-read
    extension message before its handshake  handle it by our ids            handle it             handle it
    request while choked                    fast: reject; else ignore       reject; close if it   reject
                                                                              goes on 2 s after
    request for a piece we lack, in range   fast: reject; else ignore       reject                reject
    request > 16 KiB, or > 2000 queued      fast: reject; else ignore       reject                reject
    cancel of a queued request              drop it; fast: reject (BEP 6)   reject                reject
    reject/allowed-fast/suggest we cannot   ignore                          ignore                ignore
      use (unknown block, no such piece)
    request past the last piece or past     close                           reject; close after   reject
      the end of a piece we have                                              300 invalid ones
    wrong info-hash, ourselves, unknown     close                           close                 close
      torrent, not a BitTorrent handshake
    message over the size limit, or a       close                           close                 close
      fixed-size message of another size
    block length 0 or > 128 KiB             close (the codec)               reject                reject
    bitfield of the wrong size, spare bits  close (BEP 3)                   close (size only)     close (size only)
    have past the last piece                close                           close                 close
    fast message without the fast bit       close                           close                 close
    block of the wrong length               close                           close                 close
    > 2 x MAX_PIPELINE blocks not asked for close (a flood)                 ignore each           close at the first
    no whole message for IDLE_TIMEOUT       close                           close                 close
"""

from __future__ import annotations

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
    KEEP_ALIVE,
    MAX_ACCEPTED_BLOCK,
    WireDecoder,
    encode,
    encode_cancel,
    encode_handshake,
    encode_have,
    encode_request,
)

if TYPE_CHECKING:
    from app.engine.peer import PeerConnection
    from app.engine.piece_picker import Block

# BEP 10 extension protocol (byte 5, 0x10), BEP 5 DHT (byte 7, 0x01), BEP 6 fast (byte 7, 0x04).
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
MAX_UPLOAD_QUEUE = 2000  # requests we hold for one peer (advertised as reqq, BEP 10)
MIN_PIPELINE = 128
MAX_PIPELINE = 2000
PIPELINE_SECONDS = 2.0  # keep this many seconds of the peer's rate in flight
MAX_ALLOWED_FAST = 64  # BEP 6 allowed fast pieces we keep from one peer (k is 10 in the BEP)
MAX_SUGGESTED = 8  # BEP 6 suggestions we keep from one peer, the newest
MAX_SUGGESTS = 4  # BEP 6 suggestions we send one peer over its connection
FAST_SERVINGS = 3  # a choked peer gets its allowed fast pieces at most this many times over
# BEP 9: before the metadata, a `have` may name any piece of an info dictionary we would accept
# (one 20-byte SHA-1 per piece).
MAX_EARLY_PIECES = ext.MAX_METADATA_SIZE // 20
SNUB_AFTER = 30.0  # seconds without a block while requests are in flight
IDLE_TIMEOUT = 150.0  # BEP 3 peers send keep-alives every two minutes
KEEP_ALIVE_AFTER = 90.0
# A peer's whole view of its pieces may change this often per connection: aria2 sends a
# bitfield whenever it is smaller than the `have`s it stands for, about 72 times a download.
MAX_VIEW_CHANGES = 256
_KEEP_ALIVE_BYTES = encode(KEEP_ALIVE)


class PeerOwner(Protocol):
    """What a peer needs from the torrent it belongs to."""

    info_hash: bytes
    num_pieces: int

    @property
    def info_hash_v2(self) -> bytes | None: ...  # BEP 52: a v2 or hybrid torrent's SHA-256 id
    def peer_ready(self, peer: PeerConnection) -> None: ...
    def peer_closed(self, peer: PeerConnection, reason: str) -> None: ...
    def peer_pieces_changed(self, peer: PeerConnection, new: Bitfield | int) -> None: ...
    # The peer announced all its pieces again: count `old` out and `new` in.
    def peer_pieces_replaced(self, peer: PeerConnection, old: Bitfield, new: Bitfield) -> None: ...
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
    def hash_request(self, peer: PeerConnection, request: m.HashRequest) -> m.Hashes | m.HashReject | None:
        """The answer now, or None: the owner sends it when it has it."""
    def hashes_received(self, peer: PeerConnection, message: m.Hashes) -> None: ...
    def hash_rejected(self, peer: PeerConnection, message: m.HashReject) -> None: ...
    def dht_port(self, peer: PeerConnection, port: int) -> None: ...


class Lookup(Protocol):
    """Finds the torrent an incoming handshake asks for (the session)."""

    peer_id: bytes
    dht_port: int | None  # our DHT node's UDP port, sent to peers in a `port` message

    def torrent_for(self, info_hash: bytes) -> PeerOwner | None: ...


class PeerProtocol:
    """One connection's state and rules; `peer` is what the owner's calls are made with."""

    def __init__(self, lookup: Lookup, owner: PeerOwner | None, peer: object = None, *, now: float) -> None:
        self.lookup = lookup
        self.owner = owner  # None for an incoming connection until its handshake names a torrent
        self.reached: bytes | None = None  # MSE: the torrent an accepted encrypted handshake named (SKEY)
        self.peer: PeerConnection = self if peer is None else peer  # type: ignore[assignment]
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
        self.last_received = self.last_piece = self.last_sent = self.connected_at = now
        self.unsolicited = 0
        self.fast = False  # both sides speak BEP 6
        self.allowed_fast: set[int] = set()  # BEP 6: pieces the peer serves us even while choking us
        self.suggested: deque[int] = deque(maxlen=MAX_SUGGESTED)  # BEP 6 hints, newest last
        self.fast_offered: frozenset[int] = frozenset()  # BEP 6: pieces we serve it while choking it
        self._fast_budget = 0  # bytes of those we still serve it while choked
        self._suggests_sent = 0
        # BEP 9: what the peer said of its pieces before we knew how many there are.
        self._early: m.BitfieldMessage | m.HaveAll | m.HaveNone | None = None
        self._early_haves: Bitfield | None = None
        self._view_changes = 0
        self.remote_extensions: ext.ExtensionHandshake | None = None  # BEP 10, once received
        self.pex = ext.PexState()
        self.handshake_received = False
        self.ready = False  # handshakes exchanged and the owner told; until closed
        self.closed = False
        self.close_reason = ""
        self.broke_protocol = False  # closed for breaking the protocol (RemoteProtocolError)
        self._outbox: list[bytes] = []

    # input: bytes and time

    def start(self) -> None:
        """The connection is up: an outgoing one sends its handshake first (BEP 3)."""
        if self.owner is not None:
            self._send_handshake(self.owner.info_hash)

    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the next received bytes go (asyncio.BufferedProtocol), decrypted there if need be."""
        return self.decoder.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int, now: float) -> None:
        self.decoder.buffer_updated(nbytes)
        self._receive(now)

    def receive_data(self, data: bytes | bytearray | memoryview, now: float) -> None:
        """Received bytes from outside the decoder's buffer (a handover, a test): one copy."""
        self.decoder.feed(data)
        self._receive(now)

    def _receive(self, now: float) -> None:
        decoder = self.decoder
        try:
            while not self.closed:
                # Runs of pieces (a download) and of requests (an upload) skip the per-message parsers.
                if blocks := decoder.take_blocks():
                    self.last_received = now
                    self._on_blocks(blocks)
                elif requests := decoder.take_requests():
                    self.last_received = now
                    for request in requests:
                        self._on_request(request)
                elif (event := decoder.next_event()) is not None:
                    self.last_received = now  # whole messages only: a dribble is idle
                    _HANDLERS[type(event)](self, event)
                else:
                    break
        except EngineError as exc:
            self._drop(exc)

    def tick(self, now: float, elapsed: float) -> None:
        """Once a second: settle rates, size the pipeline from the download rate, watch the clock."""
        self.down.tick(elapsed)
        self.up.tick(elapsed)
        depth = int(self.down.rate * PIPELINE_SECONDS / BLOCK_SIZE)
        self.pipeline = max(MIN_PIPELINE, min(MAX_PIPELINE, depth))
        self.fill_pipeline()
        self._police(now)

    def _police(self, now: float) -> None:
        if now - self.last_received > IDLE_TIMEOUT:
            self.close("the peer stopped responding")
        elif self.outstanding and now - self.last_piece > SNUB_AFTER:  # snubbed: others may fetch them
            self.owner.blocks_returned(self.peer, self.abort_requests())  # type: ignore[union-attr]
        elif now - self.last_sent > KEEP_ALIVE_AFTER:
            self._send(_KEEP_ALIVE_BYTES)

    # output: bytes to write, blocks to serve

    def data_to_send(self, now: float) -> list[bytes]:
        """The bytes queued since the last call, in order; the caller writes them all."""
        data = self._outbox
        if data:
            self._outbox = []
            self.last_sent = now
        return data

    @property
    def wants_to_send(self) -> bool:
        """Bytes are queued: `data_to_send` would return some."""
        return bool(self._outbox)

    @property
    def may_upload(self) -> bool:
        """Blocks read for queued requests may go out (BEP 6: one taken before a choke is answered)."""
        return self.fast or not self.am_choking

    def blocks_sent(self, nbytes: int, now: float) -> None:
        self.up.add(nbytes)
        self.last_sent = now

    # commands from the owner

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        if self.owner is not None and self.ready:
            self.ready = False
            self.owner.peer_closed(self.peer, reason)

    def _drop(self, exc: EngineError) -> None:
        self.broke_protocol = isinstance(exc, RemoteProtocolError)
        self.close(str(exc))

    def send(self, message: m.Message) -> None:
        self._send(encode(message))

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
        if self.fast and rejected:
            self._send(b"".join(encode(m.Reject(r.index, r.begin, r.length)) for r in rejected))
        self.upload_queue = deque(r for r in self.upload_queue if r.index in self.fast_offered)

    def fill_pipeline(self) -> None:
        """Keep `pipeline` blocks in flight: enough of this peer's rate to fill the link."""
        if not self.am_interested or self.owner is None or (self.peer_choking and not self.allowed_fast):
            return  # BEP 6: a peer that chokes us still serves its allowed fast pieces
        wanted = self.pipeline - len(self.outstanding)
        if wanted < max(1, self.pipeline // 4):
            return
        blocks = self.owner.request_blocks(self.peer, wanted)
        if not blocks:
            return
        for block in blocks:
            self.outstanding[(block.piece, block.offset)] = block
        self._send(b"".join(encode_request(b.piece, b.offset, b.length) for b in blocks))

    def cancel(self, block: Block) -> None:
        if self.outstanding.pop((block.piece, block.offset), None) is not None:
            self._send(encode_cancel(block.piece, block.offset, block.length))

    def abort_requests(self) -> list[Block]:
        """Forget every request in flight (choked, snubbed, timed out); returns them."""
        blocks = list(self.outstanding.values())
        self.outstanding.clear()
        return blocks

    def have(self, index: int) -> None:
        self._send(encode_have(index))

    def offer_allowed_fast(self, pieces: tuple[int, ...], piece_length: int) -> None:
        """BEP 6: the peer may ask for these pieces even while we choke it, a few times each."""
        self.fast_offered = frozenset(pieces)
        self._fast_budget = FAST_SERVINGS * piece_length * len(pieces)
        self._send(b"".join(encode(m.AllowedFast(index)) for index in pieces))

    def send_extended(self, name: str, payload: bytes) -> None:
        """Send an extension message, if the peer takes that extension (BEP 10)."""
        remote_id = self.remote_extensions.ext_id(name) if self.remote_extensions else None
        if remote_id:
            self.send(m.Extended(remote_id, payload))

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
            self._drop(exc)

    @property
    def is_seed(self) -> bool:
        return self.pieces is not None and self.pieces.is_complete()

    # internals

    def _send(self, data: bytes) -> None:
        if not self.closed:
            self._outbox.append(data)

    def _send_handshake(self, info_hash: bytes) -> None:
        self._send(encode_handshake(info_hash, self.lookup.peer_id, RESERVED))

    def _on_handshake(self, hs: m.Handshake) -> None:
        owner = self._owner_for(hs)
        if hs.peer_id == self.lookup.peer_id:
            raise RemoteProtocolError("connected to ourselves")
        self.handshake_received = True
        self.remote_id = hs.peer_id
        self.client = client_name(hs.peer_id)
        self.decoder.max_message = max(MAX_ACCEPTED_BLOCK + 13, (owner.num_pieces + 7) // 8 + 1, 1 << 20)
        self.fast = hs.supports_fast
        self._send_pieces(owner.our_bitfield())
        if hs.supports_extensions:
            payload = ext.encode_extension_handshake(owner.our_extension_handshake(self.peer))
            self.send(m.Extended(ext.EXTENSION_HANDSHAKE_ID, payload))
        if hs.supports_dht and self.lookup.dht_port:
            self.send(m.Port(self.lookup.dht_port))
        self.ready = True
        owner.peer_ready(self.peer)

    def _owner_for(self, hs: m.Handshake) -> PeerOwner:
        """The torrent the handshake is for: ours when we called, the one it names when it called."""
        if self.owner is not None:
            if hs.info_hash != self.owner.info_hash:
                raise RemoteProtocolError("handshake with the wrong info-hash")
            return self.owner
        owner = self.lookup.torrent_for(hs.info_hash)
        if owner is None:
            raise RemoteProtocolError("handshake for a torrent we do not have")
        self._check_reached(owner, hs.info_hash)
        self.owner = owner
        self._send_handshake(_reply_id(hs, owner))
        return owner

    def _check_reached(self, owner: PeerOwner, info_hash: bytes) -> None:
        """MSE: the encrypted handshake's SKEY chose a torrent (its v1 or, hybrid, its v2 id);
        the BitTorrent handshake inside must be for that torrent too, not for another of ours."""
        if self.reached is not None and self.lookup.torrent_for(self.reached) is not owner:
            raise RemoteProtocolError(
                f"its encrypted handshake was for torrent {self.reached.hex()}, "
                f"but its BitTorrent handshake for {info_hash.hex()}"
            )

    def _send_pieces(self, ours: Bitfield | None) -> None:
        """What we have, right after the handshake: BEP 6 have-all/have-none when they fit."""
        if self.fast and (ours is None or ours.count == 0):
            self.send(m.HaveNone())
        elif self.fast and ours.is_complete():
            self.send(m.HaveAll())
        elif ours is not None and ours.count:
            self.send(m.BitfieldMessage(ours.to_bytes()))

    # The handlers below run only after the handshake (the decoder yields it first), so
    # `self.owner` is set.

    def _on_keep_alive(self, msg: m.KeepAlive) -> None:
        pass

    def _on_choke(self, msg: m.Choke) -> None:
        self.peer_choking = True
        if not self.fast:  # BEP 3: choked requests are dropped; BEP 6: each gets a reject instead
            self.owner.blocks_returned(self.peer, self.abort_requests())  # type: ignore[union-attr]

    def _on_unchoke(self, msg: m.Unchoke) -> None:
        self.peer_choking = False
        self.fill_pipeline()

    def _on_interested(self, msg: m.Interested) -> None:
        owner: PeerOwner = self.owner  # type: ignore[assignment]
        if not self.peer_interested and self.fast:
            self._suggest(owner)  # before the owner may unchoke it: its first requests can follow
        self.peer_interested = True
        owner.interest_changed(self.peer)

    def _suggest(self, owner: PeerOwner) -> None:
        """BEP 6: point a newly interested peer at pieces we hold in memory, a few per connection."""
        pieces = owner.suggestions(self.peer)[: max(0, MAX_SUGGESTS - self._suggests_sent)]
        self._suggests_sent += len(pieces)
        if pieces:
            self._send(b"".join(encode(m.Suggest(index)) for index in pieces))

    def _on_not_interested(self, msg: m.NotInterested) -> None:
        self.peer_interested = False
        self.owner.interest_changed(self.peer)  # type: ignore[union-attr]

    def _on_have(self, msg: m.Have) -> None:
        owner: PeerOwner = self.owner  # type: ignore[assignment]
        if not owner.num_pieces:
            self._remember_have(msg.index)
            return
        if msg.index >= owner.num_pieces:
            raise RemoteProtocolError(f"have for piece {msg.index}, which does not exist")
        if self.pieces is None:
            self.pieces = Bitfield(owner.num_pieces)
        if self.pieces.add(msg.index):
            owner.peer_pieces_changed(self.peer, msg.index)

    def _remember_have(self, index: int) -> None:
        """BEP 9: before the metadata, keep the `have` until the piece count is known."""
        if index >= MAX_EARLY_PIECES:
            raise RemoteProtocolError(f"have for piece {index}, more pieces than a torrent can have")
        if self._early_haves is None:
            self._early_haves = Bitfield(MAX_EARLY_PIECES)
        self._early_haves.add(index)

    def _on_bitfield(self, msg: m.BitfieldMessage) -> None:
        owner: PeerOwner = self.owner  # type: ignore[assignment]
        if owner.num_pieces:
            self._set_view(owner, Bitfield.from_bytes(msg.data, owner.num_pieces))
        else:
            self._remember_view(msg)

    def _on_have_all(self, msg: m.HaveAll) -> None:
        owner = self._require_fast()
        if owner.num_pieces:
            self._set_view(owner, Bitfield.full(owner.num_pieces))
        else:
            self._remember_view(msg)

    def _on_have_none(self, msg: m.HaveNone) -> None:
        owner = self._require_fast()
        if owner.num_pieces:
            self._set_view(owner, Bitfield(owner.num_pieces))
        else:
            self._remember_view(msg)

    def _remember_view(self, msg: m.BitfieldMessage | m.HaveAll | m.HaveNone) -> None:
        """BEP 9: before the metadata, keep the newest whole view; it replaces earlier `have`s."""
        self._early = msg
        self._early_haves = None

    def _set_view(self, owner: PeerOwner, pieces: Bitfield) -> None:
        """The peer's whole view of its pieces: the first one, or a later one that replaces ours.

        BEP 3 and BEP 6 send it once, first; aria2 sends a bitfield instead of many `have`s
        and others repeat it: libtorrent and Transmission replace their view, so do we."""
        old = self.pieces
        if old is None:
            self.pieces = pieces
            owner.peer_pieces_changed(self.peer, pieces)
            return
        if pieces == old:
            return
        self._view_changes += 1
        if self._view_changes > MAX_VIEW_CHANGES:  # each one recounts every piece's availability
            raise RemoteProtocolError("the peer announced all its pieces over and over")
        self.pieces = pieces
        owner.peer_pieces_replaced(self.peer, old, pieces)

    def _on_reject(self, msg: m.Reject) -> None:
        owner = self._require_fast()
        if self.peer_choking:
            self.allowed_fast.discard(msg.index)  # BEP 6 lets it refuse allowed pieces: ask no more
        block = self.outstanding.pop((msg.index, msg.begin), None)
        if block is not None:
            owner.blocks_returned(self.peer, [block])

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
        if msg.port:
            self.owner.dht_port(self.peer, msg.port)  # type: ignore[union-attr]

    def _on_extended(self, msg: m.Extended) -> None:
        # By our ids, also before the peer's extension handshake, as libtorrent and Transmission do.
        handler = _EXTENSION_HANDLERS.get(msg.ext_id)
        if handler is not None:  # BEP 10: unknown extension messages are ignored
            handler(self, self.owner, msg.payload)  # type: ignore[arg-type]

    def _on_extension_handshake(self, owner: PeerOwner, payload: bytes) -> None:
        received = ext.parse_extension_handshake(payload)
        known = self.remote_extensions
        self.remote_extensions = received if known is None else _updated(known, received)
        owner.extension_handshake(self.peer, self.remote_extensions)

    def _on_ut_metadata(self, owner: PeerOwner, payload: bytes) -> None:
        message = ext.parse_metadata_message(payload)
        if message is not None:
            owner.metadata_message(self.peer, message)

    def _on_ut_pex(self, owner: PeerOwner, payload: bytes) -> None:
        owner.pex_received(self.peer, ext.parse_pex(payload))

    def _on_hash_request(self, msg: m.HashRequest) -> None:
        # BEP 52: "Hash requests MUST be answered with either a 'hashes' or 'hash reject' message."
        answer = self.owner.hash_request(self.peer, msg)  # type: ignore[union-attr]
        if answer is not None:
            self.send(answer)

    def _on_hashes(self, msg: m.Hashes) -> None:
        self.owner.hashes_received(self.peer, msg)  # type: ignore[union-attr]

    def _on_hash_reject(self, msg: m.HashReject) -> None:
        self.owner.hash_rejected(self.peer, msg)  # type: ignore[union-attr]

    def _require_fast(self) -> PeerOwner:
        if not self.fast:
            raise RemoteProtocolError("fast-extension message from a peer that did not offer it")
        return self.owner  # type: ignore[return-value]

    def _on_request(self, msg: m.Request) -> None:
        owner: PeerOwner = self.owner  # type: ignore[assignment]
        if not owner.valid_request(msg):
            if _outside(owner.our_bitfield(), msg):
                raise RemoteProtocolError(f"request outside the torrent: piece {msg.index}+{msg.begin}")
            self._refuse(msg)  # a piece we do not have (yet): libtorrent and Transmission say no too
        elif msg.length > BLOCK_SIZE or len(self.upload_queue) >= MAX_UPLOAD_QUEUE or not self._may_serve(msg):
            self._refuse(msg)  # BEP 3: we serve at most 16 KiB blocks and only to unchoked peers
        else:
            self.upload_queue.append(msg)

    def _refuse(self, msg: m.Request) -> None:
        if self.fast:  # BEP 6: say no rather than stay silent
            self.send(m.Reject(msg.index, msg.begin, msg.length))

    def _may_serve(self, msg: m.Request) -> bool:
        """Unchoked, or asking for an allowed fast piece within its budget (BEP 6), which it spends."""
        if not self.am_choking:
            return True
        if msg.index not in self.fast_offered or self._fast_budget < msg.length:
            return False
        self._fast_budget -= msg.length
        return True

    def _on_piece(self, msg: m.Piece) -> None:
        self._on_blocks([(msg.index, msg.begin, memoryview(msg.data))])

    def _on_blocks(self, blocks: list[tuple[int, int, memoryview]]) -> None:
        """Received blocks (index, begin, data) to the owner; the pipeline is refilled once for them all."""
        owner: PeerOwner = self.owner  # type: ignore[assignment]
        outstanding, peer = self.outstanding, self.peer
        received = 0
        for index, begin, data in blocks:
            block = outstanding.pop((index, begin), None)
            if block is None:
                self._unsolicited()
                continue
            if block.length != len(data):
                raise RemoteProtocolError(f"block {index}+{begin} has {len(data)} bytes, not {block.length}")
            received += block.length
            owner.block_received(peer, block, data)
            if self.closed:
                return
        if received:
            self.down.add(received)
            self.last_piece = self.last_received
            self.fill_pipeline()

    def _unsolicited(self) -> None:
        self.unsolicited += 1
        if self.unsolicited > 2 * MAX_PIPELINE:
            raise RemoteProtocolError("too many blocks we did not ask for")

    def _on_cancel(self, msg: m.Cancel) -> None:
        request = m.Request(msg.index, msg.begin, msg.length)
        try:
            self.upload_queue.remove(request)
        except ValueError:
            return  # already sent, or never asked: nothing to take back
        self._refuse(request)  # BEP 6: a cancelled request is answered too, with a reject


def _outside(ours: Bitfield | None, msg: m.Request) -> bool:
    """A request no peer that read our pieces would make: past the last piece, or past the end
    of one we have. (One for a piece we lack may be a race with our `have`.)"""
    return ours is not None and (msg.index >= len(ours) or msg.index in ours)


def _updated(known: ext.ExtensionHandshake, update: ext.ExtensionHandshake) -> ext.ExtensionHandshake:
    """BEP 10: a later extension handshake changes what it names; its `m` adds to the first one's
    (an id of 0 turns that extension off), and the keys it leaves out keep their values."""
    return ext.ExtensionHandshake(
        m={**known.m, **update.m},
        v=update.v or known.v,
        p=update.p if update.p is not None else known.p,
        reqq=update.reqq if update.reqq is not None else known.reqq,
        yourip=update.yourip if update.yourip is not None else known.yourip,
        metadata_size=update.metadata_size if update.metadata_size is not None else known.metadata_size,
    )


_HANDLERS: dict[type, Callable[[PeerProtocol, m.Event], None]] = {
    m.Handshake: PeerProtocol._on_handshake,
    m.KeepAlive: PeerProtocol._on_keep_alive,
    m.Choke: PeerProtocol._on_choke,
    m.Unchoke: PeerProtocol._on_unchoke,
    m.Interested: PeerProtocol._on_interested,
    m.NotInterested: PeerProtocol._on_not_interested,
    m.Have: PeerProtocol._on_have,
    m.BitfieldMessage: PeerProtocol._on_bitfield,
    m.Request: PeerProtocol._on_request,
    m.Piece: PeerProtocol._on_piece,
    m.Cancel: PeerProtocol._on_cancel,
    m.Port: PeerProtocol._on_port,
    m.Suggest: PeerProtocol._on_suggest,
    m.HaveAll: PeerProtocol._on_have_all,
    m.HaveNone: PeerProtocol._on_have_none,
    m.Reject: PeerProtocol._on_reject,
    m.AllowedFast: PeerProtocol._on_allowed_fast,
    m.Extended: PeerProtocol._on_extended,
    m.HashRequest: PeerProtocol._on_hash_request,  # BEP 52
    m.Hashes: PeerProtocol._on_hashes,
    m.HashReject: PeerProtocol._on_hash_reject,
}  # type: ignore[dict-item]

_EXTENSION_HANDLERS: dict[int, Callable[[PeerProtocol, PeerOwner, bytes], None]] = {
    ext.EXTENSION_HANDSHAKE_ID: PeerProtocol._on_extension_handshake,
    ext.LOCAL_EXTENSION_IDS[ext.UT_METADATA]: PeerProtocol._on_ut_metadata,
    ext.LOCAL_EXTENSION_IDS[ext.UT_PEX]: PeerProtocol._on_ut_pex,
}


def _reply_id(hs: m.Handshake, owner: PeerOwner) -> bytes:
    """BEP 52's upgrade path: a peer that greets a hybrid torrent by its v1 id with the v2 bit
    set "may then respond with the new infohash to upgrade the connect to the new format". We do:
    libtorrent accepts the v2 id whichever id it took for us last (it may have found us in both
    swarms while connecting, and then drops a v1 answer), and sends its hash requests to v2 peers."""
    v2 = owner.info_hash_v2
    if hs.supports_v2 and v2 is not None and hs.info_hash != v2[:20]:
        return v2[:20]
    return hs.info_hash
