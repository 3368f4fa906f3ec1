"""app/engine/portmap/natpmp.py: the NAT-PMP codec (RFC 6886)."""

import struct

import pytest

from app.engine.portmap import natpmp
from app.engine.portmap.errors import PortMapError


def test_a_map_request_is_twelve_bytes_laid_out_as_rfc_6886_says() -> None:
    data = natpmp.encode_map(natpmp.Protocol.TCP, 51413, 51414, 7200)
    assert data == struct.pack("!BBHHHI", 0, 2, 0, 51413, 51414, 7200)
    assert natpmp.encode_address() == b"\x00\x00"


def test_a_map_answer_decodes_to_the_port_the_router_gave() -> None:
    answer = natpmp.decode(struct.pack("!BBHIHHI", 0, 129, 0, 1234, 6881, 6999, 3600))
    assert answer == natpmp.MapAnswer(0, 1234, natpmp.Protocol.UDP, 6881, 6999, 3600)


def test_an_address_answer_carries_the_external_address() -> None:
    answer = natpmp.decode(struct.pack("!BBHI4B", 0, 128, 0, 77, 198, 51, 100, 9))
    assert answer == natpmp.AddressAnswer(0, 77, "198.51.100.9")


def test_an_error_answer_may_stop_after_the_header() -> None:
    answer = natpmp.decode(struct.pack("!BBHI", 0, 130, 2, 5))
    assert isinstance(answer, natpmp.MapAnswer) and answer.result == 2 and answer.external_port == 0


@pytest.mark.parametrize("data, words", [
    (b"", "too short"),
    (struct.pack("!BBHI", 0, 130, 0, 5), "too short"),  # a success with no body
    (struct.pack("!BBHIHHI", 1, 129, 0, 1, 1, 1, 1), "version 1"),
    (struct.pack("!BBHIHHI", 0, 131, 0, 1, 1, 1, 1), "opcode 131"),
    (struct.pack("!BBHIHHI", 0, 2, 0, 1, 1, 1, 1), "opcode 2"),  # a request, not an answer
])
def test_malformed_answers_are_refused_in_words(data: bytes, words: str) -> None:
    with pytest.raises(PortMapError, match=words):
        natpmp.decode(data)
