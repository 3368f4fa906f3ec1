"""Fuzzing app/engine/portmap (natpmp.py, pcp.py, pmp_mapper.py): hostile gateway answers, and
hostile announcements on 224.0.0.1:5350 (anyone on the network may send them).

Garbage, huge datagrams, answers with another nonce or opcode, wrong versions, success with
no port: each decodes or gives a PortMapError, and a mapper fed them maps only what it asked.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.portmap import natpmp, pcp
from app.engine.portmap.errors import PortMapError
from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input
from app.engine.portmap.pmp_mapper import PmpMapper
from fuzz.targets import PORTMAP_GATEWAY, PORTMAP_PORTS, datagrams, portmap_announce_target, portmap_target

_PORTS = st.sampled_from([0, 1, 6881, 6882, 65535])
_PCP_ANSWERS = st.builds(
    lambda version, opcode, result, lifetime, epoch, nonce, protocol, internal, external, address: struct.pack(
        "!BBBBII12x", version, opcode, 0, result, lifetime, epoch)
    + struct.pack("!12sB3xHH16s", nonce, protocol, internal, external, address),
    st.sampled_from([0, 1, 2, 3]), st.sampled_from([0x01, 0x81, 0x82, 0xFF]), st.integers(0, 255),
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.sampled_from([bytes(12), b"\x01" * 12]),
    st.sampled_from([0, 6, 17, 255]), _PORTS, _PORTS, st.binary(min_size=16, max_size=16),
)
_NATPMP_ANSWERS = st.builds(
    lambda opcode, result, epoch, internal, external, lifetime, cut: struct.pack(
        "!BBHIHHI", 0, opcode, result, epoch, internal, external, lifetime)[:cut],
    st.sampled_from([0, 1, 2, 128, 129, 130, 131]), st.integers(0, 65535), st.integers(0, 2**32 - 1),
    _PORTS, _PORTS, st.integers(0, 2**32 - 1), st.integers(0, 16),
)


def _stream(answers: list[bytes]) -> bytes:
    return b"".join(bytes([len(a)]) + a for a in answers if len(a) < 256)


@settings(max_examples=500, deadline=None)
@given(fuzz_input(SEEDS["portmap"]))
def test_gateway_datagrams_of_any_bytes_give_only_port_map_errors(data: bytes) -> None:
    portmap_target(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(_PCP_ANSWERS, _NATPMP_ANSWERS), max_size=8))
def test_answers_with_wrong_nonces_opcodes_versions_and_ports_map_only_what_was_asked(answers: list[bytes]) -> None:
    portmap_target(_stream(answers))


@pytest.mark.parametrize("size", [1101, 65507])
def test_a_huge_datagram_is_refused_in_words(size: int) -> None:
    with pytest.raises(PortMapError, match="longer than 1100"):
        pcp.decode(b"\x02" + bytes(size - 1))
    with pytest.raises(PortMapError):
        natpmp.decode(b"\x00\x07" + bytes(size - 2))  # an unknown opcode, whatever its size


def _fed(stream: bytes) -> PmpMapper:
    mapper = PmpMapper("10.0.0.5", dict(PORTMAP_PORTS), nonce=bytes)
    mapper.start(0.0)
    mapper.handle_timer(0.0)
    for datagram in datagrams(stream):
        mapper.receive(datagram, 0.0)
    return mapper


@pytest.mark.parametrize("seed, mapped", list(zip(SEEDS["portmap"], (2, 1))), ids=["pcp", "natpmp"])
def test_the_seeds_reach_the_mapped_state_so_the_fuzzer_starts_deep(seed: bytes, mapped: int) -> None:
    assert len(_fed(seed).status.mappings) == mapped


def test_a_success_that_names_no_port_is_not_believed() -> None:
    portless = [a[:42] + b"\x00\x00" + a[44:] for a in datagrams(SEEDS["portmap"][0])]  # assigned port 0
    assert _fed(_stream(portless)).status.mappings == ()


_ANNOUNCEMENTS = st.one_of(
    st.builds(lambda version, opcode, result, epoch, tail: struct.pack("!BBBBII12x", version, opcode, 0, result, 0, epoch)[:tail],
              st.sampled_from([0, 1, 2]), st.sampled_from([0x00, 0x80, 0x81]), st.integers(0, 3),
              st.integers(0, 2**32 - 1), st.integers(0, 24)),
    st.builds(lambda opcode, result, epoch, tail: struct.pack("!BBHI4B", 0, opcode, result, epoch, 1, 2, 3, 4)[:tail],
              st.sampled_from([0, 128, 129]), st.integers(0, 3), st.integers(0, 2**32 - 1), st.integers(0, 12)),
)


@settings(max_examples=500, deadline=None)
@given(fuzz_input(SEEDS["pmp_announce"]))
def test_announcements_of_any_bytes_give_only_port_map_errors(data: bytes) -> None:
    portmap_announce_target(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), _ANNOUNCEMENTS), max_size=8))
def test_announcements_from_strangers_or_malformed_never_remap_more_than_once_a_tick(
    heard: list[tuple[int, bytes]],
) -> None:
    portmap_announce_target(b"".join(bytes([len(d) + 1, source]) + d for source, d in heard if len(d) < 255))


def test_the_announcement_seeds_reach_a_remap_so_the_fuzzer_starts_deep() -> None:
    """The gateway's PCP restart in the first seed remaps; the stranger's before it does not."""
    mapper = PmpMapper("10.0.0.5", dict(PORTMAP_PORTS), gateway=PORTMAP_GATEWAY, nonce=bytes)
    mapper.start(0.0)
    mapper.handle_timer(0.0)
    mapper.datagrams_to_send()
    for datagram in datagrams(SEEDS["portmap"][0]):
        mapper.receive(datagram, 0.0)
    heard = list(datagrams(SEEDS["pmp_announce"][0]))
    mapper.announced(heard[0][1:], "10.0.0.66" if heard[0][0] % 2 else PORTMAP_GATEWAY, 50.0)
    assert mapper.restarts == 0
    mapper.announced(heard[1][1:], PORTMAP_GATEWAY, 50.0)
    assert mapper.restarts == 1
    portmap_announce_target(SEEDS["pmp_announce"][0])
