"""The MSE/PE handshake, sans-I/O: both ends against each other, and against libtorrent's recorded bytes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from app.engine.errors import LocalProtocolError, RemoteProtocolError
from app.engine.transport.mse import (
    KEY_BYTES,
    Initiator,
    Method,
    MseResult,
    Rc4Stream,
    Responder,
    looks_plain,
)
from app.engine.wire.codec import WireDecoder, encode_handshake
from app.engine.wire.messages import Handshake

HERE = Path(__file__).parent
INFO_HASH = bytes(range(20))
OTHER = bytes(range(1, 21))
IA = encode_handshake(INFO_HASH, b"-PM0100-abcdefghijkl")
BOTH = Method.PLAINTEXT | Method.RC4


def rng(seed: int):  # type: ignore[no-untyped-def]
    return random.Random(seed).randbytes


def pump(a: Initiator, b: Responder, chunk: int = 1 << 20) -> None:
    """Carry bytes between the two ends, `chunk` bytes at a time, until neither has more to say."""
    while True:
        moved = False
        for sender, receiver in ((a, b), (b, a)):
            data = sender.data_to_send()
            for at in range(0, len(data), chunk):
                receiver.receive_data(data[at : at + chunk])
            moved |= bool(data)
        if not moved:
            return


# The policies users know: what each end offers (initiator) or accepts (responder).
CASES = [
    (Method.RC4, Method.RC4, Method.RC4),
    (Method.RC4, BOTH, Method.RC4),
    (Method.RC4, Method.PLAINTEXT, None),
    (Method.PLAINTEXT, Method.RC4, None),
    (Method.PLAINTEXT, Method.PLAINTEXT, Method.PLAINTEXT),
    (Method.PLAINTEXT, BOTH, Method.PLAINTEXT),
    (BOTH, Method.RC4, Method.RC4),
    (BOTH, Method.PLAINTEXT, Method.PLAINTEXT),
    (BOTH, BOTH, Method.PLAINTEXT),  # as libtorrent: whoever wants RC4 offers RC4 only
]


@pytest.mark.parametrize(("offered", "accepted", "selected"), CASES)
def test_every_policy_pair(offered: Method, accepted: Method, selected: Method | None) -> None:
    a = Initiator(INFO_HASH, offered, IA, rng(1))
    b = Responder(lambda: [OTHER, INFO_HASH], accepted, rng(2))
    if selected is None:
        with pytest.raises(RemoteProtocolError, match="no encryption method in common"):
            pump(a, b)
        return
    pump(a, b)
    assert a.result is not None and b.result is not None
    assert a.result.method == b.result.method == selected
    assert a.result.info_hash == b.result.info_hash == INFO_HASH
    assert b.result.received == IA
    assert a.result.received == b""
    assert_stream_works(a.result, b.result)


def assert_stream_works(a: MseResult, b: MseResult) -> None:
    """After the handshake, bytes one end encrypts the other decrypts, both ways (or go in clear)."""
    if a.method is Method.PLAINTEXT:
        assert a.cipher is None and b.cipher is None
        return
    assert a.cipher is not None and b.cipher is not None
    message = b"\x00\x00\x00\x01\x02" * 1000
    assert b.cipher.decrypt(a.cipher.encrypt(message)) == message
    wire = bytearray(b.cipher.encrypt(message))
    assert bytes(wire) != message
    a.cipher.decrypt_into(memoryview(wire))
    assert bytes(wire) == message


@pytest.mark.parametrize("chunk", [1, 7, 97, 1 << 20])
def test_any_split_of_the_bytes(chunk: int) -> None:
    a = Initiator(INFO_HASH, BOTH, IA, rng(3))
    b = Responder(lambda: [INFO_HASH], Method.RC4, rng(4))
    pump(a, b, chunk)
    assert a.result is not None and b.result is not None
    assert b.result.received == IA


def test_the_stream_start_sent_with_the_last_handshake_bytes_is_kept() -> None:
    """libtorrent sends its BitTorrent handshake right behind step 4: it must not be lost."""
    a = Initiator(INFO_HASH, Method.RC4, IA, rng(5))
    b = Responder(lambda: [INFO_HASH], Method.RC4, rng(6))
    b.receive_data(a.data_to_send())
    a.receive_data(b.data_to_send())
    b.receive_data(a.data_to_send())
    assert b.result is not None and b.result.cipher is not None
    a.receive_data(b.data_to_send() + b.result.cipher.encrypt(IA))
    assert a.result is not None and a.result.received == IA


def test_private_key_and_padding_come_from_the_injected_rng() -> None:
    first = Initiator(INFO_HASH, BOTH, IA, rng(9)).data_to_send()
    assert Initiator(INFO_HASH, BOTH, IA, rng(9)).data_to_send() == first
    assert Initiator(INFO_HASH, BOTH, IA, rng(10)).data_to_send() != first
    assert KEY_BYTES <= len(first) <= KEY_BYTES + 512


def read_fixture(name: str) -> dict[str, bytes]:
    fields = dict(line.split(": ", 1) for line in (HERE / name).read_text().splitlines())
    return {key: bytes.fromhex(value) if key != "seed" else value.encode() for key, value in fields.items()}


def decode_handshake(data: bytes) -> Handshake:
    decoder = WireDecoder()
    decoder.feed(data)
    event = next(iter(decoder.events()))
    assert isinstance(event, Handshake)
    return event


@pytest.mark.parametrize("chunk", [1, 300, 1 << 20])
def test_replay_dialing_libtorrent(chunk: int) -> None:
    """Recorded by mse_recorder.py: we dialed a libtorrent forcing RC4 and sent our handshake as IA."""
    f = read_fixture("mse_libtorrent_initiator.txt")
    a = Initiator(f["info_hash"], BOTH, f["initial_payload"], rng(int(f["seed"])))
    sent = a.data_to_send()
    received = f["received"]
    for at in range(0, len(received), chunk):
        if a.result is None:
            a.receive_data(received[at : at + chunk])
            sent += a.data_to_send()
        else:
            stream_rest = received[at:]
            break
    else:
        stream_rest = b""
    assert sent == f["sent"]
    assert a.result is not None and a.result.method is Method.RC4 and a.result.cipher is not None
    stream = a.result.received + a.result.cipher.decrypt(stream_rest)
    handshake = decode_handshake(stream)
    assert handshake.info_hash == f["info_hash"]
    assert handshake.peer_id.startswith(b"-LT")


def test_replay_answering_libtorrent() -> None:
    """Recorded by mse_recorder.py: a libtorrent forcing RC4 dialed us; its handshake came as IA."""
    f = read_fixture("mse_libtorrent_responder.txt")
    b = Responder(lambda: [OTHER, f["info_hash"]], BOTH, rng(int(f["seed"])))
    b.receive_data(f["received"])
    assert b.data_to_send() == f["sent"]
    assert b.result is not None and b.result.method is Method.RC4
    handshake = decode_handshake(b.result.received)
    assert handshake.info_hash == f["info_hash"]
    assert handshake.peer_id.startswith(b"-LT")


def test_garbage_instead_of_a_handshake() -> None:
    b = Responder(lambda: [INFO_HASH], BOTH, rng(1))
    with pytest.raises(RemoteProtocolError, match="garbage instead of an encrypted handshake"):
        b.receive_data(random.Random(3).randbytes(KEY_BYTES + 600))


def test_a_public_key_that_is_no_key() -> None:
    b = Responder(lambda: [INFO_HASH], BOTH, rng(1))
    with pytest.raises(RemoteProtocolError, match="not a Diffie-Hellman key"):
        b.receive_data((1).to_bytes(KEY_BYTES))


def test_a_handshake_for_a_torrent_we_do_not_have() -> None:
    a = Initiator(INFO_HASH, BOTH, IA, rng(1))
    b = Responder(lambda: [OTHER], BOTH, rng(2))
    with pytest.raises(RemoteProtocolError, match="did not match any torrent"):
        pump(a, b)


def test_no_verification_constant_within_the_limit() -> None:
    a = Initiator(INFO_HASH, BOTH, IA, rng(1))
    b = Responder(lambda: [INFO_HASH], BOTH, rng(2))
    b.receive_data(a.data_to_send())
    a.receive_data(b.data_to_send()[:KEY_BYTES])  # Yb: the initiator now waits for ENCRYPT(VC)
    a.receive_data(random.Random(4).randbytes(519))  # 512 bytes of padding + 7: not over yet
    with pytest.raises(RemoteProtocolError, match="no verification constant"):
        a.receive_data(b"\x00")


def test_a_wrong_verification_constant() -> None:
    a = Initiator(INFO_HASH, BOTH, IA, rng(1))
    b = Responder(lambda: [INFO_HASH], BOTH, rng(2))
    b.receive_data(a.data_to_send())
    a.receive_data(b.data_to_send())
    step3 = bytearray(a.data_to_send())
    step3[40] ^= 0xFF  # the first byte of ENCRYPT(VC)
    with pytest.raises(RemoteProtocolError, match="wrong verification constant"):
        b.receive_data(step3)


def test_a_selected_method_we_did_not_offer() -> None:
    a = Initiator(INFO_HASH, Method.RC4, IA, rng(1))
    b = Responder(lambda: [INFO_HASH], BOTH, rng(2))
    b.receive_data(a.data_to_send())
    a.receive_data(b.data_to_send())
    b.receive_data(a.data_to_send())
    step4 = bytearray(b.data_to_send())
    step4[11] ^= int(Method.RC4 ^ Method.PLAINTEXT)  # RC4 is a stream cipher: crypto_select 2 becomes 1
    with pytest.raises(RemoteProtocolError, match="did not offer"):
        a.receive_data(step4)


def test_nothing_more_is_taken_after_the_handshake() -> None:
    a = Initiator(INFO_HASH, BOTH, IA, rng(1))
    b = Responder(lambda: [INFO_HASH], BOTH, rng(2))
    pump(a, b)
    with pytest.raises(LocalProtocolError):
        b.receive_data(b"more")


def test_rc4_decrypts_in_place_as_it_decrypts_into_new_bytes() -> None:
    key_a, key_b = b"a" * 20, b"b" * 20
    data = random.Random(5).randbytes(100_000)
    wire = Rc4Stream(key_a, key_b).encrypt(data)
    copy = Rc4Stream(key_b, key_a)
    in_place = Rc4Stream(key_b, key_a)
    buffer = bytearray(wire)
    in_place.decrypt_into(memoryview(buffer)[:40_000])
    in_place.decrypt_into(memoryview(buffer)[40_000:])
    assert bytes(buffer) == copy.decrypt(wire) == data


@pytest.mark.parametrize(
    ("prefix", "plain"),
    [(b"", None), (b"\x13Bit", None), (b"\x13BitTorrent protocol", True), (b"\x13BitTorrent protocol\0\0", True),
     (b"\x14", False), (b"\x13BitTorrent pro\xff", False)],
)
def test_plain_or_encrypted_from_the_first_bytes(prefix: bytes, plain: bool | None) -> None:
    assert looks_plain(prefix) is plain
