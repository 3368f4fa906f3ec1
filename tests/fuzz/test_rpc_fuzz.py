"""Fuzzing app/rpc/request.py and the checks the RPC methods make: only RpcError comes out."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input
from fuzz.targets import rpc_request_target

_KEYS = st.sampled_from(["ids", "fields", "format", "files-wanted", "files-unwanted", "priority-high", "priority-low",
                         "downloadLimit", "downloadLimited", "paused", "metainfo", "filename", "download-dir",
                         "speed-limit-down", "peer-port", "seedRatioLimit", "dht-enabled", "rpc-host-whitelist", "x"])
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=45), st.sampled_from(["recently-active", "ab" * 20, "AB" * 20])),
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(st.text(max_size=8), children, max_size=5)),
    max_leaves=20,
)
_METHODS = st.sampled_from(["torrent-get", "torrent-add", "torrent-set", "session-set", "torrent-remove", "nope", ""])


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    arguments = draw(st.one_of(st.dictionaries(_KEYS, _JSON, max_size=6), _JSON))
    request = {"method": draw(st.one_of(_METHODS, _JSON)), "arguments": arguments, "tag": draw(_JSON)}
    return json.dumps(request).encode()


@settings(max_examples=600, deadline=None)
@given(fuzz_input(SEEDS["rpc_request"]))
def test_any_bytes_parse_or_are_refused_in_words(data: bytes) -> None:
    rpc_request_target(data)


@settings(max_examples=600, deadline=None)
@given(_requests())
def test_any_json_request_parses_and_checks_or_is_refused_in_words(data: bytes) -> None:
    rpc_request_target(data)
