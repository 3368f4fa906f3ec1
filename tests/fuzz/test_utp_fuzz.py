"""Fuzzing app/engine/transport/utp.py: random and edited datagrams, and well-formed packets with
any numbers, fed to an established connection: only our own errors, bounded memory, and nothing
after Closed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.transport.utp_codec import PacketType
from fuzz.seeds import SEEDS
from fuzz.strategies import fuzz_input
from fuzz.targets import UTP_OUR_SEQ, UTP_PEER_SEQ, established_utp, utp_peer_packet, utp_target

_NEAR = st.integers(-40, 40)  # sequence numbers around the ones the connection expects
_PACKETS = st.builds(
    lambda kind, seq, ack, payload, sack: utp_peer_packet(
        kind, UTP_PEER_SEQ + seq, (UTP_OUR_SEQ + ack) & 0xFFFF, payload, sack
    ),
    st.sampled_from(PacketType),
    _NEAR,
    _NEAR,
    st.binary(max_size=64),
    st.one_of(st.just(b""), st.binary(min_size=4, max_size=12)),
)


@settings(max_examples=1000, deadline=None)
@given(fuzz_input(SEEDS["utp"]))
def test_any_datagrams_leave_the_connection_sound(data: bytes) -> None:
    utp_target(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PACKETS, max_size=30))
def test_well_formed_packets_with_any_numbers_leave_the_connection_sound(packets: list[bytes]) -> None:
    utp_target(b"".join(bytes([len(packet)]) + packet for packet in packets if len(packet) < 256))


def test_the_seeds_reach_the_connection() -> None:
    """The seeds are not dropped as invalid: they carry the ids and numbers the target expects."""
    connection = established_utp()
    for packet in (utp_peer_packet(PacketType.DATA, UTP_PEER_SEQ + 2, UTP_OUR_SEQ, b"in order"),):
        connection.receive_datagram(packet, 2.0)
    assert connection.invalid_packets == 0
    assert [bytes(event.data) for event in connection.events()] == [b"in order"]
