"""Hypothesis strategies for fuzzing: random bytes, valid inputs with a few edits, and
bencoded structures whose fields may have any type.

Random bytes rarely get past a parser's first check; an edited valid input reaches its
depths. The edits are the ones that break parsers: a flipped byte, a cut, a spliced slice,
a huge number inserted (a length field that lies).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

_HUGE_NUMBERS = (b"4294967295", b"18446744073709551616", b"99999999999999999999", b"-1", b"0")


@st.composite
def _edit(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with one edit at a drawn position."""
    at = draw(st.integers(0, len(data)))
    kind = draw(st.sampled_from(("flip", "cut", "insert", "delete", "splice", "number")))
    if kind == "flip" and at < len(data):
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    if kind == "cut":
        return data[:at]
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 8)) :]
    if kind == "splice":
        start = draw(st.integers(0, len(data)))
        return data[:at] + data[start : start + draw(st.integers(1, 64))] + data[at:]
    if kind == "number":
        return data[:at] + draw(st.sampled_from(_HUGE_NUMBERS)) + data[at:]
    return data


@st.composite
def edited(draw: st.DrawFn, seeds: Sequence[bytes], max_edits: int = 4) -> bytes:
    """One of `seeds` with 0..max_edits edits."""
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, max_edits))):
        data = draw(_edit(data))
    return data


def fuzz_input(seeds: Sequence[bytes], max_size: int = 2048) -> st.SearchStrategy[bytes]:
    """What a fuzz target gets: mostly edited seeds, sometimes plain random bytes."""
    return st.one_of(edited(seeds), st.binary(max_size=max_size))


def bencode_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any value bencode can carry: 64-bit integers, byte strings, lists, dictionaries."""
    leaves = st.one_of(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=40))
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=5), st.dictionaries(st.binary(max_size=10), children, max_size=5)
        ),
        max_leaves=max_leaves,
    )


def loose_dicts(fields: Mapping[bytes, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[bytes, Any]]:
    """Dictionaries holding some of `fields`, each value well typed or any bencode value at all."""
    return st.fixed_dictionaries(
        {}, optional={key: st.one_of(good, bencode_values(5)) for key, good in fields.items()}
    )
