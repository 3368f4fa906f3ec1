import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine.errors import RemoteProtocolError
from app.engine.wire import messages as m
from app.engine.wire.codec import (
    INITIAL_BUFFER,
    MAX_READ,
    WireDecoder,
    encode,
    encode_cancel,
    encode_handshake,
    encode_have,
    encode_request,
    piece_header,
)

IH = bytes(range(20))
PID = b"-PM0100-abcdefghijkl"

ALL_MESSAGES = [
    m.KeepAlive(), m.Choke(), m.Unchoke(), m.Interested(), m.NotInterested(), m.Have(7),
    m.BitfieldMessage(b"\xff\x80"), m.Request(1, 16384, 16384), m.Cancel(1, 0, 16384),
    m.Port(6881), m.Suggest(3), m.HaveAll(), m.HaveNone(), m.Reject(2, 0, 100),
    m.AllowedFast(9), m.Extended(0, b"d1:v3:abce"),
    m.HashRequest(bytes(range(32)), 2, 512, 512, 9), m.HashReject(bytes(32), 0, 4, 2, 0),
    m.Hashes(bytes(range(32)), 2, 0, 2, 1, bytes(range(96))),
]


def decode_all(data: bytes, **kw) -> list[m.Event]:
    decoder = WireDecoder(**kw)
    decoder.feed(data)
    return [_materialize(e) for e in decoder.events()]


def _materialize(event: m.Event) -> m.Event:
    if isinstance(event, m.Piece):
        return m.Piece(event.index, event.begin, bytes(event.data))
    return event


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda x: type(x).__name__)
def test_round_trip(message: m.Message) -> None:
    assert decode_all(encode(message), expect_handshake=False) == [message]


def test_piece_round_trip_and_hot_path_forms() -> None:
    piece = m.Piece(4, 32768, b"x" * 16384)
    assert encode(piece) == piece_header(4, 32768, 16384) + b"x" * 16384
    assert encode(m.Request(1, 2, 3)) == encode_request(1, 2, 3)
    assert encode(m.Cancel(1, 2, 3)) == encode_cancel(1, 2, 3)
    assert encode(m.Have(70000)) == encode_have(70000)
    assert decode_all(encode(piece), expect_handshake=False) == [piece]


def test_handshake_keeps_reserved_bits() -> None:
    reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
    [hs] = decode_all(encode_handshake(IH, PID, reserved))
    assert hs == m.Handshake(reserved, IH, PID)
    assert hs.supports_extensions and hs.supports_fast and hs.supports_dht


def test_stream_cut_at_every_offset_gives_the_same_messages() -> None:
    stream = encode_handshake(IH, PID) + b"".join(encode(x) for x in ALL_MESSAGES)
    stream += encode(m.Piece(0, 0, bytes(range(256)) * 64))
    expected = decode_all(stream)
    for cut in range(len(stream)):
        decoder = WireDecoder()
        got = []
        for chunk in (stream[:cut], stream[cut:]):
            decoder.feed(chunk)
            got += [_materialize(e) for e in decoder.events()]
        assert got == expected, cut


def test_byte_by_byte_through_the_buffered_protocol_path() -> None:
    stream = encode_handshake(IH, PID) + encode(m.Piece(1, 0, b"abc" * 10000)) + encode(m.Have(1))
    decoder = WireDecoder()
    got = []
    step = 997
    for i in range(0, len(stream), step):
        chunk = stream[i : i + step]
        buf = decoder.get_buffer(len(chunk))
        buf[: len(chunk)] = chunk
        decoder.buffer_updated(len(chunk))
        got += [_materialize(e) for e in decoder.events()]
    assert got[1] == m.Piece(1, 0, b"abc" * 10000)
    assert got[2] == m.Have(1)


def test_huge_length_prefix_is_refused_before_buffering() -> None:
    decoder = WireDecoder(expect_handshake=False)
    decoder.feed(struct.pack(">I", 0xFFFFFFF0) + b"\x07")
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        list(decoder.events())


@pytest.mark.parametrize(
    "frame, problem",
    [
        (struct.pack(">IB", 2, 4) + b"\x00", "expected 4"),  # have with 1-byte payload
        (struct.pack(">IB", 1, 6), "expected 12"),  # empty request
        (struct.pack(">IBIII", 13, 6, 0, 0, 0), "out of bounds"),  # zero-length request
        (struct.pack(">IBIII", 13, 6, 0, 0, 128 * 1024 + 1), "out of bounds"),
        (struct.pack(">IB", 2, 0) + b"x", "expected 0"),  # choke with payload
        (struct.pack(">IB", 5, 7) + b"abcd", "too short"),  # piece without a begin
        (struct.pack(">IB", 48, 21) + bytes(47), "expected 48"),  # BEP 52 hash request, 1 byte short
        (struct.pack(">IB", 48, 22) + bytes(47), "too short"),  # hashes, header 1 byte short
        (struct.pack(">IB", 50, 23) + bytes(49), "expected 48"),  # hash reject, 1 byte long
        (struct.pack(">IB", 49, 22) + bytes(48), "whole 32-byte hashes"),  # hashes without hashes
        (struct.pack(">IB", 59, 22) + bytes(58), "whole 32-byte hashes"),  # a 10-byte hash
    ],
)
def test_malformed_messages(frame: bytes, problem: str) -> None:
    with pytest.raises(RemoteProtocolError, match=problem):
        decode_all(frame, expect_handshake=False)


def test_not_a_handshake() -> None:
    with pytest.raises(RemoteProtocolError, match="handshake"):
        decode_all(b"GET / HTTP/1.1\r\n\r\n" + bytes(60))


def test_unknown_message_ids_are_skipped() -> None:
    stream = struct.pack(">IB", 3, 99) + b"zz" + encode(m.Have(2))
    assert decode_all(stream, expect_handshake=False) == [m.Have(2)]


@given(st.binary(max_size=300))
def test_garbage_gives_only_protocol_errors(data: bytes) -> None:
    try:
        decode_all(data)
        decode_all(data, expect_handshake=False)
    except RemoteProtocolError:
        pass


def test_piece_views_stay_valid_while_more_events_are_pulled() -> None:
    """The docstring's promise: a view lives until the next get_buffer/feed, even when the
    events after it end in a partial message near the end of the buffer (no compaction)."""
    blocks = [bytes([n + 1]) * 16384 for n in range(15)]
    stream = b"".join(encode(m.Piece(n, 0, block)) for n, block in enumerate(blocks))
    partial = encode(m.Piece(99, 0, bytes(16384)))[:10000]
    decoder = WireDecoder(expect_handshake=False)
    decoder.feed(stream + partial)  # 15 pieces and most of a 16th fill the initial buffer
    pieces = list(decoder.events())
    assert [bytes(p.data) for p in pieces] == blocks


def test_take_blocks_takes_the_run_of_pieces_and_leaves_the_rest_in_order() -> None:
    first, second = b"a" * 16384, b"b" * 100
    decoder = WireDecoder(expect_handshake=False)
    decoder.feed(encode(m.Piece(1, 0, first)) + encode(m.Piece(1, 16384, second)) + encode(m.Have(3))
                 + encode(m.Piece(2, 0, first)) + encode(m.Piece(5, 0, first))[:20])
    assert [(i, b, bytes(d)) for i, b, d in decoder.take_blocks()] == [(1, 0, first), (1, 16384, second)]
    assert decoder.take_blocks() == []  # a have is next: for next_event
    assert decoder.next_event() == m.Have(3)
    assert [(i, b, bytes(d)) for i, b, d in decoder.take_blocks()] == [(2, 0, first)]
    assert decoder.take_blocks() == [] and decoder.next_event() is None  # the last piece is not whole yet


def test_take_blocks_waits_for_the_handshake_and_leaves_bad_pieces_to_next_event() -> None:
    decoder = WireDecoder()
    decoder.feed(encode_handshake(IH, PID) + struct.pack(">IBI", 5, 7, 1))  # a piece without its begin
    assert decoder.take_blocks() == []
    assert isinstance(decoder.next_event(), m.Handshake)
    assert decoder.take_blocks() == []
    with pytest.raises(RemoteProtocolError, match="too short"):
        decoder.next_event()


def test_take_blocks_leaves_a_piece_over_the_size_limit_to_next_event() -> None:
    decoder = WireDecoder(expect_handshake=False, max_message=1000)
    decoder.feed(encode(m.Piece(0, 0, bytes(2000))))
    assert decoder.take_blocks() == []
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        decoder.next_event()


def test_take_requests_takes_the_run_of_requests_and_leaves_bad_ones_to_next_event() -> None:
    decoder = WireDecoder(expect_handshake=False)
    decoder.feed(encode_request(1, 0, 16384) + encode_request(1, 16384, 16384) + encode(m.Cancel(1, 0, 16384))
                 + encode_request(2, 0, 0) + encode_request(3, 0, 16384)[:10])
    assert decoder.take_blocks() == []
    assert decoder.take_requests() == [m.Request(1, 0, 16384), m.Request(1, 16384, 16384)]
    assert decoder.take_requests() == [] and decoder.next_event() == m.Cancel(1, 0, 16384)
    assert decoder.take_requests() == []  # a request for 0 bytes: the parser refuses it
    with pytest.raises(RemoteProtocolError, match="out of bounds"):
        decoder.next_event()


def test_the_room_for_a_read_grows_while_reads_fill_it_and_is_given_back_after_a_small_read() -> None:
    decoder = WireDecoder(expect_handshake=False)
    offered = []
    for _ in range(6):
        room = decoder.get_buffer(-1)
        offered.append(len(room))
        decoder.buffer_updated(len(room))  # a full read of zeros: keep-alives
        assert set(decoder.events()) == {m.KeepAlive()}
    assert offered[0] == INITIAL_BUFFER and MAX_READ <= max(offered) <= 2 * MAX_READ
    decoder.get_buffer(-1)[:4] = bytes(4)
    decoder.buffer_updated(4)  # the peer slowed down
    assert decoder.buffer_size == INITIAL_BUFFER and list(decoder.events()) == [m.KeepAlive()]
