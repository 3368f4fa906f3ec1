"""Fuzzing app/engine/wire/codec.py: a stream decodes the same however it is cut, garbage gives
RemoteProtocolError only, and no length field makes the decoder allocate beyond its limit."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.errors import RemoteProtocolError
from app.engine.wire import messages as m
from app.engine.wire.codec import INITIAL_BUFFER, MAX_ACCEPTED_BLOCK, WireDecoder, encode, encode_handshake
from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input
from fuzz.targets import decode_stream, wire_target

_U32 = st.integers(0, 2**32 - 1)
_LENGTHS = st.integers(1, MAX_ACCEPTED_BLOCK)
_BARE = [m.KeepAlive(), m.Choke(), m.Unchoke(), m.Interested(), m.NotInterested(), m.HaveAll(), m.HaveNone()]
_MESSAGES = st.one_of(
    st.sampled_from(_BARE),
    st.builds(m.Have, _U32),
    st.builds(m.Suggest, _U32),
    st.builds(m.AllowedFast, _U32),
    st.builds(m.BitfieldMessage, st.binary(max_size=40)),
    st.builds(m.Request, _U32, _U32, _LENGTHS),
    st.builds(m.Cancel, _U32, _U32, _LENGTHS),
    st.builds(m.Reject, _U32, _U32, _LENGTHS),
    st.builds(m.Piece, _U32, _U32, st.binary(min_size=1, max_size=64)),
    st.builds(m.Port, st.integers(0, 65535)),
    st.builds(m.Extended, st.integers(0, 255), st.binary(max_size=40)),
)
_HANDSHAKE = m.Handshake(bytes(8), bytes(range(20)), b"-PM0100-" + bytes(12))


def _stream(messages: list[m.Message]) -> bytes:
    return encode_handshake(_HANDSHAKE.info_hash, _HANDSHAKE.peer_id) + b"".join(map(encode, messages))


@settings(max_examples=1000, deadline=None)
@given(fuzz_input(SEEDS["wire"]))
def test_decoding_any_bytes_raises_only_protocol_errors_wherever_cut(data: bytes) -> None:
    wire_target(data)


@settings(max_examples=150, deadline=None)
@given(st.lists(_MESSAGES, max_size=6))
def test_a_stream_cut_at_every_offset_gives_the_same_messages(messages: list[m.Message]) -> None:
    stream = _stream(messages)
    expected = ([_HANDSHAKE, *messages], None)
    for cut in range(len(stream) + 1):
        assert decode_stream(stream, [cut, len(stream) - cut]) == expected, cut


@settings(max_examples=300, deadline=None)
@given(st.lists(_MESSAGES, max_size=8), st.lists(st.integers(1, 9), min_size=1, max_size=400))
def test_a_stream_fed_in_small_pieces_gives_the_same_messages(messages: list[m.Message], sizes: list[int]) -> None:
    stream = _stream(messages)
    while sum(sizes) < len(stream):
        sizes = sizes + sizes
    assert decode_stream(stream, sizes) == ([_HANDSHAKE, *messages], None)


@settings(max_examples=300, deadline=None)
@given(st.integers(MAX_ACCEPTED_BLOCK + 14, 2**32 - 1), st.integers(0, 255))
def test_a_length_beyond_the_limit_is_refused_before_any_allocation(length: int, message_id: int) -> None:
    decoder = WireDecoder(expect_handshake=False)
    before = decoder.buffer_size
    decoder.feed(struct.pack(">IB", length, message_id))
    with pytest.raises(RemoteProtocolError, match=f"message of {length} bytes exceeds"):
        list(decoder.events())
    assert decoder.buffer_size == before


def test_a_message_arriving_in_parts_needs_room_for_itself_only() -> None:
    """Waiting for a partial message reserves its remaining bytes, not its whole size again."""
    decoder = WireDecoder(expect_handshake=False)
    decoder.max_message = 4 * 1024 * 1024
    message = encode(m.Piece(0, 0, bytes(decoder.max_message - 9)))
    for start in range(0, len(message), 64 * 1024):
        decoder.feed(message[start : start + 64 * 1024])
        events = list(decoder.events())
    assert events == [m.Piece(0, 0, bytes(decoder.max_message - 9))]
    assert decoder.buffer_size <= 2 * len(message)


def test_the_buffer_returns_to_its_initial_size_after_a_large_message() -> None:
    decoder = WireDecoder(expect_handshake=False)
    decoder.max_message = 1 << 20
    decoder.feed(encode(m.Extended(1, bytes(decoder.max_message - 2))))
    assert [type(event) for event in decoder.events()] == [m.Extended]
    assert decoder.buffer_size > INITIAL_BUFFER
    decoder.get_buffer(-1)
    assert decoder.buffer_size == INITIAL_BUFFER
