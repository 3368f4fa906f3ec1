"""Fuzzing app/engine/dht/krpc.py: any datagram gives a message or a KrpcError, nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import bencode
from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input, loose_dicts
from fuzz.targets import krpc_target

_IDS = st.one_of(st.binary(min_size=20, max_size=20), st.binary(max_size=22))
_ARGUMENTS = {
    b"id": _IDS,
    b"target": _IDS,
    b"info_hash": _IDS,
    b"port": st.integers(-1, 70000),
    b"token": st.binary(max_size=8),
    b"implied_port": st.integers(-1, 2),
}
_RESPONSE = {
    b"id": _IDS,
    b"nodes": st.binary(max_size=60).map(lambda data: data[: len(data) // 26 * 26] if len(data) > 30 else data),
    b"values": st.lists(st.binary(min_size=5, max_size=19), max_size=4),
    b"token": st.binary(max_size=8),
}
_ENVELOPE = {
    b"t": st.binary(max_size=34),
    b"y": st.sampled_from([b"q", b"r", b"e", b"x"]),
    b"q": st.sampled_from([b"ping", b"find_node", b"get_peers", b"announce_peer", b"vote"]),
    b"a": loose_dicts(_ARGUMENTS),
    b"r": loose_dicts(_RESPONSE),
    b"e": st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=10)), max_size=3),
    b"v": st.binary(max_size=4),
    b"ip": st.binary(min_size=5, max_size=7),
}


@settings(max_examples=600, deadline=None)
@given(fuzz_input(SEEDS["krpc"]))
def test_datagrams_of_any_bytes_raise_only_krpc_errors(data: bytes) -> None:
    krpc_target(data)


@settings(max_examples=300, deadline=None)
@given(loose_dicts(_ENVELOPE))
def test_messages_with_fields_of_any_type_raise_only_krpc_errors(message: dict[bytes, Any]) -> None:
    krpc_target(bencode.encode(message))
