"""app/rpc/request.py: requests parse to checked values or to an RpcError in plain words."""

from __future__ import annotations

import pytest

from app.rpc.request import (
    MAX_DEPTH, RpcError, get_bool, get_indices, get_int, get_number, get_str, get_strings, parse_request,
)


def test_a_request_with_method_arguments_and_tag() -> None:
    request = parse_request(b'{"method": "torrent-get", "arguments": {"fields": ["id"]}, "tag": 7}')
    assert (request.method, dict(request.arguments), request.tag) == ("torrent-get", {"fields": ["id"]}, 7)


def test_arguments_and_tag_are_optional() -> None:
    request = parse_request(b'{"method": "session-stats"}')
    assert (dict(request.arguments), request.tag) == ({}, None)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"arguments": {}}', "no method name"),
        (b'{"method": 5}', "no method name"),
        (b'{"method": "torrent-get", "arguments": [1]}', "'arguments' must be a JSON object"),
        (b'{"method": "x", "tag": NaN}', "not valid JSON"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested too deeply"),
    ],
)
def test_bad_requests_are_refused_in_words(body: bytes, words: str) -> None:
    with pytest.raises(RpcError, match=words):
        parse_request(body)


def test_deep_nesting_inside_strings_does_not_count() -> None:
    text = "[" * 100
    assert parse_request(b'{"method": "m", "arguments": {"x": "' + text.encode() + b'"}}').method == "m"


def test_a_tag_that_is_not_a_number_is_dropped() -> None:
    assert parse_request(b'{"method": "m", "tag": "seven"}').tag is None


def test_typed_getters_accept_their_type_and_name_the_key_otherwise() -> None:
    args = {"b": True, "n": 2.5, "i": 3, "s": "x", "l": ["a"], "f": [0, 2], "old": 1}
    assert (get_bool(args, "b"), get_number(args, "n"), get_int(args, "i"), get_str(args, "s")) == (True, 2.5, 3, "x")
    assert (get_strings(args, "l"), get_indices(args, "f"), get_bool(args, "old")) == (["a"], [0, 2], True)
    assert get_int(args, "missing") is None
    for getter, key in ((get_bool, "s"), (get_int, "n"), (get_str, "i"), (get_strings, "f"), (get_indices, "l")):
        with pytest.raises(RpcError, match=f"'{key}'"):
            getter(args, key)


def test_negative_numbers_and_booleans_are_not_counts() -> None:
    with pytest.raises(RpcError):
        get_int({"i": -1}, "i")
    with pytest.raises(RpcError):
        get_int({"i": True}, "i")
    with pytest.raises(RpcError):
        get_indices({"f": [-1]}, "f")
