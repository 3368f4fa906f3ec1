"""app/engine/portmap/pcp.py: the PCP MAP codec (RFC 6887)."""

import struct

import pytest

from app.engine.portmap import pcp
from app.engine.portmap.errors import PortMapError

NONCE = bytes(range(12))
MAPPED_V4 = bytes(10) + b"\xff\xff"


def _answer(result: int = 0, nonce: bytes = NONCE, opcode: int = 0x81, version: int = 2) -> bytes:
    header = struct.pack("!BBBBII12x", version, opcode, 0, result, 3600, 99)
    return header + struct.pack("!12sB3xHH16s", nonce, 6, 51413, 51500, MAPPED_V4 + bytes((203, 0, 113, 7)))


def test_a_map_request_is_sixty_bytes_with_the_client_address_ipv4_mapped() -> None:
    data = pcp.encode_map(NONCE, pcp.Protocol.UDP, 6881, 6882, 7200, client_ip="10.0.0.5")
    assert len(data) == 60
    assert data[:8] == struct.pack("!BBHI", 2, 1, 0, 7200)
    assert data[8:24] == MAPPED_V4 + bytes((10, 0, 0, 5))
    assert data[24:36] == NONCE
    assert struct.unpack_from("!B3xHH16s", data, 36) == (17, 6881, 6882, bytes(16))


def test_a_map_answer_round_trips() -> None:
    assert pcp.decode(_answer()) == pcp.MapAnswer(0, 3600, 99, NONCE, 6, 51413, 51500, "203.0.113.7")


def test_a_nat_pmp_router_s_unsupported_version_is_reported_as_such() -> None:
    assert pcp.decode(struct.pack("!BBHI", 0, 129, 1, 10)).result == pcp.UNSUPP_VERSION


@pytest.mark.parametrize("data, words", [
    (b"\x02", "too short"),
    (_answer()[:30], "too short for a mapping"),
    (_answer(version=3), "version 3"),
    (_answer(opcode=0x82), "opcode 0x82"),
    (_answer(opcode=0x01), "opcode 0x1"),  # a request echoed back
    (_answer() + bytes(2000), "longer than 1100"),
    (struct.pack("!BBHIHHI", 0, 129, 0, 1, 1, 1, 1), "not 'unsupported version'"),
])
def test_malformed_answers_are_refused_in_words(data: bytes, words: str) -> None:
    with pytest.raises(PortMapError, match=words):
        pcp.decode(data)
