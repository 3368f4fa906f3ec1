"""Fuzzing app/engine/magnet.py: only MagnetError comes out; what parses survives format and parse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input
from fuzz.targets import magnet_target

_HASHES = st.one_of(
    st.text("0123456789abcdefABCDEF", min_size=39, max_size=41),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abc01", min_size=31, max_size=33),
    st.text(max_size=45),
)
_VALUES = st.one_of(st.text(max_size=30), st.sampled_from(["%", "%zz", "%ff%fe", "+", "%2B", "[::1]:1", "1.2.3.4:0"]))
_NAMES = st.sampled_from(["xt", "XT", "xt.1", "dn", "tr", "tr.2", "ws", "x.pe", "x.pe.3", "kt", "", "xt."])


@st.composite
def _links(draw: st.DrawFn) -> bytes:
    fields = [f"xt=urn:btih:{draw(_HASHES)}"] if draw(st.booleans()) else []
    fields += [f"{draw(_NAMES)}={draw(_VALUES)}" for _ in range(draw(st.integers(0, 6)))]
    order = draw(st.permutations(fields))
    return (draw(st.sampled_from(["magnet:?", "MAGNET:?", " magnet:?", "magnet:"])) + "&".join(order)).encode()


@settings(max_examples=600, deadline=None)
@given(fuzz_input(SEEDS["magnet"]))
def test_parsing_any_text_raises_only_magnet_errors(data: bytes) -> None:
    magnet_target(data)


@settings(max_examples=600, deadline=None)
@given(_links())
def test_links_built_from_odd_parts_parse_or_are_refused(link: bytes) -> None:
    magnet_target(link)
