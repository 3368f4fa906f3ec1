import random
import socket
import struct
from dataclasses import replace

import pytest

from app.engine.errors import TrackerError
from app.engine.tracker import udp_codec
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry
from app.engine.tracker.udp_codec import (
    AnnouncePacket,
    AnnounceReply,
    Answered,
    ConnectPacket,
    ConnectReply,
    ErrorReply,
    ScrapePacket,
    ScrapeReply,
    Send,
    UdpExchange,
)

REQUEST = AnnounceRequest(
    info_hash=bytes(range(20)),
    peer_id=b"-PM0001-" + bytes(range(200, 212)),
    port=6881,
    uploaded=1,
    downloaded=2**40,
    left=3,
    event=AnnounceEvent.STARTED,
    numwant=-1,
    key=0xFFFFFFFF,
)
PEERS4 = (("127.0.0.2", 6881), ("127.0.0.3", 1))
PEERS6 = (("::1", 6881), ("fe80::1", 65535))
CONNECTION_ID = 0x0102030405060708


@pytest.mark.parametrize(
    "packet",
    [
        ConnectPacket(7),
        *(
            AnnouncePacket(CONNECTION_ID, 8, replace(REQUEST, event=event), 0x7F000002)
            for event in AnnounceEvent
        ),
        ScrapePacket(CONNECTION_ID, 9, (b"a" * 20, b"b" * 20)),
    ],
)
def test_packets_round_trip(packet: udp_codec.Packet) -> None:
    assert udp_codec.decode_packet(udp_codec.encode(packet)) == packet


@pytest.mark.parametrize(
    ("reply", "family"),
    [
        (ConnectReply(1, CONNECTION_ID), socket.AF_INET),
        (AnnounceReply(2, 1800, 5, 6, PEERS4), socket.AF_INET),
        (AnnounceReply(2, 1800, 5, 6, PEERS6), socket.AF_INET6),
        (AnnounceReply(2, 60, 0, 0, ()), socket.AF_INET),
        (ScrapeReply(3, (ScrapeEntry(1, 2, 3), ScrapeEntry(4, 5, 6))), socket.AF_INET),
        (ErrorReply(4, "unregistered torrent"), socket.AF_INET),
    ],
)
def test_replies_round_trip(reply: udp_codec.Reply, family: int) -> None:
    assert udp_codec.decode_reply(udp_codec.encode(reply, family), family) == reply


def test_wire_layout_matches_bep_15() -> None:
    connect = udp_codec.encode(ConnectPacket(0x11223344))
    assert connect == bytes.fromhex("00000417271019800000000011223344")
    announce = udp_codec.encode(AnnouncePacket(CONNECTION_ID, 5, REQUEST))
    assert len(announce) == 98
    event, ip, key, numwant, port = struct.unpack_from(">IIIiH", announce, 80)
    assert (event, ip, key, numwant, port) == (2, 0, 0xFFFFFFFF, -1, 6881)  # BEP 15: started is 2
    reply = udp_codec.encode(ScrapeReply(1, (ScrapeEntry(complete=1, incomplete=3, downloaded=2),)))
    assert reply[8:] == struct.pack(">III", 1, 2, 3)  # seeders, completed, leechers


def test_ipv4_peers_are_left_out_of_an_ipv6_reply() -> None:
    data = udp_codec.encode(AnnounceReply(2, 60, 0, 0, PEERS4 + PEERS6), socket.AF_INET6)
    assert len(data) == 20 + 18 * 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00" * 15, "truncated request"),
        (struct.pack(">QII", 1234, 0, 1), "not a UDP tracker connect request"),
        (struct.pack(">QII", CONNECTION_ID, 9, 1), "unknown action"),
        (
            udp_codec.encode(AnnouncePacket(CONNECTION_ID, 1, REQUEST))[:-1],
            "truncated announce request",
        ),
        (struct.pack(">QII", CONNECTION_ID, 2, 1) + b"a" * 19, "invalid scrape request"),
        (struct.pack(">QII", CONNECTION_ID, 2, 1), "invalid scrape request"),
        (struct.pack(">QII", CONNECTION_ID, 2, 1) + b"a" * 20 * 75, "invalid scrape request"),
    ],
)
def test_bad_packets_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(TrackerError, match=f"^{message}$"):
        udp_codec.decode_packet(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00",
        struct.pack(">II", 0, 1) + b"\x00" * 7,
        struct.pack(">II", 1, 1) + b"\x00" * 11,
        struct.pack(">II", 2, 1) + b"\x00" * 13,
        struct.pack(">II", 4, 1),
    ],
)
def test_bad_replies_are_rejected(data: bytes) -> None:
    with pytest.raises(TrackerError):
        udp_codec.decode_reply(data)


class CodecTracker:
    """A BEP 15 tracker reduced to the codec, to pump datagrams with an exchange."""

    def __init__(
        self, family: int = socket.AF_INET, peers: tuple[tuple[str, int], ...] = PEERS4
    ) -> None:
        self.family = family
        self.peers = peers
        self.received: list[udp_codec.Packet] = []

    def answer(self, datagram: bytes) -> bytes:
        packet = udp_codec.decode_packet(datagram)
        self.received.append(packet)
        if isinstance(packet, ConnectPacket):
            return udp_codec.encode(ConnectReply(packet.transaction_id, CONNECTION_ID))
        assert packet.connection_id == CONNECTION_ID
        if isinstance(packet, AnnouncePacket):
            reply: udp_codec.Reply = AnnounceReply(packet.transaction_id, 900, 4, 3, self.peers)
        else:
            entries = tuple(ScrapeEntry(i, i + 1, i + 2) for i, _ in enumerate(packet.info_hashes))
            reply = ScrapeReply(packet.transaction_id, entries)
        return udp_codec.encode(reply, self.family)


def pump(exchange: UdpExchange, tracker: CodecTracker, first: bytes, now: float) -> object:
    datagram = first
    while True:
        outcome = exchange.receive(tracker.answer(datagram), now)
        if isinstance(outcome, Answered):
            return outcome.result
        assert isinstance(outcome, Send)
        datagram = outcome.datagram


def make_exchange(family: int = socket.AF_INET) -> UdpExchange:
    return UdpExchange(family, rng=random.Random(1), retry_base=15.0, max_attempts=3)


def test_connect_then_announce() -> None:
    exchange, tracker = make_exchange(), CodecTracker()
    result = pump(exchange, tracker, exchange.begin(REQUEST, now=0.0), now=0.5)
    assert result == AnnounceResponse(
        interval=900,
        min_interval=None,
        peers=PEERS4,
        complete=3,
        incomplete=4,
        warning="",
        tracker_id=None,
    )
    assert [type(p) for p in tracker.received] == [ConnectPacket, AnnouncePacket]
    assert exchange.deadline is None


def test_ipv6_tracker_gives_18_byte_peers() -> None:
    exchange, tracker = make_exchange(socket.AF_INET6), CodecTracker(socket.AF_INET6, PEERS6)
    result = pump(exchange, tracker, exchange.begin(REQUEST, now=0.0), now=0.0)
    assert isinstance(result, AnnounceResponse) and result.peers == PEERS6


def test_connection_id_is_reused_for_a_minute_only() -> None:
    exchange, tracker = make_exchange(), CodecTracker()
    pump(exchange, tracker, exchange.begin(REQUEST, now=0.0), now=0.0)
    pump(exchange, tracker, exchange.begin(REQUEST, now=59.0), now=59.0)
    assert [type(p) for p in tracker.received] == [ConnectPacket, AnnouncePacket, AnnouncePacket]
    pump(exchange, tracker, exchange.begin(REQUEST, now=60.0), now=60.0)
    assert [type(p) for p in tracker.received[3:]] == [ConnectPacket, AnnouncePacket]


def test_scrape_maps_counts_to_the_hashes_asked() -> None:
    exchange, tracker = make_exchange(), CodecTracker()
    hashes = (b"a" * 20, b"b" * 20)
    result = pump(exchange, tracker, exchange.begin(hashes, now=0.0), now=0.0)
    assert result == {b"a" * 20: ScrapeEntry(0, 1, 2), b"b" * 20: ScrapeEntry(1, 2, 3)}


def test_answer_with_another_transaction_id_is_ignored() -> None:
    exchange = make_exchange()
    connect = udp_codec.decode_packet(exchange.begin(REQUEST, now=0.0))
    stale = udp_codec.encode(ConnectReply(connect.transaction_id ^ 1, CONNECTION_ID))
    assert exchange.receive(stale, now=1.0) is None
    assert exchange.deadline == 15.0
    assert isinstance(exchange.receive(CodecTracker().answer(exchange.timed_out(15.0)), 16.0), Send)


def test_retransmits_after_15_30_60_seconds_then_times_out() -> None:
    exchange = make_exchange()
    first = exchange.begin(REQUEST, now=0.0)
    assert exchange.deadline == 15.0
    assert exchange.timed_out(15.0) == first  # same transaction id: a late answer still counts
    assert exchange.deadline == 45.0
    exchange.timed_out(45.0)
    assert exchange.deadline == 105.0
    with pytest.raises(TrackerError, match="^timed out$"):
        exchange.timed_out(105.0)
    assert exchange.deadline is None


def test_a_late_answer_to_the_first_copy_is_accepted() -> None:
    exchange, tracker = make_exchange(), CodecTracker()
    first = exchange.begin(REQUEST, now=0.0)
    exchange.timed_out(15.0)
    assert isinstance(exchange.receive(tracker.answer(first), now=16.0), Send)


def test_retransmission_reconnects_when_the_connection_id_expired() -> None:
    exchange, tracker = make_exchange(), CodecTracker()
    outcome = exchange.receive(tracker.answer(exchange.begin(REQUEST, now=0.0)), now=10.0)
    assert isinstance(outcome, Send)
    assert isinstance(udp_codec.decode_packet(outcome.datagram), AnnouncePacket)
    exchange.timed_out(25.0)  # 15 s after the announce: id still valid
    retry = exchange.timed_out(70.0)
    assert isinstance(udp_codec.decode_packet(retry), ConnectPacket)


def test_error_action_fails_with_the_trackers_words_and_forgets_the_connection() -> None:
    exchange, tracker = make_exchange(), CodecTracker()
    pump(exchange, tracker, exchange.begin(REQUEST, now=0.0), now=0.0)
    announce = udp_codec.decode_packet(exchange.begin(REQUEST, now=1.0))
    with pytest.raises(TrackerError, match="^unregistered torrent$"):
        exchange.receive(
            udp_codec.encode(ErrorReply(announce.transaction_id, "unregistered torrent")), 1.0
        )
    assert isinstance(udp_codec.decode_packet(exchange.begin(REQUEST, now=2.0)), ConnectPacket)


def test_truncated_answer_fails_the_query() -> None:
    exchange = make_exchange()
    connect = udp_codec.decode_packet(exchange.begin(REQUEST, now=0.0))
    with pytest.raises(TrackerError, match="truncated"):
        exchange.receive(struct.pack(">II", 0, connect.transaction_id) + b"\x00" * 4, 0.0)
    assert exchange.deadline is None


def test_answer_of_the_wrong_kind_fails_the_query() -> None:
    exchange = make_exchange()
    connect = udp_codec.decode_packet(exchange.begin(REQUEST, now=0.0))
    with pytest.raises(TrackerError, match="unexpected"):
        exchange.receive(udp_codec.encode(ScrapeReply(connect.transaction_id, ())), 0.0)
    send = exchange.receive(CodecTracker().answer(exchange.begin(REQUEST, 1.0)), 1.0)
    assert isinstance(send, Send)
    announce = udp_codec.decode_packet(send.datagram)
    with pytest.raises(TrackerError, match="unexpected"):
        exchange.receive(udp_codec.encode(ScrapeReply(announce.transaction_id, ())), 1.0)


def test_nothing_in_flight_ignores_datagrams_and_one_query_at_a_time() -> None:
    exchange = make_exchange()
    assert exchange.receive(b"garbage", 0.0) is None
    exchange.begin(REQUEST, 0.0)
    with pytest.raises(RuntimeError):
        exchange.begin(REQUEST, 0.0)
    exchange.abandon()
    exchange.begin(REQUEST, 0.0)
