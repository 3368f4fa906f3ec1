import contextlib
import hashlib
from typing import Any

import bencodepy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.bencode import (
    MAX_DEPTH,
    decode,
    decode_info,
    decode_prefix,
    decode_torrent,
    encode,
    info_span,
)
from app.engine.errors import BencodeError, MetainfoError

ROUND_TRIPS = [
    (0, b"i0e"),
    (-1, b"i-1e"),
    (2**63 - 1, b"i9223372036854775807e"),
    (-(2**63), b"i-9223372036854775808e"),
    (b"", b"0:"),
    (b"spam", b"4:spam"),
    (bytes(range(256)), b"256:" + bytes(range(256))),
    ([], b"le"),
    ({}, b"de"),
    ([b"a", 1, [2], {b"k": b""}], b"l1:ai1eli2eed1:k0:ee"),
    ({b"a": {b"b": [b"c"]}, b"z": 0}, b"d1:ad1:bl1:cee1:zi0ee"),
]


@pytest.mark.parametrize(("value", "encoded"), ROUND_TRIPS)
def test_round_trip(value: Any, encoded: bytes) -> None:
    assert encode(value) == encoded
    assert decode(encoded) == value


def test_encode_sorts_keys_as_raw_bytes_and_accepts_str() -> None:
    value = {"b": 1, b"a": 2, "é": 3, b"B": 4}
    assert encode(value) == b"d1:Bi4e1:ai2e1:bi1e2:\xc3\xa9i3ee"


def test_encode_accepts_tuples_and_bytearrays() -> None:
    assert encode((bytearray(b"x"), memoryview(b"yz"), "é")) == b"l1:x2:yz2:\xc3\xa9e"


@pytest.mark.parametrize("value", [True, False, 1.5, None, {1, 2}, {b"k": True}, [object()]])
def test_encode_rejects_other_types(value: Any) -> None:
    with pytest.raises(TypeError):
        encode(value)


def test_encode_rejects_non_string_keys() -> None:
    with pytest.raises(TypeError, match="dictionary keys must be bytes or str"):
        encode({1: b"x"})


def test_encode_rejects_keys_equal_once_encoded() -> None:
    with pytest.raises(ValueError, match="same once encoded"):
        encode({"a": 1, b"a": 2})


def test_encode_rejects_integers_beyond_64_bits() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        encode(2**63)


REJECTIONS = [
    (b"", "data ends early at byte 0"),
    (b"i03e", "bad integer at byte 0"),
    (b"i-0e", "bad integer at byte 0"),
    (b"ie", "bad integer at byte 0"),
    (b"i-e", "bad integer at byte 0"),
    (b"i+1e", "bad integer at byte 0"),
    (b"i1", "bad integer at byte 0"),
    (b"li1ei 2ee", "bad integer at byte 4"),
    (b"i9223372036854775808e", "integer out of 64-bit range at byte 0"),
    (b"i123456789012345678901e", "bad integer at byte 0"),
    (b"01:a", "bad string length at byte 0"),
    (b"l5:abce", "string at byte 1 runs past the end of the data"),
    (b"3:abc", None),
    (b"i1ei2e", "unexpected data at byte 3 after the end of the value"),
    (b"4:spamx", "unexpected data at byte 6 after the end of the value"),
    (b"le ", "unexpected data at byte 2 after the end of the value"),
    (b"l", "data ends early at byte 1"),
    (b"d3:key", "data ends early at byte 6"),
    (b"d1:ae", "dictionary key has no value at byte 4"),
    (b"di1e1:ae", "dictionary key at byte 1 is not a byte string"),
    (b"dle1:ae", "dictionary key at byte 1 is not a byte string"),
    (b"d1:b0:1:a0:e", "dictionary key out of order at byte 6"),
    (b"d1:a0:1:a0:e", "duplicate dictionary key at byte 6"),
    (b"l1:xd1:bi1e1:ai1eee", "dictionary key out of order at byte 11"),
    (b"e", "unexpected byte 'e' at byte 0"),
    (b"x", "unexpected byte 'x' at byte 0"),
    (b"l\x00e", "unexpected byte 0x00 at byte 1"),
]


@pytest.mark.parametrize(("data", "message"), REJECTIONS)
def test_rejections_name_the_byte(data: bytes, message: str | None) -> None:
    if message is None:
        assert decode(data) == b"abc"
        return
    with pytest.raises(BencodeError) as caught:
        decode(data)
    assert str(caught.value) == message


def test_rejections_are_metainfo_errors() -> None:
    with pytest.raises(MetainfoError):
        decode(b"i03e")


@pytest.mark.parametrize("data", [b"i03e", b"i-0e", b"i1ei2e", b"d1:b0:1:a0:e"])
def test_inputs_bencodepy_accepts_are_refused(data: bytes) -> None:
    bencodepy.decode(data)  # lax: no error
    with pytest.raises(BencodeError):
        decode(data)


def test_nesting_is_capped() -> None:
    assert decode(b"l" * MAX_DEPTH + b"e" * MAX_DEPTH) is not None
    with pytest.raises(BencodeError, match=f"nesting deeper than 100 levels at byte {MAX_DEPTH}"):
        decode(b"l" * (MAX_DEPTH + 1) + b"e" * (MAX_DEPTH + 1))


def test_very_deep_nesting_does_not_exhaust_the_stack() -> None:
    with pytest.raises(BencodeError, match="nesting deeper"):
        decode(b"d1:a" * 200_000 + b"i1e" + b"e" * 200_000)


def test_decode_accepts_bytearray_and_memoryview() -> None:
    assert decode(bytearray(b"l1:ae")) == [b"a"]
    assert decode(memoryview(b"xxl1:ae")[2:]) == [b"a"]


def test_decode_prefix_reports_where_the_value_ended() -> None:
    # BEP 9: a ut_metadata data message is a dict followed by the raw metadata piece.
    message = b"d8:msg_typei1e5:piecei0ee" + b"RAW\x00BYTES"
    value, end = decode_prefix(message)
    assert value == {b"msg_type": 1, b"piece": 0}
    assert message[end:] == b"RAW\x00BYTES"


def test_decode_prefix_starts_where_told_and_stays_strict() -> None:
    assert decode_prefix(b"xxi5eyy", 2) == (5, 5)
    with pytest.raises(BencodeError, match="bad integer at byte 2"):
        decode_prefix(b"xxi05e", 2)
    with pytest.raises(BencodeError, match="data ends early at byte 6"):
        decode_prefix(b"xxl1:a", 2)
    with pytest.raises(ValueError):
        decode_prefix(b"i1e", 4)


UNSORTED_INFO = b"d4:name1:x12:piece lengthi16384e6:lengthi1ee"


def test_torrent_info_may_have_unsorted_keys_and_its_span_is_exact() -> None:
    data = b"d8:announce3:url4:info" + UNSORTED_INFO + b"e"
    value, span = decode_torrent(data)
    assert value[b"info"] == {b"name": b"x", b"piece length": 16384, b"length": 1}
    assert data[span[0] : span[1]] == UNSORTED_INFO
    assert info_span(data) == span
    assert (
        hashlib.sha1(data[span[0] : span[1]]).digest()
        != hashlib.sha1(encode(value[b"info"])).digest()
    )


def test_unsorted_keys_are_relaxed_inside_info_only() -> None:
    with pytest.raises(BencodeError, match="out of order"):
        decode(b"d4:info" + UNSORTED_INFO + b"e")
    with pytest.raises(BencodeError, match="out of order at byte 1"):
        decode_torrent(b"d4:infod4:name1:xe8:announce1:ue")
    with pytest.raises(BencodeError, match="out of order"):
        decode_torrent(b"d5:otherd1:bi1e1:ai1ee4:infodee")
    with pytest.raises(BencodeError, match="out of order"):
        decode_torrent(b"l4:info" + UNSORTED_INFO + b"e")


def test_info_still_refuses_duplicates_and_other_faults() -> None:
    with pytest.raises(BencodeError, match="duplicate dictionary key at byte 14"):
        decode_torrent(b"d4:infod1:bi1e1:bi2eee")
    with pytest.raises(BencodeError, match="bad integer at byte 11"):
        decode_torrent(b"d4:infod1:bi01eee")


def test_info_span_ends_where_the_next_top_level_key_starts() -> None:
    data = b"d4:info" + UNSORTED_INFO + b"5:otherd1:ai1eee"
    start, end = info_span(data)
    assert data[start:end] == UNSORTED_INFO
    assert decode_torrent(data)[0][b"other"] == {b"a": 1}


def test_info_span_of_nested_info_is_not_the_top_level_one() -> None:
    data = b"d1:ad4:infoi1ee4:infoi2ee"
    assert data[slice(*info_span(data))] == b"i2e"
    with pytest.raises(BencodeError, match="no top-level 'info'"):
        info_span(b"d1:ad4:infoi1eee")


def test_decode_info_relaxes_every_level() -> None:
    raw = b"d5:filesld6:lengthi1e4:pathl1:aeee4:name1:xe"
    relaxed = b"d4:name1:x5:filesld4:pathl1:ae6:lengthi1eeee"
    assert decode_info(relaxed) == decode_info(raw) == decode(raw)
    with pytest.raises(BencodeError, match="duplicate"):
        decode_info(b"d1:ai1e1:ai1ee")


def test_unsorted_keys_everywhere_when_asked() -> None:
    # Tracker responses: some real trackers send their keys unsorted.
    body = b"d5:peersld4:porti1e2:ip1:xee8:intervali1800ee"
    expected = {b"interval": 1800, b"peers": [{b"port": 1, b"ip": b"x"}]}
    assert decode(body, sorted_keys=False) == expected
    with pytest.raises(BencodeError, match="out of order at byte 19"):
        decode(body)


def test_decode_prefix_accepts_unsorted_keys_when_asked() -> None:
    message = b"d5:piecei0e8:msg_typei1ee" + b"RAW"
    assert decode_prefix(message, sorted_keys=False) == ({b"msg_type": 1, b"piece": 0}, 25)
    with pytest.raises(BencodeError, match="out of order at byte 11"):
        decode_prefix(message)
    with pytest.raises(BencodeError, match="duplicate dictionary key at byte 11"):
        decode_prefix(b"d5:piecei0e5:piecei1ee", sorted_keys=False)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"d1:ai1e1:bi1e1:ai2ee", "duplicate dictionary key at byte 13"),
        (b"ld1:bi1e1:bi2eee", "duplicate dictionary key at byte 8"),
        (b"d1:bi01ee", "bad integer at byte 4"),
        (b"d1:bi1e", "data ends early at byte 7"),
        (b"d1:bi1eei1e", "unexpected data at byte 8 after the end of the value"),
    ],
)
def test_unsorted_keys_stay_unique_and_strict(data: bytes, message: str) -> None:
    with pytest.raises(BencodeError) as caught:
        decode(data, sorted_keys=False)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "data", [b"d1:ad1:bi1eee", b"ld1:ai1eee", b"d4:infod1:xi1eee", b"l" * 50 + b"de" + b"e" * 50]
)
def test_dictionaries_are_plain_dicts_and_lists_plain_lists(data: bytes) -> None:
    # bencodepy builds OrderedDicts, whose equality would depend on the key order.
    def check(value: Any) -> None:
        assert type(value) in (dict, list, bytes, int)
        children = value.values() if type(value) is dict else value if type(value) is list else ()
        for child in children:
            check(child)

    check(decode(data))
    check(decode_torrent(data)[0])
    check(decode_prefix(data + b"tail")[0])


@pytest.mark.parametrize(("data", "value"), [(b"i7e", 7), (b"3:abc", b"abc"), (b"0:", b"")])
def test_bare_top_level_values_are_not_wrapped(data: bytes, value: Any) -> None:
    # bencodepy returns a bare top-level value inside a tuple.
    assert decode(data) == value
    assert decode_prefix(data + b"i1e") == (value, len(data))


def test_unsorted_info_decodes_equal_to_its_sorted_form() -> None:
    assert decode_info(UNSORTED_INFO) == decode(encode(decode_info(UNSORTED_INFO)))


# --- properties ----------------------------------------------------------------------

values = st.recursive(
    st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.binary(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_decode_raises_only_bencode_error(data: bytes) -> None:
    with contextlib.suppress(BencodeError):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(values)
def test_encode_then_decode_is_identity(value: Any) -> None:
    encoded = encode(value)
    assert decode(encoded) == value
    assert encode(decode(encoded)) == encoded


@settings(max_examples=300, deadline=None)
@given(values, st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_whatever_decodes_is_canonical(value: Any, where: int, byte: int) -> None:
    """A one-byte change to a valid encoding either fails cleanly or is canonical again."""
    encoded = bytearray(encode(value))
    encoded[where % len(encoded)] = byte
    try:
        decoded = decode(bytes(encoded))
    except BencodeError:
        return
    assert encode(decoded) == bytes(encoded)


def _canonical(value: Any) -> bytes:
    """BEP 3 written out independently of the module under test."""
    if type(value) is int:
        return b"i" + str(value).encode() + b"e"
    if type(value) is bytes:
        return str(len(value)).encode() + b":" + value
    if type(value) is list:
        return b"l" + b"".join(_canonical(item) for item in value) + b"e"
    pairs = sorted(value.items())
    return b"d" + b"".join(_canonical(key) + _canonical(item) for key, item in pairs) + b"e"


@settings(max_examples=300, deadline=None)
@given(values)
def test_encode_is_byte_identical_to_the_canonical_form(value: Any) -> None:
    assert encode(value) == _canonical(value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_unsorted_decode_raises_only_bencode_error(data: bytes) -> None:
    with contextlib.suppress(BencodeError):
        decode(data, sorted_keys=False)
    with contextlib.suppress(BencodeError):
        decode_torrent(data)
