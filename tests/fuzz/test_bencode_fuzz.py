"""Fuzzing app/engine/bencode.py: garbage gives BencodeError only, valid values survive cuts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.engine import bencode
from app.engine.errors import BencodeError
from fuzz.seeds import SEEDS
from fuzz.strategies import bencode_values, fuzz_input
from fuzz.targets import bencode_target


@settings(max_examples=1000, deadline=None)
@given(fuzz_input(SEEDS["bencode"]))
@example(b"999999999999999999:x")  # a length field far beyond the data
@example(b"i9223372036854775808e")  # one past int64
@example(b"d1:a" * 60 + b"i1e" + b"e" * 60)
def test_decoding_any_bytes_raises_only_bencode_errors(data: bytes) -> None:
    bencode_target(data)


@settings(max_examples=300, deadline=None)
@given(bencode_values())
def test_every_proper_prefix_of_a_value_is_refused(value: Any) -> None:
    """Bencode is prefix-free: a value cut anywhere is incomplete, never a different value."""
    data = bencode.encode(value)
    assert bencode.decode(data) == value
    for cut in range(len(data)):
        with pytest.raises(BencodeError):
            bencode.decode(data[:cut])


@settings(max_examples=300, deadline=None)
@given(bencode_values(), st.binary(max_size=20))
def test_a_prefix_decode_stops_exactly_at_the_end_of_the_value(value: Any, rest: bytes) -> None:
    data = bencode.encode(value)
    assert bencode.decode_prefix(data + rest) == (value, len(data))


@pytest.mark.parametrize("opener", [b"l", b"d1:a"])
def test_deep_nesting_is_refused_without_recursion(opener: bytes) -> None:
    with pytest.raises(BencodeError, match="nesting deeper than"):
        bencode.decode(opener * 100_000)
