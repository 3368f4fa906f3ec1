"""Fuzzing app/engine/tracker/http_codec.py and udp_codec.py: only TrackerError comes out."""

from __future__ import annotations

import random
import socket
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import bencode
from app.engine.errors import TrackerError
from app.engine.tracker import http_codec, udp_codec
from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input, loose_dicts
from fuzz.targets import ANNOUNCE_REQUEST, http_tracker_target, udp_tracker_target

_DICT_PEER = loose_dicts({b"ip": st.sampled_from([b"127.0.0.1", b"::1", b"x"]), b"port": st.integers(-1, 70000)})
_SCRAPE_FILES = st.dictionaries(st.binary(min_size=20, max_size=20), loose_dicts({b"complete": st.integers(-1, 9)}), max_size=3)
_ANSWER_FIELDS = {
    b"interval": st.integers(-(2**63), 2**63 - 1),
    b"min interval": st.integers(-5, 10**6),
    b"peers": st.one_of(st.binary(max_size=40), st.lists(_DICT_PEER, max_size=4)),
    b"peers6": st.binary(max_size=60),
    b"complete": st.integers(-5, 5),
    b"failure reason": st.binary(max_size=20),
    b"warning message": st.binary(max_size=20),
    b"tracker id": st.binary(max_size=20),
    b"files": _SCRAPE_FILES,
}


@settings(max_examples=600, deadline=None)
@given(fuzz_input(SEEDS["http_tracker"]))
def test_http_answers_of_any_bytes_raise_only_tracker_errors(data: bytes) -> None:
    http_tracker_target(data)


@settings(max_examples=300, deadline=None)
@given(loose_dicts(_ANSWER_FIELDS))
def test_http_answers_with_fields_of_any_type_raise_only_tracker_errors(answer: dict[bytes, Any]) -> None:
    body = bencode.encode(answer)
    http_tracker_target(body)
    if b"failure reason" not in answer:
        try:
            response = http_codec.parse_announce_response(body)
        except TrackerError:
            return
        assert http_codec.MIN_INTERVAL <= response.interval <= http_codec.MAX_INTERVAL


@settings(max_examples=600, deadline=None)
@given(fuzz_input(SEEDS["udp_tracker"]))
def test_udp_datagrams_of_any_bytes_raise_only_tracker_errors(data: bytes) -> None:
    udp_tracker_target(data)


def _exchange() -> tuple[udp_codec.UdpExchange, int]:
    exchange = udp_codec.UdpExchange(rng=random.Random(0))
    first = exchange.begin(ANNOUNCE_REQUEST, 0.0)
    return exchange, udp_codec.decode_packet(first).transaction_id


@settings(max_examples=600, deadline=None)
@given(st.sampled_from([0, 1, 2, 3, 7]), st.booleans(), st.binary(max_size=200))
def test_a_reply_with_our_transaction_id_and_any_body_is_handled(action: int, ours: bool, body: bytes) -> None:
    """The exchange answers, asks again, ignores or raises TrackerError: nothing else."""
    exchange, transaction_id = _exchange()
    datagram = action.to_bytes(4, "big") + (transaction_id if ours else transaction_id ^ 1).to_bytes(4, "big") + body
    try:
        outcome = exchange.receive(datagram, 0.0)
    except TrackerError:
        assert exchange.deadline is None  # the query is over
        return
    if not ours:
        assert outcome is None


_ANNOUNCE_REPLY = udp_codec.encode(udp_codec.AnnounceReply(5, 900, 1, 2, (("127.0.0.1", 1), ("127.0.0.2", 2))))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, len(_ANNOUNCE_REPLY)))
def test_a_truncated_reply_never_reads_past_its_end(cut: int) -> None:
    reply = _ANNOUNCE_REPLY
    try:
        decoded = udp_codec.decode_reply(reply[:cut], socket.AF_INET)
    except TrackerError as error:
        assert "truncated" in str(error)
        return
    assert isinstance(decoded, udp_codec.AnnounceReply)
    assert len(decoded.peers) == (cut - 20) // 6
