"""PeerProtocol without sockets: two protocol objects talk to each other in memory (like h11's
ConnectionPair), or one talks to a scripted remote that sends what real clients send.

The owners are small in-memory torrents; time is a number the test moves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from app.engine import peer_protocol as pp
from app.engine.bitfield import Bitfield
from app.engine.peer_protocol import PeerProtocol
from app.engine.piece_picker import Block
from app.engine.transport.mse import Initiator, Method, Responder
from app.engine.wire import extension as ext
from app.engine.wire import messages as m
from app.engine.wire.codec import BLOCK_SIZE, MAX_ACCEPTED_BLOCK, WireDecoder, encode, encode_handshake, piece_header

IH = bytes(range(20))
SEED_ID = b"-PM0100-seedseedseed"
LEECH_ID = b"-PM0100-leechleechle"
REMOTE_ID = b"-XX0100-remoteremote"
PIECE = 2 * BLOCK_SIZE
PIECES = 48  # enough for an allowed fast set of 10 to be a small part
FAST = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x04])  # BEP 10 + BEP 6
PLAIN = bytes([0, 0, 0, 0, 0, 0x10, 0, 0])  # BEP 10 only
START = 1000.0


def pieces_of(text: str) -> Bitfield:
    """'1101...': one character per piece, as libtorrent's picker tests write them."""
    bits = Bitfield(len(text))
    bits.update(i for i, c in enumerate(text) if c == "1")
    return bits


@dataclass
class Owner:
    """A torrent as small as the protocol needs: the payload, what we have, what peers have."""

    payload: bytes
    have: Bitfield
    info_hash: bytes = IH
    info_hash_v2: bytes | None = None
    unchoke_interested: bool = True
    suggest: list[int] = field(default_factory=list)
    received: dict[tuple[int, int], bytes] = field(default_factory=dict)
    requested: set[tuple[int, int]] = field(default_factory=set)
    returned: list[Block] = field(default_factory=list)
    availability: list[int] = field(default_factory=lambda: [0] * PIECES)
    handshakes: list[ext.ExtensionHandshake] = field(default_factory=list)
    pex: list[ext.PexMessage] = field(default_factory=list)
    metadata: list[ext.MetadataMessage] = field(default_factory=list)
    ready: int = 0
    replaced: int = 0
    closed: list[str] = field(default_factory=list)
    num_pieces: int = PIECES
    hash_requests: list[m.HashRequest] = field(default_factory=list)
    hash_answers: dict[m.HashRequest, m.Hashes | m.HashReject] = field(default_factory=dict)

    def peer_ready(self, peer: PeerProtocol) -> None:
        self.ready += 1

    def peer_closed(self, peer: PeerProtocol, reason: str) -> None:
        self.closed.append(reason)

    def peer_pieces_changed(self, peer: PeerProtocol, new: Bitfield | int) -> None:
        for piece in [new] if isinstance(new, int) else new:
            self.availability[piece] += 1
        peer.set_interested(any(piece not in self.have for piece in peer.pieces))

    def peer_pieces_replaced(self, peer: PeerProtocol, old: Bitfield, new: Bitfield) -> None:
        self.replaced += 1
        for piece in old:
            self.availability[piece] -= 1
        self.peer_pieces_changed(peer, new)

    def request_blocks(self, peer: PeerProtocol, count: int) -> list[Block]:
        allowed = peer.allowed_fast if peer.peer_choking else range(self.num_pieces)
        blocks = [
            Block(piece, offset, BLOCK_SIZE)
            for piece in sorted(allowed)
            if piece in peer.pieces and piece not in self.have
            for offset in range(0, PIECE, BLOCK_SIZE)
            if (piece, offset) not in self.requested and (piece, offset) not in self.received
        ][:count]
        self.requested.update((b.piece, b.offset) for b in blocks)
        return blocks

    def block_received(self, peer: PeerProtocol, block: Block, data: memoryview) -> None:
        self.received[(block.piece, block.offset)] = bytes(data)

    def blocks_returned(self, peer: PeerProtocol, blocks: list[Block]) -> None:
        self.returned += blocks
        self.requested.difference_update((b.piece, b.offset) for b in blocks)

    def interest_changed(self, peer: PeerProtocol) -> None:
        if self.unchoke_interested:
            peer.set_choking(not peer.peer_interested)

    def valid_request(self, request: m.Request) -> bool:
        return request.index in self.have and request.begin + request.length <= PIECE

    def suggestions(self, peer: PeerProtocol) -> list[int]:
        return list(self.suggest)

    def our_bitfield(self) -> Bitfield | None:
        return self.have if self.num_pieces else None

    def our_extension_handshake(self, peer: PeerProtocol) -> ext.ExtensionHandshake:
        return ext.ExtensionHandshake(m=dict(ext.LOCAL_EXTENSION_IDS), v="test 1.0", reqq=pp.MAX_UPLOAD_QUEUE)

    def extension_handshake(self, peer: PeerProtocol, handshake: ext.ExtensionHandshake) -> None:
        self.handshakes.append(handshake)

    def metadata_message(self, peer: PeerProtocol, message: ext.MetadataMessage) -> None:
        self.metadata.append(message)

    def pex_received(self, peer: PeerProtocol, message: ext.PexMessage) -> None:
        self.pex.append(message)

    def dht_port(self, peer: PeerProtocol, port: int) -> None:
        raise AssertionError("no DHT bit in these handshakes")

    def hash_request(self, peer: PeerProtocol, request: m.HashRequest) -> m.Hashes | m.HashReject | None:
        """BEP 52: answered now from `hash_answers`, else later (None), as leaf hashes are."""
        self.hash_requests.append(request)
        return self.hash_answers.get(request)


@dataclass
class Lookup:
    peer_id: bytes
    torrents: dict[bytes, Owner]
    dht_port: int | None = None

    def torrent_for(self, info_hash: bytes) -> Owner | None:
        return self.torrents.get(info_hash)


def seed_owner() -> Owner:
    return Owner(os.urandom(PIECES * PIECE), Bitfield.full(PIECES))


def leech_owner(seed: Owner, have: Bitfield | None = None) -> Owner:
    return Owner(seed.payload, have if have is not None else Bitfield(PIECES))


class Pair:
    """A leecher that called a seed; bytes pass between them when the test pumps."""

    def __init__(self, seed: Owner, leecher: Owner, *, serve: bool = True) -> None:
        self.now = START
        self.seed_owner, self.leech_owner = seed, leecher
        self.leecher = PeerProtocol(Lookup(LEECH_ID, {}), leecher, now=self.now)
        self.seed = PeerProtocol(Lookup(SEED_ID, {IH: seed}), None, now=self.now)  # incoming
        self.leecher.start()
        self.pump(serve=serve)

    def pump(self, *, serve: bool = True) -> None:
        """Deliver what each side queued until both are quiet; the seed serves what it may."""
        moved = True
        while moved:
            moved = False
            for sender, receiver in ((self.leecher, self.seed), (self.seed, self.leecher)):
                data = b"".join(sender.data_to_send(self.now))
                if serve:
                    data += serve_queue(sender, self.seed_owner.payload, self.now)
                if data and not receiver.closed:
                    receiver.receive_data(data, self.now)
                    moved = True

    def tick(self, seconds: float) -> None:
        self.now += seconds
        for side in (self.leecher, self.seed):
            side.tick(self.now, seconds)


def serve_queue(protocol: PeerProtocol, payload: bytes, now: float) -> bytes:
    """What the asyncio adapter does with the upload queue, minus the disk: the piece messages."""
    sent = []
    while protocol.upload_queue and protocol.may_upload:
        r = protocol.upload_queue.popleft()
        block = payload[r.index * PIECE + r.begin : r.index * PIECE + r.begin + r.length]
        sent.append(piece_header(r.index, r.begin, r.length) + block)
        protocol.blocks_sent(r.length, now)
    return b"".join(sent)


class Remote:
    """A scripted peer: sends chosen messages to one PeerProtocol and reads its answers."""

    def __init__(self, owner: Owner, *, reserved: bytes = FAST, incoming: bool = True) -> None:
        self.now = START
        self.owner = owner
        lookup = Lookup(SEED_ID, {IH: owner})
        self.protocol = PeerProtocol(lookup, None if incoming else owner, now=self.now)
        self.protocol.start()
        self.decoder = WireDecoder()
        self.send_raw(encode_handshake(IH, REMOTE_ID, reserved))

    def send(self, *messages: m.Message) -> list[m.Event]:
        return self.send_raw(b"".join(encode(message) for message in messages))

    def send_raw(self, data: bytes) -> list[m.Event]:
        self.protocol.receive_data(data, self.now)
        return self.answers()

    def answers(self) -> list[m.Event]:
        self.decoder.feed(b"".join(self.protocol.data_to_send(self.now)))
        return [_copy(event) for event in self.decoder.events()]


def _copy(event: m.Event) -> m.Event:
    return m.Piece(event.index, event.begin, bytes(event.data)) if isinstance(event, m.Piece) else event


def kinds(events: list[m.Event]) -> list[type]:
    return [type(event) for event in events]


# the handshake and what follows it


def test_the_handshake_names_the_torrent_and_each_side_says_what_it_has() -> None:
    seed, leecher = seed_owner(), leech_owner(seed_owner())
    pair = Pair(seed, leecher)
    assert pair.seed.owner is seed and seed.ready == 1 and leecher.ready == 1
    assert pair.seed.remote_id == LEECH_ID and pair.leecher.remote_id == SEED_ID
    assert pair.seed.fast and pair.leecher.fast
    assert pair.leecher.is_seed and pair.seed.pieces == Bitfield(PIECES)  # BEP 6 have-all, have-none
    assert pair.seed.remote_extensions is not None and pair.seed.remote_extensions.v == "test 1.0"


def test_the_first_answer_is_handshake_then_have_all_then_extension_handshake() -> None:
    owner = seed_owner()
    lookup = Lookup(SEED_ID, {IH: owner})
    protocol = PeerProtocol(lookup, None, now=START)
    protocol.receive_data(encode_handshake(IH, REMOTE_ID, FAST), START)
    decoder = WireDecoder()
    decoder.feed(b"".join(protocol.data_to_send(START)))
    assert kinds(list(decoder.events())) == [m.Handshake, m.HaveAll, m.Extended]


@pytest.mark.parametrize(
    ("info_hash", "peer_id", "reason"),
    [
        (bytes(20), REMOTE_ID, "handshake for a torrent we do not have"),
        (IH, SEED_ID, "connected to ourselves"),
    ],
)
def test_a_bad_incoming_handshake_closes(info_hash: bytes, peer_id: bytes, reason: str) -> None:
    owner = seed_owner()
    protocol = PeerProtocol(Lookup(SEED_ID, {IH: owner}), None, now=START)
    protocol.receive_data(encode_handshake(info_hash, peer_id, FAST), START)
    assert protocol.closed and protocol.close_reason == reason
    assert owner.ready == 0 and owner.closed == []  # never joined, so never left


def test_an_outgoing_handshake_with_another_info_hash_closes() -> None:
    owner = seed_owner()
    protocol = PeerProtocol(Lookup(LEECH_ID, {}), owner, now=START)
    protocol.start()
    protocol.receive_data(encode_handshake(bytes(20), REMOTE_ID, FAST), START)
    assert protocol.close_reason == "handshake with the wrong info-hash"


# interest, choking, requests and pieces


def test_a_leecher_downloads_every_block_exactly() -> None:
    seed = seed_owner()
    leecher = leech_owner(seed)
    pair = Pair(seed, leecher)
    assert pair.leecher.am_interested and not pair.seed.am_choking and not pair.leecher.peer_choking
    while len(leecher.received) < PIECES * 2:
        before = len(leecher.received)
        pair.tick(1.0)
        pair.pump()
        assert len(leecher.received) > before, "the transfer stalled"
    for (piece, offset), data in leecher.received.items():
        assert data == seed.payload[piece * PIECE + offset :][:BLOCK_SIZE]
    assert pair.leecher.down.total == pair.seed.up.total == PIECES * PIECE
    assert not pair.leecher.outstanding and not pair.seed.closed


def test_requests_wait_for_an_unchoke() -> None:
    seed = seed_owner()
    seed.unchoke_interested = False
    pair = Pair(seed, leech_owner(seed))
    assert pair.leecher.am_interested and pair.leecher.peer_choking
    assert not pair.leecher.outstanding and not pair.seed.upload_queue
    pair.seed.set_choking(False)
    pair.pump(serve=False)
    assert len(pair.leecher.outstanding) == len(pair.seed.upload_queue) > 0


def test_a_choke_rejects_queued_requests_and_the_leecher_returns_them() -> None:
    """BEP 6: a choke discards pending requests, each with a reject; the leecher gives them back."""
    seed = seed_owner()
    pair = Pair(seed, leech_owner(seed), serve=False)  # requests queued at the seed, none served
    queued = len(pair.seed.upload_queue)
    assert queued and len(pair.leecher.outstanding) == queued
    pair.seed.set_choking(True)
    pair.pump(serve=False)
    assert not pair.seed.upload_queue and not pair.leecher.outstanding
    assert len(pair.leech_owner.returned) == queued
    assert not pair.leecher.closed and not pair.seed.closed


def test_without_the_fast_extension_a_choke_returns_every_request_at_once() -> None:
    leecher = leech_owner(seed_owner())
    remote = Remote(leecher, reserved=PLAIN, incoming=False)
    remote.send(m.BitfieldMessage(Bitfield.full(PIECES).to_bytes()), m.Unchoke())
    assert remote.protocol.outstanding
    sent = len(remote.protocol.outstanding)
    remote.send(m.Choke())
    assert not remote.protocol.outstanding and len(leecher.returned) == sent


def test_a_wrong_sized_block_closes_and_unasked_blocks_are_dropped_then_refused() -> None:
    leecher = leech_owner(seed_owner())
    remote = Remote(leecher, incoming=False)
    remote.send(m.HaveAll(), m.Unchoke())
    block = next(iter(remote.protocol.outstanding.values()))
    remote.send_raw(piece_header(0, 100, 10) + bytes(10))  # not asked for: ignored
    assert not remote.protocol.closed and remote.protocol.unsolicited == 1
    remote.send_raw(piece_header(block.piece, block.offset, 10) + bytes(10))
    assert remote.protocol.close_reason == f"block {block.piece}+{block.offset} has 10 bytes, not {BLOCK_SIZE}"


def test_a_flood_of_unasked_blocks_closes() -> None:
    remote = Remote(leech_owner(seed_owner()), incoming=False)
    remote.send(m.HaveNone())
    remote.send_raw((piece_header(0, 0, 10) + bytes(10)) * (2 * pp.MAX_PIPELINE + 1))
    assert remote.protocol.close_reason == "too many blocks we did not ask for"


# what we accept from a peer that asks us


def test_requests_beyond_the_queue_limit_or_block_size_are_rejected() -> None:
    remote = Remote(seed_owner())
    remote.send(m.HaveNone(), m.Interested())
    assert not remote.protocol.am_choking
    requests = [m.Request(i % PIECES, 0, BLOCK_SIZE) for i in range(pp.MAX_UPLOAD_QUEUE + 3)]
    answers = remote.send(*requests, m.Request(0, 0, BLOCK_SIZE * 2))
    assert len(remote.protocol.upload_queue) == pp.MAX_UPLOAD_QUEUE
    assert [e for e in answers if isinstance(e, m.Reject)] == [
        m.Reject(r.index, r.begin, r.length) for r in requests[pp.MAX_UPLOAD_QUEUE :]
    ] + [m.Reject(0, 0, BLOCK_SIZE * 2)]
    assert not remote.protocol.closed


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (m.Request(PIECES, 0, BLOCK_SIZE), f"request outside the torrent: piece {PIECES}+0"),
        (m.Request(0, PIECE, BLOCK_SIZE), "request outside the torrent: piece 0+32768"),
        (m.Request(0, 0, MAX_ACCEPTED_BLOCK + 1), f"block length {MAX_ACCEPTED_BLOCK + 1} is out of bounds"),
    ],
)
def test_a_request_outside_the_torrent_closes(request_: m.Request, reason: str) -> None:
    remote = Remote(seed_owner())
    remote.send(m.HaveNone(), m.Interested(), request_)
    assert remote.protocol.close_reason == reason


def test_a_cancelled_request_is_not_served() -> None:
    remote = Remote(seed_owner())
    remote.send(m.HaveNone(), m.Interested(), m.Request(1, 0, BLOCK_SIZE), m.Request(2, 0, BLOCK_SIZE))
    remote.send(m.Cancel(1, 0, BLOCK_SIZE))
    assert list(remote.protocol.upload_queue) == [m.Request(2, 0, BLOCK_SIZE)]


# the fast extension


def test_a_choked_peer_gets_its_allowed_fast_pieces_a_few_times_and_no_more() -> None:
    seed = seed_owner()
    seed.unchoke_interested = False
    remote = Remote(seed)
    remote.send(m.HaveNone(), m.Interested())
    remote.protocol.offer_allowed_fast((3, 7), PIECE)
    assert [e for e in remote.answers() if isinstance(e, m.AllowedFast)] == [m.AllowedFast(3), m.AllowedFast(7)]
    budget = pp.FAST_SERVINGS * 2 * PIECE // BLOCK_SIZE
    answers = remote.send(*[m.Request(3, 0, BLOCK_SIZE)] * (budget + 1), m.Request(4, 0, BLOCK_SIZE))
    assert len(remote.protocol.upload_queue) == budget
    assert [e for e in answers if isinstance(e, m.Reject)] == [m.Reject(3, 0, BLOCK_SIZE), m.Reject(4, 0, BLOCK_SIZE)]


def test_a_choked_leecher_asks_for_its_allowed_fast_pieces_only() -> None:
    leecher = leech_owner(seed_owner())
    remote = Remote(leecher, incoming=False)
    remote.send(m.HaveAll(), m.AllowedFast(5), m.AllowedFast(PIECES + 3))  # a piece that does not exist: ignored
    assert remote.protocol.allowed_fast == {5}
    assert {block.piece for block in remote.protocol.outstanding.values()} == {5}
    remote.send(m.Reject(5, 0, BLOCK_SIZE))  # BEP 6: it may refuse them after all
    assert remote.protocol.allowed_fast == set() and Block(5, 0, BLOCK_SIZE) in leecher.returned


def test_an_interested_peer_gets_a_few_suggestions() -> None:
    seed = seed_owner()
    seed.suggest = [9, 8, 7, 6, 5, 4]
    seed.unchoke_interested = False
    remote = Remote(seed)
    answers = remote.send(m.HaveNone(), m.Interested())
    assert [e for e in answers if isinstance(e, m.Suggest)] == [m.Suggest(p) for p in (9, 8, 7, 6)]
    assert not [e for e in remote.send(m.NotInterested(), m.Interested()) if isinstance(e, m.Suggest)]


def test_suggestions_from_the_peer_are_kept_newest_last() -> None:
    remote = Remote(leech_owner(seed_owner()), incoming=False)
    remote.send(m.HaveAll(), *[m.Suggest(p) for p in range(pp.MAX_SUGGESTED + 2)], m.Suggest(PIECES))
    assert list(remote.protocol.suggested) == list(range(2, pp.MAX_SUGGESTED + 2))


@pytest.mark.parametrize("message", [m.HaveAll(), m.HaveNone(), m.Suggest(1), m.AllowedFast(1), m.Reject(1, 0, 16)])
def test_fast_messages_from_a_peer_that_did_not_offer_fast_close(message: m.Message) -> None:
    remote = Remote(seed_owner(), reserved=PLAIN)
    remote.send(message)
    assert remote.protocol.close_reason == "fast-extension message from a peer that did not offer it"


# the extension protocol


def test_extension_messages_go_by_the_ids_each_side_asked_for() -> None:
    seed = seed_owner()
    pair = Pair(seed, leech_owner(seed))
    pex = ext.PexMessage(added=(("10.0.0.1", 6881),), added_flags=(0,))
    pair.leecher.send_extended(ext.UT_PEX, ext.encode_pex(pex))
    pair.leecher.send_extended("lt_donthave", b"")  # the seed did not offer it: not sent
    pair.pump()
    assert [p.added for p in seed.pex] == [(("10.0.0.1", 6881),)]


# time


def test_an_idle_peer_gets_keep_alives_and_a_silent_one_is_closed() -> None:
    seed = seed_owner()
    seed.unchoke_interested = False
    remote = Remote(seed)
    remote.send(m.HaveNone())
    remote.now += pp.KEEP_ALIVE_AFTER + 1
    remote.protocol.tick(remote.now, 1.0)
    assert kinds(remote.answers()) == [m.KeepAlive]
    remote.now += pp.IDLE_TIMEOUT - pp.KEEP_ALIVE_AFTER - 2
    remote.send_raw(b"\x00\x00")  # half a keep-alive: a dribble is no message
    remote.protocol.tick(remote.now, 1.0)
    assert not remote.protocol.closed
    remote.now += 2
    remote.protocol.tick(remote.now, 1.0)
    assert remote.protocol.close_reason == "the peer stopped responding"
    assert seed.closed == ["the peer stopped responding"]


def test_a_peer_that_sends_no_blocks_is_snubbed_and_its_requests_go_back() -> None:
    leecher = leech_owner(seed_owner())
    remote = Remote(leecher, incoming=False)
    remote.send(m.HaveAll(), m.Unchoke())
    sent = len(remote.protocol.outstanding)
    for _ in range(int(pp.SNUB_AFTER) - 1):
        remote.now += 1
        remote.send(m.KeepAlive())  # alive, but no blocks
        remote.protocol.tick(remote.now, 1.0)
    assert len(remote.protocol.outstanding) == sent
    remote.now += 2
    remote.protocol.tick(remote.now, 2.0)
    assert not remote.protocol.closed and len(leecher.returned) == sent and not remote.protocol.outstanding


def test_the_pipeline_grows_with_the_download_rate() -> None:
    seed = seed_owner()
    pair = Pair(seed, leech_owner(seed))
    assert pair.leecher.pipeline == pp.MIN_PIPELINE
    pair.leecher.down.add(100 * 1024 * 1024)
    pair.tick(1.0)
    assert pair.leecher.pipeline == pp.MAX_PIPELINE


# Quirks real clients have (issue 12): each keeps the connection and updates our view.


def view_of(remote: Remote) -> str:
    pieces = remote.protocol.pieces
    assert pieces is not None
    return "".join("1" if piece in pieces else "0" for piece in range(PIECES))


def counted(owner: Owner) -> str:
    """The availability the owner counted from this one peer, as a view string."""
    assert set(owner.availability) <= {0, 1}, owner.availability
    return "".join(str(count) for count in owner.availability)


def test_aria2_leeching_sends_a_bitfield_instead_of_haves_and_stays() -> None:
    """aria2 1.36 as a leecher: have-none, a few haves, then a bitfield for the next batch of
    pieces, then have-all when done. We used to drop it a few MiB in."""
    seed = seed_owner()
    remote = Remote(seed)
    remote.send(m.HaveNone(), m.Interested(), m.Have(0), m.Have(1))
    batch = "1" * 30 + "0" * (PIECES - 30)
    remote.send(m.BitfieldMessage(pieces_of(batch).to_bytes()), m.Have(30))
    assert not remote.protocol.closed and seed.replaced == 1
    assert view_of(remote) == counted(seed) == "1" * 31 + "0" * (PIECES - 31)
    remote.send(m.HaveAll())
    assert not remote.protocol.closed and remote.protocol.is_seed
    assert counted(seed) == "1" * PIECES


def test_a_second_bitfield_replaces_the_view_also_when_pieces_go() -> None:
    leecher = leech_owner(seed_owner(), pieces_of("0011" + "0" * (PIECES - 4)))
    remote = Remote(leecher, incoming=False)
    first, second = "1100" + "0" * (PIECES - 4), "0110" + "0" * (PIECES - 4)
    assert kinds(remote.send(m.BitfieldMessage(pieces_of(first).to_bytes()))) == [m.Interested]
    remote.send(m.BitfieldMessage(pieces_of(second).to_bytes()))
    assert view_of(remote) == counted(leecher) == second and remote.protocol.am_interested
    only_ours = "0011" + "0" * (PIECES - 4)  # nothing we lack: the owner loses interest
    assert kinds(remote.send(m.BitfieldMessage(pieces_of(only_ours).to_bytes()))) == [m.NotInterested]
    assert counted(leecher) == only_ours and not remote.protocol.closed


def test_have_none_after_have_all_replaces_the_view() -> None:
    leecher = leech_owner(seed_owner())
    remote = Remote(leecher, incoming=False)
    assert m.Interested in kinds(remote.send(m.HaveAll()))
    assert kinds(remote.send(m.HaveNone())) == [m.NotInterested]
    assert counted(leecher) == "0" * PIECES and not remote.protocol.closed


def test_the_same_view_again_costs_nothing_and_endless_changes_close() -> None:
    seed = seed_owner()
    remote = Remote(seed)
    view = m.BitfieldMessage(pieces_of("1" + "0" * (PIECES - 1)).to_bytes())
    remote.send(view, view, view)
    assert seed.replaced == 0
    for _ in range(pp.MAX_VIEW_CHANGES // 2):
        remote.send(m.HaveNone(), view)
    assert not remote.protocol.closed and seed.replaced == pp.MAX_VIEW_CHANGES
    remote.send(m.HaveNone())
    assert remote.protocol.close_reason == "the peer announced all its pieces over and over"


def test_a_have_for_a_piece_already_announced_is_ignored() -> None:
    seed = seed_owner()
    remote = Remote(seed)
    remote.send(m.BitfieldMessage(pieces_of("01" + "0" * (PIECES - 2)).to_bytes()), m.Have(1), m.Have(1))
    assert counted(seed) == "01" + "0" * (PIECES - 2) and not remote.protocol.closed


def test_keep_alives_and_haves_before_the_bitfield_are_fine() -> None:
    seed = seed_owner()
    remote = Remote(seed, reserved=PLAIN)
    remote.send(m.KeepAlive(), m.KeepAlive(), m.Have(5))
    remote.send(m.BitfieldMessage(pieces_of("111" + "0" * (PIECES - 3)).to_bytes()))
    assert counted(seed) == view_of(remote) == "111" + "0" * (PIECES - 3)
    assert not remote.protocol.closed


def test_views_before_the_metadata_keep_the_newest_and_the_haves_after_it() -> None:
    magnet = leech_owner(seed_owner())
    magnet.num_pieces = 0
    remote = Remote(magnet, incoming=False)
    remote.send(m.Have(40), m.BitfieldMessage(pieces_of("1" * PIECES).to_bytes()))
    remote.send(m.BitfieldMessage(pieces_of("1" + "0" * (PIECES - 1)).to_bytes()), m.Have(2))
    magnet.num_pieces = PIECES
    remote.protocol.metadata_known()
    assert view_of(remote) == counted(magnet) == "101" + "0" * (PIECES - 3)
    assert not remote.protocol.closed


def test_a_second_extension_handshake_updates_the_first() -> None:
    """BEP 10: the `m` of a later handshake adds to the first (0 turns one off)."""
    seed = seed_owner()
    remote = Remote(seed)
    first = ext.ExtensionHandshake(m={ext.UT_PEX: 5, ext.UT_METADATA: 3}, v="aria2/1.36.0", reqq=250)
    later = ext.ExtensionHandshake(m={ext.UT_PEX: 0}, p=6881)
    remote.send(*(m.Extended(0, ext.encode_extension_handshake(h)) for h in (first, later)))
    known = remote.protocol.remote_extensions
    assert known is not None and not remote.protocol.closed and len(seed.handshakes) == 2
    assert known.ext_id(ext.UT_PEX) is None and known.ext_id(ext.UT_METADATA) == 3
    assert (known.v, known.p, known.reqq) == ("aria2/1.36.0", 6881, 250)


def test_an_extension_message_before_the_extension_handshake_is_taken() -> None:
    seed = seed_owner()
    remote = Remote(seed)
    pex = ext.PexMessage(added=(("10.0.0.2", 51413),), added_flags=(0,))
    remote.send(m.Extended(ext.LOCAL_EXTENSION_IDS[ext.UT_PEX], ext.encode_pex(pex)))
    assert [p.added for p in seed.pex] == [(("10.0.0.2", 51413),)] and not remote.protocol.closed


@pytest.mark.parametrize(("reserved", "answer"), [(FAST, [m.Reject(3, 0, BLOCK_SIZE)]), (PLAIN, [])])
def test_a_request_while_choked_is_refused_not_dropped(reserved: bytes, answer: list[m.Event]) -> None:
    seed = seed_owner()
    seed.unchoke_interested = False
    remote = Remote(seed, reserved=reserved)
    remote.send(m.Interested())
    assert remote.send(m.Request(3, 0, BLOCK_SIZE)) == answer
    assert not remote.protocol.upload_queue and not remote.protocol.closed


def test_a_request_for_a_piece_we_lack_is_rejected_not_dropped() -> None:
    partial = leech_owner(seed_owner(), pieces_of("1" * (PIECES - 1) + "0"))
    remote = Remote(partial)
    remote.send(m.HaveNone(), m.Interested())
    assert remote.send(m.Request(PIECES - 1, 0, BLOCK_SIZE)) == [m.Reject(PIECES - 1, 0, BLOCK_SIZE)]
    assert not remote.protocol.closed


def test_a_cancelled_request_is_answered_with_a_reject() -> None:
    """BEP 6: "the peer receiving the cancel should respond with either the corresponding
    reject or the corresponding piece"."""
    remote = Remote(seed_owner())
    remote.send(m.HaveNone(), m.Interested(), m.Request(1, 0, BLOCK_SIZE))
    assert remote.send(m.Cancel(1, 0, BLOCK_SIZE), m.Cancel(2, 0, BLOCK_SIZE)) == [m.Reject(1, 0, BLOCK_SIZE)]


def test_a_request_before_we_have_the_metadata_is_rejected() -> None:
    magnet = leech_owner(seed_owner())
    magnet.num_pieces = 0
    remote = Remote(magnet)
    assert remote.send(m.Request(0, 0, BLOCK_SIZE)) == [m.Reject(0, 0, BLOCK_SIZE)]
    assert not remote.protocol.closed


def test_a_reject_for_a_block_we_never_asked_for_is_ignored() -> None:
    leecher = leech_owner(seed_owner())
    remote = Remote(leecher, incoming=False)
    remote.send(m.HaveAll(), m.Reject(3, 100, 10), m.Unchoke(), m.Reject(PIECES + 1, 0, BLOCK_SIZE))
    assert leecher.returned == [] and remote.protocol.outstanding and not remote.protocol.closed


# BEP 52 hash requests


def test_a_hash_request_is_answered_now_or_when_the_owner_has_computed_the_hashes() -> None:
    """A piece-layer request is answered at once; a leaf request waits for the data to be read and
    hashed, and the owner sends the answer itself (Torrent._answer_from_data)."""
    owner = seed_owner()
    root = bytes(range(32))
    now, later = m.HashRequest(root, 1, 0, 2, 0), m.HashRequest(root, 0, 0, 2, 1)
    owner.hash_answers[now] = m.Hashes(root, 1, 0, 2, 0, bytes(64))
    remote = Remote(owner)
    remote.answers()
    assert remote.send(now) == [owner.hash_answers[now]]
    assert remote.send(later) == []  # nothing yet, and no reject either
    assert owner.hash_requests == [now, later] and not remote.protocol.closed
    remote.protocol.send(m.Hashes(root, 0, 0, 2, 1, bytes(96)))
    assert remote.answers() == [m.Hashes(root, 0, 0, 2, 1, bytes(96))]


V2_BIT = bytes([0, 0, 0, 0, 0, 0, 0, 0x10])  # BEP 52: "the 4th most significant bit in the last byte"


@pytest.mark.parametrize(
    ("greeting", "reserved", "answer"),
    [
        (IH, V2_BIT, bytes(range(100, 120))),  # upgraded to the truncated v2 id
        (IH, FAST, IH),  # no v2 bit: the v1 id it asked for
        (bytes(range(100, 120)), V2_BIT, bytes(range(100, 120))),  # it used the v2 id already
    ],
)
def test_a_hybrid_greeted_by_its_v1_id_with_the_v2_bit_answers_with_its_v2_id(
    greeting: bytes, reserved: bytes, answer: bytes
) -> None:
    owner = seed_owner()
    owner.info_hash_v2 = bytes(range(100, 132))
    lookup = Lookup(SEED_ID, {IH: owner, owner.info_hash_v2[:20]: owner})
    protocol = PeerProtocol(lookup, None, now=START)
    protocol.receive_data(encode_handshake(greeting, REMOTE_ID, reserved), START)
    decoder = WireDecoder()
    decoder.feed(b"".join(protocol.data_to_send(START)))
    handshake = next(iter(decoder.events()))
    assert isinstance(handshake, m.Handshake) and handshake.info_hash == answer
    assert protocol.owner is owner and not protocol.closed


def test_a_v1_torrent_never_upgrades() -> None:
    protocol = PeerProtocol(Lookup(SEED_ID, {IH: seed_owner()}), None, now=START)
    protocol.receive_data(encode_handshake(IH, REMOTE_ID, V2_BIT), START)
    decoder = WireDecoder()
    decoder.feed(b"".join(protocol.data_to_send(START)))
    handshake = next(iter(decoder.events()))
    assert isinstance(handshake, m.Handshake) and handshake.info_hash == IH


# MSE: the torrent an encrypted handshake reached (its SKEY) is the one the BitTorrent handshake names

OTHER_IH = bytes(range(100, 120))
V2_ID = bytes(range(200, 220))  # a hybrid torrent's truncated v2 info-hash, another name for it


def mse_accept(lookup: Lookup, skey: bytes, greeting: bytes) -> PeerProtocol:
    """An MSE initiator reaching torrent `skey` and greeting with `greeting` inside (as IA), our
    responder finding it among the lookup's torrents, and the protocol it hands the stream to."""
    initiator = Initiator(skey, Method.RC4, greeting)
    responder = Responder(lambda: list(lookup.torrents), Method.RC4)
    while initiator.result is None or responder.result is None:
        responder.receive_data(initiator.data_to_send())
        initiator.receive_data(responder.data_to_send())
    protocol = PeerProtocol(lookup, None, now=START)
    protocol.reached = responder.result.info_hash
    protocol.receive_data(responder.result.received, START)
    return protocol


def test_an_mse_peer_whose_handshake_names_the_torrent_it_reached_stays() -> None:
    owner = seed_owner()
    protocol = mse_accept(Lookup(SEED_ID, {IH: owner}), IH, encode_handshake(IH, REMOTE_ID, FAST))
    assert not protocol.closed and protocol.owner is owner and owner.ready == 1


def test_an_mse_peer_whose_handshake_names_another_of_our_torrents_is_dropped() -> None:
    reached, other = seed_owner(), seed_owner()
    lookup = Lookup(SEED_ID, {IH: reached, OTHER_IH: other})
    protocol = mse_accept(lookup, IH, encode_handshake(OTHER_IH, REMOTE_ID, FAST))
    assert protocol.closed and protocol.broke_protocol  # logged at INFO by the adapter
    assert protocol.close_reason == (f"its encrypted handshake was for torrent {IH.hex()}, "
                                     f"but its BitTorrent handshake for {OTHER_IH.hex()}")
    assert reached.ready == other.ready == 0 and protocol.data_to_send(START) == []  # no answer


def test_a_hybrid_torrent_reached_by_one_id_may_be_greeted_by_the_other() -> None:
    hybrid = seed_owner()
    lookup = Lookup(SEED_ID, {IH: hybrid, V2_ID: hybrid})
    protocol = mse_accept(lookup, V2_ID, encode_handshake(IH, REMOTE_ID, FAST))
    assert not protocol.closed and protocol.owner is hybrid
