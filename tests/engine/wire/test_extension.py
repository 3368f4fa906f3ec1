import contextlib
import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.bencode import decode, encode
from app.engine.errors import LocalProtocolError, RemoteProtocolError
from app.engine.wire.extension import (
    MAX_METADATA_SIZE,
    MAX_PEX_ADDED,
    METADATA_PIECE,
    PEX_INTERVAL,
    PEX_REACHABLE,
    PEX_SEED,
    PEX_UTP,
    Address,
    ExtensionHandshake,
    MetadataAssembler,
    MetadataData,
    MetadataReject,
    MetadataRequest,
    PexMessage,
    PexState,
    encode_extension_handshake,
    encode_metadata_message,
    encode_pex,
    metadata_reply,
    parse_extension_handshake,
    parse_metadata_message,
    parse_pex,
)

# --- extension handshake (BEP 10) ------------------------------------------------------------

FULL_HANDSHAKE = ExtensionHandshake(
    m={"ut_metadata": 3, "ut_pex": 1, "lt_donthave": 0},
    v="Piecemeal 0.1 é",
    p=6881,
    reqq=250,
    yourip=bytes([127, 0, 0, 1]),
    metadata_size=31235,
)


@pytest.mark.parametrize(
    "handshake",
    [
        FULL_HANDSHAKE,
        ExtensionHandshake(),
        ExtensionHandshake(m={"ut_pex": 2}, yourip=bytes(15) + b"\x01"),
    ],
)
def test_handshake_round_trip(handshake: ExtensionHandshake) -> None:
    assert parse_extension_handshake(encode_extension_handshake(handshake)) == handshake


def test_handshake_encoding_is_the_bep_10_dictionary() -> None:
    assert decode(encode_extension_handshake(FULL_HANDSHAKE)) == {
        b"m": {b"ut_metadata": 3, b"ut_pex": 1, b"lt_donthave": 0},
        b"v": "Piecemeal 0.1 é".encode(),
        b"p": 6881,
        b"reqq": 250,
        b"yourip": b"\x7f\x00\x00\x01",
        b"metadata_size": 31235,
    }
    assert encode_extension_handshake(ExtensionHandshake()) == b"d1:mdee"


def test_ext_id_treats_zero_as_disabled() -> None:
    assert FULL_HANDSHAKE.ext_id("ut_metadata") == 3
    assert FULL_HANDSHAKE.ext_id("lt_donthave") is None
    assert FULL_HANDSHAKE.ext_id("ut_holepunch") is None


def test_handshake_ignores_unknown_keys_and_accepts_unsorted_ones() -> None:
    payload = b"d1:v3:abc1:md6:ut_pexi1ee1:ei1e12:complete_agoi-1ee"
    assert parse_extension_handshake(payload) == ExtensionHandshake(m={"ut_pex": 1}, v="abc")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (b"m", [1], ExtensionHandshake()),
        (
            b"m",
            {b"a": 1, b"b": 256, b"c": -1, b"d": b"1", b"e": 0},
            ExtensionHandshake(m={"a": 1, "e": 0}),
        ),
        (b"m", {b"\xff": 7}, ExtensionHandshake(m={"\ufffd": 7})),
        (b"v", 5, ExtensionHandshake()),
        (b"v", b"\xffx", ExtensionHandshake(v="\ufffdx")),
        (b"p", 0, ExtensionHandshake()),
        (b"p", 65536, ExtensionHandshake()),
        (b"p", b"6881", ExtensionHandshake()),
        (b"reqq", 0, ExtensionHandshake()),
        (b"reqq", 2**40, ExtensionHandshake()),
        (b"yourip", b"\x7f\x00\x01", ExtensionHandshake()),
        (b"yourip", 2130706433, ExtensionHandshake()),
        (b"metadata_size", 0, ExtensionHandshake()),
        (b"metadata_size", MAX_METADATA_SIZE + 1, ExtensionHandshake()),
        (b"metadata_size", MAX_METADATA_SIZE, ExtensionHandshake(metadata_size=MAX_METADATA_SIZE)),
    ],
)
def test_handshake_ignores_wrong_fields_one_by_one(
    field: bytes, value: Any, expected: ExtensionHandshake
) -> None:
    assert parse_extension_handshake(encode({field: value})) == expected


@pytest.mark.parametrize("payload", [b"", b"garbage", b"i1e", b"le", b"d1:mdeextra", b"d1:mi01ee"])
def test_handshake_garbage_is_a_remote_protocol_error(payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="extension handshake"):
        parse_extension_handshake(payload)


bencoded_values = st.recursive(
    st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.binary(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.binary(max_size=8), children, max_size=4),
    max_leaves=12,
)
handshake_keys = st.sampled_from([b"m", b"v", b"p", b"reqq", b"yourip", b"metadata_size", b"x"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(handshake_keys, bencoded_values))
def test_any_handshake_dictionary_parses(message: dict[bytes, Any]) -> None:
    parse_extension_handshake(encode(message))


# --- ut_metadata (BEP 9) ---------------------------------------------------------------------

RAW_INFO = encode({b"name": b"x" * 40000, b"piece length": 16384, b"pieces": bytes(20)})
INFO_HASH = hashlib.sha1(RAW_INFO).digest()


@pytest.mark.parametrize(
    ("message", "payload"),
    [
        (MetadataRequest(0), b"d8:msg_typei0e5:piecei0ee"),
        (MetadataReject(2), b"d8:msg_typei2e5:piecei2ee"),
        (
            MetadataData(1, 16390, b"xyzxyz"),
            b"d8:msg_typei1e5:piecei1e10:total_sizei16390ee" + b"xyzxyz",
        ),
    ],
)
def test_metadata_messages_as_in_bep_9(message: Any, payload: bytes) -> None:
    assert encode_metadata_message(message) == payload
    assert parse_metadata_message(payload) == message


def test_metadata_keys_may_come_unsorted() -> None:
    assert parse_metadata_message(b"d5:piecei3e8:msg_typei0ee") == MetadataRequest(3)


def test_unknown_metadata_message_types_are_ignored() -> None:
    assert parse_metadata_message(b"d8:msg_typei7e5:piecei0ee") is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "is bad"),
        (b"d8:msg_typei0e5:piecei0e", "is bad"),
        (b"li0ee", "not a dictionary"),
        (b"d5:piecei0ee", "lacks a message type or piece"),
        (b"d8:msg_type1:05:piecei0ee", "lacks a message type or piece"),
        (b"d8:msg_typei0ee", "lacks a message type or piece"),
        (b"d8:msg_typei0e5:piecei-1ee", "lacks a message type or piece"),
        (b"d8:msg_typei0e5:piecei512ee", "lacks a message type or piece"),
        (b"d8:msg_typei0e5:piecei0eeX", "trailing data"),
        (b"d8:msg_typei2e5:piecei0eeX", "trailing data"),
        (b"d8:msg_typei1e5:piecei0eexyz", "size is missing or absurd"),
        (b"d8:msg_typei1e5:piecei0e10:total_sizei0eexyz", "size is missing or absurd"),
        (b"d8:msg_typei1e5:piecei0e10:total_sizei8388609eexyz", "size is missing or absurd"),
        (b"d8:msg_typei1e5:piecei0e10:total_sizei4eexyz", "wrong length"),
        (b"d8:msg_typei1e5:piecei0e10:total_sizei2eexyz", "wrong length"),
        (b"d8:msg_typei1e5:piecei1e10:total_sizei3eexyz", "piece 1 does not exist"),
    ],
)
def test_metadata_garbage_is_a_remote_protocol_error(payload: bytes, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        parse_metadata_message(payload)


def test_full_size_data_piece_parses() -> None:
    data = bytes(METADATA_PIECE)
    payload = encode_metadata_message(MetadataData(0, METADATA_PIECE + 1, data))
    assert parse_metadata_message(payload) == MetadataData(0, METADATA_PIECE + 1, data)
    with pytest.raises(RemoteProtocolError, match="wrong length"):
        parse_metadata_message(payload[:-1])


def test_replies_serve_our_metadata_or_reject() -> None:
    assert metadata_reply(RAW_INFO, MetadataRequest(0)) == MetadataData(
        0, len(RAW_INFO), RAW_INFO[:METADATA_PIECE]
    )
    last = metadata_reply(RAW_INFO, MetadataRequest(2))
    assert last == MetadataData(2, len(RAW_INFO), RAW_INFO[2 * METADATA_PIECE :])
    assert metadata_reply(RAW_INFO, MetadataRequest(3)) == MetadataReject(3)
    assert metadata_reply(None, MetadataRequest(0)) == MetadataReject(0)


def _serve(raw_info: bytes, request_payload: bytes) -> bytes:
    """A seed's side: parse a request, answer it, encode the answer."""
    request = parse_metadata_message(request_payload)
    assert isinstance(request, MetadataRequest)
    return encode_metadata_message(metadata_reply(raw_info, request))


def test_a_leecher_fetches_metadata_from_two_seeds_over_the_codec() -> None:
    seeds = [RAW_INFO, RAW_INFO]
    assembler = MetadataAssembler(INFO_HASH, len(RAW_INFO))
    assert assembler.missing_pieces() == [0, 1, 2]
    result = None
    for turn, piece in enumerate(assembler.missing_pieces()):
        answer = parse_metadata_message(
            _serve(seeds[turn % 2], encode_metadata_message(MetadataRequest(piece)))
        )
        assert isinstance(answer, MetadataData) and answer.total_size == assembler.size
        result = assembler.add_piece(answer.piece, answer.data)
    assert result == RAW_INFO
    assert decode(result)[b"piece length"] == 16384


def pieces_of(raw: bytes) -> list[bytes]:
    return [raw[start : start + METADATA_PIECE] for start in range(0, len(raw), METADATA_PIECE)]


def test_assembler_accepts_any_order_and_repeats() -> None:
    assembler = MetadataAssembler(INFO_HASH, len(RAW_INFO))
    pieces = pieces_of(RAW_INFO)
    assert assembler.add_piece(2, pieces[2]) is None
    assert assembler.add_piece(2, pieces[2]) is None
    assert assembler.add_piece(0, pieces[0]) is None
    assert assembler.missing_pieces() == [1]
    assert assembler.add_piece(1, pieces[1]) == RAW_INFO


def test_assembler_resets_on_a_hash_mismatch_then_recovers() -> None:
    assembler = MetadataAssembler(INFO_HASH, len(RAW_INFO))
    pieces = pieces_of(RAW_INFO)
    assembler.add_piece(0, pieces[0])
    assembler.add_piece(1, b"y" * METADATA_PIECE)
    with pytest.raises(RemoteProtocolError, match="does not match the info-hash"):
        assembler.add_piece(2, pieces[2])
    assert assembler.missing_pieces() == [0, 1, 2]
    for index, piece in enumerate(pieces):
        result = assembler.add_piece(index, piece)
    assert result == RAW_INFO


@pytest.mark.parametrize(
    ("index", "data", "message"),
    [
        (0, b"x" * (METADATA_PIECE - 1), "wrong length"),
        (2, b"x" * METADATA_PIECE, "wrong length"),
        (3, b"x", "piece 3 does not exist"),
        (-1, b"x", "piece -1 does not exist"),
    ],
)
def test_assembler_rejects_misshapen_pieces(index: int, data: bytes, message: str) -> None:
    assembler = MetadataAssembler(INFO_HASH, len(RAW_INFO))
    with pytest.raises(RemoteProtocolError, match=message):
        assembler.add_piece(index, data)
    assert assembler.missing_pieces() == [0, 1, 2]


@pytest.mark.parametrize("size", [0, -1, MAX_METADATA_SIZE + 1, 2**60])
def test_assembler_refuses_absurd_sizes(size: int) -> None:
    with pytest.raises(RemoteProtocolError, match="absurd"):
        MetadataAssembler(INFO_HASH, size)


def test_single_byte_metadata() -> None:
    assembler = MetadataAssembler(hashlib.sha1(b"e").digest(), 1)
    assert assembler.add_piece(0, b"e") == b"e"


# --- ut_pex (BEP 11) ---------------------------------------------------------------------------


def test_pex_compact_encoding() -> None:
    message = PexMessage(added=(("127.0.0.1", 6881),), added_flags=bytes([PEX_REACHABLE]))
    assert encode_pex(message) == b"d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f1:\x10e"
    assert encode_pex(PexMessage()) == b"de"


def test_pex_round_trip() -> None:
    message = PexMessage(
        added=(("127.0.0.1", 1), ("127.0.0.2", 65535)),
        added_flags=bytes([PEX_SEED | PEX_UTP, 0]),
        dropped=(("127.0.0.3", 3),),
        added6=(("::1", 4),),
        added6_flags=bytes([PEX_REACHABLE]),
        dropped6=(("::ffff:7f00:1", 5), ("::1", 6)),
    )
    assert parse_pex(encode_pex(message)) == message


def test_pex_flags_are_optional_when_sending() -> None:
    sent = PexMessage(added=(("127.0.0.1", 1),), added6=(("::1", 2),))
    assert parse_pex(encode_pex(sent)) == PexMessage(
        added=(("127.0.0.1", 1),), added_flags=b"\x00", added6=(("::1", 2),), added6_flags=b"\x00"
    )


@pytest.mark.parametrize(
    "message",
    [
        PexMessage(added=(("::1", 1),), added_flags=b"\x00"),
        PexMessage(dropped6=(("127.0.0.1", 1),)),
        PexMessage(dropped=(("localhost", 1),)),
        PexMessage(dropped=(("127.0.0.1", 0),)),
        PexMessage(dropped=(("127.0.0.1", 65536),)),
        PexMessage(added=(("127.0.0.1", 1),), added_flags=b"\x00\x00"),
        PexMessage(added6=(("::1", 1), ("::1", 2)), added6_flags=b"\x00"),
    ],
)
def test_pex_refuses_to_send_what_cannot_be_encoded(message: PexMessage) -> None:
    with pytest.raises(LocalProtocolError):
        encode_pex(message)


def test_pex_parse_drops_port_zero_and_fixes_flags() -> None:
    added = b"\x7f\x00\x00\x01\x00\x00" + b"\x7f\x00\x00\x02\x00\x07"
    flags = b"\x01\x02"
    payload = encode(
        {b"added": added, b"added.f": flags, b"added6": bytes(18), b"added6.f": flags}
    )
    assert parse_pex(payload) == PexMessage(added=(("127.0.0.2", 7),), added_flags=b"\x02")


def test_pex_parse_ignores_wrongly_typed_fields_and_accepts_unsorted_keys() -> None:
    payload = b"d7:dropped6:\x7f\x00\x00\x01\x00\x015:addedi5e8:dropped6le1:xi1ee"
    assert parse_pex(payload) == PexMessage(dropped=(("127.0.0.1", 1),))


@pytest.mark.parametrize(
    "payload",
    [b"", b"x", b"le", b"d5:added5:\x7f\x00\x00\x01\x00e", b"d8:dropped617:" + bytes(17) + b"e"],
)
def test_pex_garbage_is_a_remote_protocol_error(payload: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_pex(payload)


def peers(count: int, first: int = 1) -> set[Address]:
    numbers = range(first, first + count)
    return {(f"127.0.{number // 250}.{number % 250 + 1}", 6881) for number in numbers}


def test_pex_state_sends_at_once_then_at_most_once_a_minute() -> None:
    state = PexState()
    assert state.next_send_time is None
    first = state.diff(peers(3), now=100.0)
    assert first is not None and set(first.added) == peers(3) and first.added_flags == bytes(3)
    assert state.next_send_time == 100.0 + PEX_INTERVAL
    assert state.diff(peers(5), now=100.0 + PEX_INTERVAL - 0.001) is None
    second = state.diff(peers(4, first=2), now=100.0 + PEX_INTERVAL)
    assert second is not None
    assert set(second.added) == peers(2, first=4)
    assert set(second.dropped) == peers(1)


def test_pex_state_sends_nothing_when_nothing_changed_and_keeps_its_turn() -> None:
    state = PexState()
    assert state.diff(set(), now=0.0) is None
    assert state.diff(peers(1), now=1.0) is not None
    assert state.diff(peers(1), now=61.0) is None
    assert state.diff(peers(2), now=62.0) is not None  # the empty turn did not restart the clock


def test_pex_state_respects_the_50_peer_limits_and_catches_up() -> None:
    state = PexState()
    now = 0.0
    first = state.diff(peers(120), now)
    assert first is not None and len(first.added) == MAX_PEX_ADDED
    told = set(first.added)
    while (message := state.diff(peers(120), now := now + PEX_INTERVAL)) is not None:
        assert len(message.added) <= MAX_PEX_ADDED
        told |= set(message.added)
    assert told == peers(120) and now == 3 * PEX_INTERVAL
    drop_all = state.diff(set(), now)
    assert drop_all is not None and len(drop_all.dropped) == 50 and not drop_all.added


def test_pex_state_counts_ipv4_and_ipv6_together_and_carries_flags() -> None:
    state = PexState()
    v6 = {("::1", port) for port in range(1, 41)}
    flags = {("::1", 1): PEX_SEED, ("127.0.0.1", 6881): PEX_REACHABLE}
    message = state.diff(v6 | peers(40, first=0) | {("localhost", 1)}, 0.0, flags)
    assert message is not None
    assert len(message.added) + len(message.added6) == MAX_PEX_ADDED
    assert ("::1", 1) in message.added6 and ("127.0.0.1", 6881) in message.added
    assert message.added_flags[message.added.index(("127.0.0.1", 6881))] == PEX_REACHABLE
    assert message.added6_flags[message.added6.index(("::1", 1))] == PEX_SEED
    assert parse_pex(encode_pex(message)) == message


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sets(st.integers(0, 150), max_size=120), st.integers(0, 200)), max_size=12
    )
)
def test_pex_state_limits_hold_and_the_peer_view_converges(
    steps: list[tuple[set[int], int]],
) -> None:
    state, view, now, last_sent = PexState(), set[Address](), 0.0, None
    current: set[Address] = set()
    for numbers, delay in steps:
        now += delay
        current = {(f"127.0.0.{number % 250 + 1}", 1000 + number) for number in numbers}
        message = state.diff(current, now)
        if message is not None:
            assert last_sent is None or now - last_sent >= PEX_INTERVAL
            assert len(message.added) <= 50 and len(message.dropped) <= 50
            view = (view | set(message.added)) - set(message.dropped)
            last_sent = now
    for _ in range(6):
        message = state.diff(current, now := now + PEX_INTERVAL)
        if message is not None:
            view = (view | set(message.added)) - set(message.dropped)
    assert view == current


# --- properties: parsers raise only our errors -----------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_parsers_raise_only_remote_protocol_errors(payload: bytes) -> None:
    for parse in (parse_extension_handshake, parse_metadata_message, parse_pex):
        with contextlib.suppress(RemoteProtocolError):
            parse(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([b"added", b"added.f", b"added6", b"added6.f", b"dropped", b"dropped6"]),
        st.binary(max_size=40) | st.integers(-(2**63), 2**63 - 1),
    )
)
def test_any_pex_dictionary_parses_or_is_refused(message: dict[bytes, Any]) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_pex(encode(message))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([b"msg_type", b"piece", b"total_size"]),
        st.integers(-2, 20000) | st.binary(max_size=4),
    ),
    st.binary(max_size=20),
)
def test_any_metadata_header_parses_or_is_refused(header: dict[bytes, Any], rest: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        parse_metadata_message(encode(header) + rest)
