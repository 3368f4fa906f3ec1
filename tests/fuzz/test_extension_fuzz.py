"""Fuzzing app/engine/wire/extension.py: BEP 10, 9 and 11 payloads give RemoteProtocolError only."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import bencode
from app.engine.errors import RemoteProtocolError
from app.engine.wire import extension
from fuzz.seeds import SEEDS
from fuzz.strategies import bencode_values, fuzz_input, loose_dicts
from fuzz.targets import extension_target

_FIELDS = {
    b"m": st.dictionaries(st.binary(max_size=12), st.integers(-1, 300), max_size=4),
    b"v": st.binary(max_size=10),
    b"p": st.integers(-1, 70000),
    b"reqq": st.integers(-1, 2**40),
    b"yourip": st.binary(min_size=3, max_size=17),
    b"metadata_size": st.integers(-1, 2**40),
    b"msg_type": st.integers(-1, 4),
    b"piece": st.integers(-1, 1000),
    b"total_size": st.integers(-1, 2**40),
    b"added": st.binary(max_size=40),
    b"added.f": st.binary(max_size=8),
    b"dropped": st.binary(max_size=40),
    b"added6": st.binary(max_size=60),
    b"dropped6": st.binary(max_size=60),
}


@settings(max_examples=600, deadline=None)
@given(fuzz_input(SEEDS["extension"]))
def test_payloads_of_any_bytes_raise_only_protocol_errors(data: bytes) -> None:
    extension_target(data)


@settings(max_examples=250, deadline=None)
@given(loose_dicts(_FIELDS), st.binary(max_size=40))
def test_dictionaries_with_fields_of_any_type_raise_only_protocol_errors(fields: dict[bytes, Any], rest: bytes) -> None:
    extension_target(bencode.encode(fields) + rest)
    extension_target(bencode.encode(fields))


@settings(max_examples=200, deadline=None)
@given(bencode_values(), st.binary(max_size=20))
def test_metadata_messages_that_are_not_dictionaries_are_refused(value: Any, rest: bytes) -> None:
    if isinstance(value, dict):
        return
    with pytest.raises(RemoteProtocolError):
        extension.parse_metadata_message(bencode.encode(value) + rest)


@pytest.mark.parametrize("size", [0, -1, extension.MAX_METADATA_SIZE + 1, 2**62])
def test_an_absurd_metadata_size_never_reaches_an_allocation(size: int) -> None:
    header = {b"msg_type": 1, b"piece": 0, b"total_size": size}
    with pytest.raises(RemoteProtocolError, match="metadata size is missing or absurd"):
        extension.parse_metadata_message(bencode.encode(header) + bytes(16384))
    with pytest.raises(RemoteProtocolError, match="absurd"):
        extension.MetadataAssembler(bytes(20), size)
