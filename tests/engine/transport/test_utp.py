"""uTP (BEP 29): the packet codec and two connection cores talking over a simulated link."""

from __future__ import annotations

import os

import pytest

from app.engine.errors import LocalProtocolError, RemoteProtocolError
from app.engine.transport import utp
from app.engine.transport.ledbat import TARGET_DELAY, DelayHistory, Ledbat
from app.engine.transport.utp import (
    MAX_PAYLOAD,
    MIN_RTO,
    RECEIVE_BUFFER,
    Closed,
    Connected,
    DataReceived,
    State,
    UtpConnection,
)
from app.engine.transport.utp_codec import (
    HEADER_SIZE,
    Packet,
    PacketType,
    UtpError,
    decode_packet,
    SEQ_ACK,
    encode_header,
    encode_packet,
    encode_prefix,
    looks_like_utp,
    sack_mask,
    sacked,
    seq_less,
)
from tests.engine.transport.utp_link import Link, Path

# ---------------------------------------------------------------------------------- codec


def test_a_packet_survives_encoding_and_decoding() -> None:
    packet = Packet(PacketType.DATA, 0xBEEF, 123456, 789, 1 << 20, 65535, 7, b"\x05\x00\x00\x00", b"payload")
    assert decode_packet(encode_packet(packet)) == packet


def test_the_header_layout_is_bep_29s() -> None:
    """type in the high nibble, version 1 in the low one, then extension and connection id."""
    data = encode_header(PacketType.SYN, 0x1234, 1, 2, 3, 4, 5)
    assert data[:4] == bytes([0x41, 0, 0x12, 0x34])
    assert len(data) == HEADER_SIZE == 20


def test_a_shared_prefix_and_its_numbers_make_the_same_header() -> None:
    fields = (PacketType.DATA, 0x1234, 0xDEADBEEF, 77, 2**33)
    assert encode_prefix(*fields) + SEQ_ACK.pack(65535, 9) == encode_header(*fields, 65535, 9)


def test_unknown_extensions_are_skipped_by_their_length() -> None:
    header = bytearray(encode_header(PacketType.STATE, 1, 0, 0, 0, 0, 0))
    header[1] = 9  # an extension we do not know, followed by a SACK, then the end of the chain
    data = bytes(header) + bytes([1, 3]) + b"abc" + bytes([0, 4]) + b"\x01\x00\x00\x00" + b"data"
    packet = decode_packet(data)
    assert packet.sack == b"\x01\x00\x00\x00"
    assert packet.payload == b"data"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01" * 19, "shorter than its header"),
        (bytes([0x02]) + bytes(19), "version 2"),
        (bytes([0x51]) + bytes(19), "type 5"),
        (bytes([0x21, 1]) + bytes(18) + b"\x00", "extension header runs past"),
        (bytes([0x21, 1]) + bytes(18) + b"\x00\x08\x00", "extension of 8 bytes"),
    ],
)
def test_malformed_packets_give_a_protocol_error(data: bytes, message: str) -> None:
    with pytest.raises(UtpError, match=message) as caught:
        decode_packet(data)
    assert isinstance(caught.value, RemoteProtocolError)


def test_the_sack_bitmask_starts_at_ack_nr_plus_two_least_significant_bit_first() -> None:
    """BEP 29: the first byte covers ack_nr + 2 .. ack_nr + 9, ack_nr + 2 in its lowest bit."""
    mask = sack_mask(100, {102, 109, 110}, 110)
    assert mask == bytes([0b1000_0001, 0b0000_0001, 0, 0])
    assert sacked(100, mask) == [102, 109, 110]


def test_the_sack_bitmask_wraps_with_the_sequence_numbers() -> None:
    mask = sack_mask(65534, {0, 1}, 1)
    assert sacked(65534, mask) == [0, 1]


def test_sequence_comparison_wraps_at_16_bits() -> None:
    assert seq_less(65535, 0) and seq_less(65000, 100) and not seq_less(100, 65000)
    assert not seq_less(5, 5)


def test_the_demultiplexer_tells_utp_from_a_dht_message() -> None:
    assert looks_like_utp(encode_header(PacketType.DATA, 1, 0, 0, 0, 0, 0))
    assert looks_like_utp(encode_header(PacketType.SYN, 1, 0, 0, 0, 0, 0))
    assert not looks_like_utp(b"d1:ad2:id20:" + bytes(20) + b"e1:q4:ping1:t2:aa1:y1:qe")
    assert not looks_like_utp(bytes([0x51]) + bytes(19))


# ---------------------------------------------------------------------------------- LEDBAT


def test_the_base_delay_is_the_minimum_of_the_last_minutes() -> None:
    history = DelayHistory()
    assert history.add(5000, 0.0) == 0
    assert history.add(9000, 1.0) == 4000
    for minute in range(1, 5):  # the 5000 sample ages out; 8000 becomes the base
        history.add(8000, 60.0 * minute + 1)
    assert history.add(9000, 300.0) == 1000


def test_delay_samples_wrap_at_32_bits() -> None:
    history = DelayHistory()
    history.add(0xFFFF_FF00, 0.0)
    assert history.add(0x0000_0100, 1.0) == 0x200


def test_the_window_grows_under_the_target_and_shrinks_over_it() -> None:
    control = Ledbat(1000, 1 << 20)
    control.slow_start = False
    control.window = 50_000
    control.on_ack(5000, 0, 50_000, saturated=True)
    assert control.window == pytest.approx(50_000 + 3000 * 5000 / 50_000)
    control.on_ack(5000, 2 * TARGET_DELAY, 50_000, saturated=True)
    assert control.window == pytest.approx(50_300 - 300)
    control.on_ack(5000, 0, 50_000, saturated=False)  # an app that does not fill the window
    assert control.window == pytest.approx(50_000)


# ---------------------------------------------------------------------------------- handshake


def test_the_handshake_uses_libtorrents_connection_ids() -> None:
    link = Link(connection_id=5000, a_seq=100, b_seq=40000)
    link.start()
    syn = link.paths["a"].sent[0][1]
    assert (syn.type, syn.connection_id, syn.seq_nr) == (PacketType.SYN, 5000, 100)
    link.run(lambda: link.a.state is State.CONNECTED)
    assert link.b is not None
    state = link.paths["b"].sent[0][1]
    assert (state.type, state.connection_id, state.ack_nr) == (PacketType.STATE, 5000, 100)
    assert (link.a.recv_id, link.a.send_id) == (5000, 5001)
    assert (link.b.recv_id, link.b.send_id) == (5001, 5000)
    assert link.events["a"] == [Connected()] and link.events["b"] == [Connected()]


def test_data_flows_both_ways_and_the_first_data_packet_follows_the_syn() -> None:
    link = Link(a_seq=100, b_seq=40000)
    link.start()
    link.write("a", b"hello from a")
    link.write("b", b"hello from b")
    link.run(lambda: link.received["a"] == b"hello from b" and link.received["b"] == b"hello from a")
    first_data = next(packet for _, packet in link.paths["a"].sent if packet.type is PacketType.DATA)
    assert first_data.seq_nr == 101 and first_data.connection_id == 5001
    first_back = next(packet for _, packet in link.paths["b"].sent if packet.type is PacketType.DATA)
    assert first_back.seq_nr == 40000


@pytest.mark.parametrize(
    ("mtu", "ipv6", "datagram"),
    [(None, False, 1400), (1500, False, 1400), (1500, True, 1400), (1420, False, 1392), (1420, True, 1372),
     (1280, True, 1232), (300, False, 548)],
)
def test_a_packet_fits_the_paths_mtu_with_its_headers(mtu: int | None, ipv6: bool, datagram: int) -> None:
    """Ethernet: 1400-byte datagrams; a tunnel (WireGuard 1420, IPv6's minimum 1280) gets smaller
    ones instead of fragments; never below what every IPv4 host must take (576 less headers)."""
    assert utp.max_payload(mtu, ipv6) + HEADER_SIZE == datagram


def test_a_connection_on_a_narrow_path_sends_no_datagram_above_its_size() -> None:
    link = Link(payload=utp.max_payload(1420, ipv6=True))
    link.start()
    data = os.urandom(50 * MAX_PAYLOAD)
    link.write("a", data)
    link.run(lambda: link.received["b"] == data)
    sizes = [len(encode_packet(packet)) for _, packet in link.paths["a"].sent if packet.type is PacketType.DATA]
    assert max(sizes) == 1372 and sum(size == 1372 for size in sizes) > 40


def test_a_lost_syn_is_sent_again_and_a_lost_state_is_answered_again() -> None:
    dropped = {"syn": 1, "state": 1}

    def drop_first(kind: PacketType, key: str):
        def drop(packet: Packet) -> bool:
            if packet.type is kind and dropped[key]:
                dropped[key] -= 1
                return True
            return False

        return drop

    link = Link(Path(drop=drop_first(PacketType.SYN, "syn")), Path(drop=drop_first(PacketType.STATE, "state")))
    link.start()
    link.run(lambda: link.a.state is State.CONNECTED)
    syns = [packet for _, packet in link.paths["a"].sent if packet.type is PacketType.SYN]
    assert len(syns) == 3 and len({packet.seq_nr for packet in syns}) == 1


def test_a_syn_to_nobody_gives_up_with_a_reason() -> None:
    link = Link(Path(loss=1.0))
    link.start()
    link.run(lambda: link.closed("a") is not None)
    assert link.closed("a") == Closed("no uTP answer from the peer", error=True)
    assert link.now == pytest.approx(1 + 2 + 4)  # BEP 29: the timeout doubles each time


# ---------------------------------------------------------------------------------- transfers


def test_a_large_transfer_arrives_byte_for_byte() -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    link = Link()
    link.start()
    link.write("a", data)
    link.run(lambda: len(link.received["b"]) == len(data), limit=120)
    assert link.received["b"] == data
    assert link.a.congestion_window > 10 * MAX_PAYLOAD  # slow start opened the window


def test_loss_reordering_and_duplication_both_ways_still_deliver_every_byte() -> None:
    up, down = os.urandom(600_000), os.urandom(400_000)
    lossy = dict(loss=0.05, duplicate=0.05, jitter=0.02)
    link = Link(Path(**lossy), Path(**lossy), seed=7)
    link.start()
    link.write("a", up)
    link.write("b", down)
    link.run(lambda: len(link.received["b"]) == len(up) and len(link.received["a"]) == len(down), limit=600)
    assert link.received["b"] == up and link.received["a"] == down
    assert link.closed("a") is None and link.closed("b") is None


def test_sequence_numbers_wrap_around_16_bits() -> None:
    data = os.urandom(400 * MAX_PAYLOAD)
    link = Link(Path(loss=0.02, jitter=0.005), Path(loss=0.02), a_seq=65500, b_seq=65530)
    link.start()
    link.write("a", data)
    link.write("b", data[:50_000])
    link.run(lambda: len(link.received["b"]) == len(data) and len(link.received["a"]) == 50_000, limit=300)
    assert link.received["b"] == data and link.received["a"] == data[:50_000]
    sent = [packet.seq_nr for _, packet in link.paths["a"].sent if packet.type is PacketType.DATA]
    assert 65535 in sent and 0 in sent and max(sent) == 65535


def test_three_duplicate_acks_resend_the_lost_packet_before_the_timeout() -> None:
    lost: list[int] = []

    def drop_once(packet: Packet) -> bool:
        if packet.type is PacketType.DATA and packet.seq_nr == 110 and not lost:
            lost.append(packet.seq_nr)
            return True
        return False

    link = Link(Path(drop=drop_once, delay=lambda now: 0.005), a_seq=100)
    link.start()
    link.write("a", os.urandom(60 * MAX_PAYLOAD))
    link.run(lambda: len(link.received["b"]) == 60 * MAX_PAYLOAD)
    sends = [moment for moment, packet in link.paths["a"].sent if packet.type is PacketType.DATA and packet.seq_nr == 110]
    assert len(sends) == 2
    assert sends[1] - sends[0] < MIN_RTO  # resent on the duplicate acks and SACKs, not on the timer
    acks = [packet for _, packet in link.paths["b"].sent if packet.type is PacketType.STATE and packet.sack]
    assert acks and all(packet.ack_nr == 109 for packet in acks)


def test_a_lost_tail_is_probed_before_the_timeout_and_the_window_is_kept() -> None:
    """The last packets of a burst are all lost: nothing after them is SACKed, so only a probe
    (RFC 8985 TLP) finds them before the retransmission timeout would reset the window."""
    first_sends: set[int] = set()

    def drop_the_tail_once(packet: Packet) -> bool:
        if packet.type is not PacketType.DATA or packet.seq_nr < 150 or packet.seq_nr in first_sends:
            return False
        first_sends.add(packet.seq_nr)
        return True

    link = Link(Path(drop=drop_the_tail_once, delay=lambda now: 0.005), a_seq=100)
    link.start()
    link.write("a", os.urandom(60 * MAX_PAYLOAD))
    link.run(lambda: len(link.received["b"]) == 60 * MAX_PAYLOAD)
    sends = [moment for moment, packet in link.paths["a"].sent if packet.type is PacketType.DATA and packet.seq_nr == 150]
    assert len(sends) >= 2
    assert sends[1] - sends[0] < MIN_RTO  # probed, not timed out
    assert link.a.congestion_window > 2 * MAX_PAYLOAD  # no timeout: the window was not reset to one packet


def test_a_silent_flight_is_probed_with_the_oldest_packet_and_then_less_often() -> None:
    link = Link(Path(delay=lambda now: 0.005))
    link.start()
    link.write("a", os.urandom(20 * MAX_PAYLOAD))
    link.run(lambda: len(link.received["b"]) > 0)
    link.paths["a"].loss = link.paths["b"].loss = 1.0
    silent = link.now
    link.run_for(MIN_RTO - 0.01)
    sends = [(moment, packet.seq_nr) for moment, packet in link.paths["a"].sent if packet.type is PacketType.DATA]
    probes = [(moment, seq) for index, (moment, seq) in enumerate(sends) if seq in {seen for _, seen in sends[:index]}]
    assert len({seq for _, seq in probes}) == 1  # always the oldest, the packet the receiver waits for
    gaps = [later - earlier for (earlier, _), (later, _) in zip(probes, probes[1:])]
    assert len(probes) >= 3 and all(later > 1.9 * earlier for earlier, later in zip(gaps, gaps[1:]))


def test_the_sender_keeps_within_the_receivers_reorder_span() -> None:
    """A hole stays open (its packet and every resend of it lost): new packets stop MAX_SPAN past
    it, where libutp and libtorrent would drop them without a word."""
    link = Link(Path(drop=lambda packet: packet.type is PacketType.DATA and packet.seq_nr == 110, delay=lambda now: 0.005),
                a_seq=100)
    link.start()
    link.write("a", os.urandom((utp.MAX_SPAN + 200) * MAX_PAYLOAD))
    link.run(lambda: link.now > 5.0, limit=6.0)
    sent = {packet.seq_nr for _, packet in link.paths["a"].sent if packet.type is PacketType.DATA}
    assert max(sent) - 110 <= utp.MAX_SPAN
    assert len(link.received["b"]) == 9 * MAX_PAYLOAD  # everything before the hole, and no more


def test_a_batch_of_in_order_packets_is_one_data_event() -> None:
    link = Link()
    link.start()
    link.run(lambda: link.b is not None and link.a.state is State.CONNECTED)
    assert link.b is not None
    link.b.events()
    link.a.send(os.urandom(10 * MAX_PAYLOAD))
    datagrams = link.a.datagrams_to_send(link.now)
    for datagram in datagrams:
        link.b.receive_datagram(datagram, link.now)
    assert len(datagrams) >= 2
    assert link.b.events() == [DataReceived(b"".join(decode_packet(datagram).payload for datagram in datagrams))]


def test_the_receiver_never_holds_more_than_its_window_of_reordered_packets() -> None:
    link = Link(Path(jitter=0.3, loss=0.1), seed=3)
    link.start()
    link.write("a", os.urandom(2_000_000))
    peak = 0

    def done() -> bool:
        nonlocal peak
        if link.b is not None:
            peak = max(peak, RECEIVE_BUFFER - link.b.receive_window)
        return len(link.received["b"]) == 2_000_000

    link.run(done, limit=600)
    assert 0 < peak <= RECEIVE_BUFFER


# ---------------------------------------------------------------------------------- windows


def test_a_zero_window_makes_the_sender_probe_and_it_resumes_when_the_reader_does() -> None:
    data = os.urandom(3 * RECEIVE_BUFFER)
    link = Link()
    link.start()
    link.run(lambda: link.b is not None and link.b.state is State.CONNECTED)
    assert link.b is not None
    link.b.pause_reading()
    link.write("a", data)
    link.run(lambda: link.b is not None and link.b.receive_window < MAX_PAYLOAD, limit=60)
    stalled_at = link.now
    link.run_for(30.0)
    probes = [moment for moment, packet in link.paths["a"].sent if moment > stalled_at + 1 and packet.type is PacketType.DATA]
    assert probes, "the sender stopped probing the closed window"
    assert len(link.received["b"]) == 0 and link.closed("a") is None
    assert RECEIVE_BUFFER - link.b.receive_window <= RECEIVE_BUFFER
    link.b.resume_reading()
    link.pump()
    link.run(lambda: len(link.received["b"]) == len(data), limit=link.now + 120)
    assert link.received["b"] == data


def test_send_takes_no_more_than_its_capacity() -> None:
    connection = UtpConnection.outgoing(1, 1)
    connection.send_buffer_limit = 1000
    assert connection.send(bytes(1500)) == 1000
    assert connection.send_capacity == 0 and connection.send(b"x") == 0


# ---------------------------------------------------------------------------------- LEDBAT on the link


def test_a_growing_one_way_delay_shrinks_the_window_and_the_sender_yields() -> None:
    """The forward delay is 10 ms for 20 s, then grows by 100 ms a second to half a second."""

    def delay(now: float) -> float:
        return 0.010 if now < 20 else min(0.510, 0.010 + 0.1 * (now - 20))

    link = Link(Path(delay=delay, rate=2_000_000))
    link.start()
    link.write("a", os.urandom(100_000_000))
    link.run(lambda: link.now >= 20)
    window_before = link.a.congestion_window
    rate_before = len(link.received["b"]) / 20
    link.run(lambda: link.now >= 40)
    delivered = len(link.received["b"])
    link.run(lambda: link.now >= 50)
    assert window_before > 100 * MAX_PAYLOAD
    assert link.a.congestion_window <= 2 * MAX_PAYLOAD
    assert (len(link.received["b"]) - delivered) / 10 < rate_before / 100
    assert link.closed("a") is None


def test_ledbat_keeps_the_bottleneck_queue_near_the_target_delay() -> None:
    """A 1 MB/s bottleneck with a queue that never drops: loss-based control would fill it without
    end; LEDBAT keeps the extra delay near 100 ms and still uses most of the link."""
    link = Link(Path(rate=1_000_000, delay=lambda now: 0.020))
    link.start()
    link.write("a", os.urandom(100_000_000))
    link.run(lambda: link.now >= 60, limit=100)
    late = [queued for moment, queued in link.paths["a"].queue_delays if moment > 30]
    assert max(late) < 0.25
    delivered_late = [moment for moment, packet in link.paths["a"].sent if moment > 30 and packet.type is PacketType.DATA]
    assert len(delivered_late) * MAX_PAYLOAD / 30 > 0.7 * 1_000_000


# ---------------------------------------------------------------------------------- ends


def test_a_graceful_close_delivers_everything_then_closes_both_ends() -> None:
    data = os.urandom(200_000)
    link = Link(Path(loss=0.03), Path(loss=0.03), seed=11)
    link.start()
    link.write("a", data)
    link.run(lambda: not link.unsent("a"))
    link.a.close()
    link.run(lambda: link.closed("a") is not None and link.closed("b") is not None)
    assert link.received["b"] == data
    assert link.closed("b") == Closed("the peer closed the connection", error=False)
    assert link.closed("a") == Closed("closed", error=False)
    assert link.events["b"][-1] == link.closed("b")
    fins = {packet.seq_nr for _, packet in link.paths["a"].sent if packet.type is PacketType.FIN}
    assert len(fins) == 1


def test_a_peer_that_vanishes_times_out_with_a_reason() -> None:
    link = Link()
    link.start()
    link.write("a", os.urandom(100_000))
    link.run(lambda: len(link.received["b"]) > 10_000)
    link.paths["a"].loss = link.paths["b"].loss = 1.0
    vanished = link.now
    link.run(lambda: link.closed("a") is not None, limit=vanished + 300)
    assert link.closed("a") == Closed("the peer stopped answering (uTP timeout)", error=True)
    resends = [moment for moment, _ in link.paths["a"].sent if moment > vanished]
    gaps = [later - earlier for earlier, later in zip(resends, resends[1:]) if later - earlier > 0.1]
    assert gaps == sorted(gaps) and gaps[-1] >= 4 * gaps[0]  # the timeout backs off


def test_a_reset_closes_the_other_end_with_a_reason() -> None:
    link = Link()
    link.start()
    link.run(lambda: link.b is not None and link.b.state is State.CONNECTED)
    assert link.b is not None
    link.write("a", b"x")
    link.run(lambda: link.received["b"] == b"x")
    link.b.abort(link.now)
    link.pump()
    link.run(lambda: link.closed("a") is not None)
    assert link.closed("a") == Closed("the peer reset the connection", error=True)


def test_closed_waits_for_the_data_held_while_reading_is_paused() -> None:
    link = Link()
    link.start()
    link.run(lambda: link.b is not None and link.b.state is State.CONNECTED)
    assert link.b is not None
    link.b.pause_reading()
    link.write("a", b"last words")
    link.run(lambda: not link.unsent("a") and link.a.bytes_in_flight == 0)
    link.a.close()
    link.run(lambda: link.closed("a") is not None)
    assert link.closed("b") is None
    link.b.resume_reading()
    link.pump()
    assert link.events["b"][-2:] == [DataReceived(b"last words"), Closed("the peer closed the connection", False)]


def test_sending_after_close_is_our_error() -> None:
    connection = UtpConnection.outgoing(1, 1)
    connection.close()
    with pytest.raises(LocalProtocolError):
        connection.send(b"x")


def test_garbage_and_injected_packets_are_dropped_without_harm() -> None:
    link = Link()
    link.start()
    link.write("a", b"before")
    link.run(lambda: link.received["b"] == b"before")
    b = link.b
    assert b is not None
    injected = [
        b"not utp at all",
        encode_header(PacketType.DATA, b.recv_id + 7, 0, 0, 0, 102, 40000) + b"other connection",
        encode_header(PacketType.STATE, b.recv_id, 0, 0, 0, 102, 50000),  # acks what b never sent
        encode_header(PacketType.RESET, b.recv_id, 0, 0, 0, 1, 60000),
    ]
    for datagram in injected:
        b.receive_datagram(datagram, link.now)
    assert b.invalid_packets == 4 and b.state is State.CONNECTED
    link.write("a", b" and after")
    link.run(lambda: link.received["b"] == b"before and after")


def test_an_accepted_connection_that_hears_nothing_more_is_dropped() -> None:
    syn = decode_packet(encode_header(PacketType.SYN, 77, 1, 0, 0, 500, 0))
    connection = UtpConnection.incoming(syn, 9, now=0.0)
    assert connection.events() == [Connected()]
    (state,) = connection.datagrams_to_send(0.0)
    assert decode_packet(state).ack_nr == 500
    deadline = connection.next_timer()
    assert deadline is not None
    connection.timeout(deadline)
    assert connection.events() == [Closed("the peer sent nothing after the handshake", error=True)]


def test_connect_twice_is_our_error() -> None:
    connection = UtpConnection.outgoing(1, 1)
    connection.connect(0.0)
    with pytest.raises(LocalProtocolError):
        connection.connect(0.0)


def test_the_module_has_no_clock() -> None:
    imports = [line for line in open(utp.__file__, encoding="utf-8") if line.startswith(("import ", "from "))]
    assert not [line for line in imports if any(name in line for name in ("time", "asyncio", "socket", "random"))]


def test_after_its_fin_is_acked_a_connection_lingers_a_while_then_goes() -> None:
    """The peer's FIN never arrives (every one is lost; its ACKs come twice): we do not wait for it for ever."""
    link = Link(backward=Path(drop=lambda packet: packet.type is PacketType.FIN, duplicate=1.0))
    link.start()
    link.run(lambda: link.a.state is State.CONNECTED)
    link.a.close()
    link.run(lambda: link.closed("a") is not None)
    fin_acked_at = link.now
    assert link.a.state is State.FIN_SENT  # lingering, to ack the peer's FIN
    link.run(lambda: link.a.state is State.CLOSED, limit=fin_acked_at + utp.LINGER + 1)
    assert link.now >= fin_acked_at + utp.LINGER - 0.1
    assert any(packet.type is PacketType.FIN for _, packet in link.paths["b"].sent)
