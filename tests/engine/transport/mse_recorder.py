"""Records real MSE exchanges with libtorrent for the sans-I/O replay tests in test_mse.py.

    PYTHONPATH=$PWD .venv/bin/python -m tests.engine.transport.mse_recorder

Our end runs with a seeded RNG (fixed private key and padding), so replaying libtorrent's
recorded bytes reproduces our side byte for byte. libtorrent forces encryption and allows
RC4 only (in_enc_policy/out_enc_policy 0, allowed_enc_level 2). Writes
mse_libtorrent_initiator.txt (we dial libtorrent) and mse_libtorrent_responder.txt
(libtorrent dials us) next to this file.
"""

from __future__ import annotations

import random
import socket
import tempfile
import time
from pathlib import Path

import libtorrent as lt

from app.engine.transport.mse import Initiator, Method, Responder
from app.engine.wire.codec import encode_handshake
from tests.lt_peer import LtPeer, make_torrent

HERE = Path(__file__).parent
INITIATOR_SEED = 1
RESPONDER_SEED = 2
OUR_PEER_ID = b"-PM0100-mserecorder1"
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
FORCED_RC4 = {"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2}


def payload(root: Path) -> Path:
    path = root / "mse-fixture.bin"
    path.write_bytes(random.Random(7).randbytes(100_000))
    return path


def pump(sock: socket.socket, end: Initiator | Responder, deadline: float) -> tuple[bytes, bytes]:
    """Run `end` over the socket until its handshake is over; returns every byte sent and received."""
    sent, received = bytearray(), bytearray()
    while end.result is None:
        sent += send(sock, end)
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            raise SystemExit("libtorrent closed the connection")
        received += data
        end.receive_data(data)
    sent += send(sock, end)
    return bytes(sent), bytes(received)


def send(sock: socket.socket, end: Initiator | Responder) -> bytes:
    data = end.data_to_send()
    sock.sendall(data)
    return data


def read_more(sock: socket.socket, end: Initiator | Responder, received: bytes, wanted: int, deadline: float) -> bytes:
    """Keep receiving until the decrypted stream after the handshake has `wanted` bytes."""
    assert end.result is not None and end.result.cipher is not None
    decrypted = len(end.result.received)
    more = bytearray()
    while decrypted < wanted:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        data = sock.recv(65536)
        if not data:
            break
        more += data
        decrypted += len(data)
    return received + bytes(more)


def write_fixture(name: str, **fields: bytes | int) -> None:
    lines = [f"{key}: {value.hex() if isinstance(value, bytes) else value}" for key, value in fields.items()]
    (HERE / name).write_text("\n".join(lines) + "\n")


def record_initiator(torrent: bytes, info_hash: bytes, data_dir: Path) -> None:
    peer = LtPeer("127.0.0.2", **FORCED_RC4)
    try:
        handle = peer.add(torrent, data_dir)
        peer.wait_seeding(handle)
        ia = encode_handshake(info_hash, OUR_PEER_ID, RESERVED)
        end = Initiator(info_hash, Method.RC4 | Method.PLAINTEXT, ia, random.Random(INITIATOR_SEED).randbytes)
        with socket.create_connection(("127.0.0.2", peer.port), timeout=10) as sock:
            deadline = time.monotonic() + 10
            sent, received = pump(sock, end, deadline)
            received = read_more(sock, end, received, 68, deadline)
    finally:
        peer.close()
    write_fixture("mse_libtorrent_initiator.txt", seed=INITIATOR_SEED, info_hash=info_hash, initial_payload=ia,
                  sent=sent, received=received)


def record_responder(torrent: bytes, info_hash: bytes, data_dir: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    peer = LtPeer("127.0.0.3", **FORCED_RC4)
    try:
        handle = peer.add(torrent, data_dir / "empty")
        handle.connect_peer(("127.0.0.1", server.getsockname()[1]))
        server.settimeout(10)
        sock, _ = server.accept()
        with sock:
            end = Responder(lambda: [info_hash], Method.RC4 | Method.PLAINTEXT, random.Random(RESPONDER_SEED).randbytes)
            sent, received = pump(sock, end, time.monotonic() + 10)
    finally:
        server.close()
        peer.close()
    write_fixture("mse_libtorrent_responder.txt", seed=RESPONDER_SEED, info_hash=info_hash, sent=sent, received=received)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torrent = make_torrent(payload(root), piece_size=16384)
        info_hash = lt.torrent_info(lt.bdecode(torrent)).info_hash().to_bytes()
        record_initiator(torrent, info_hash, root)
        record_responder(torrent, info_hash, root)
    print("written:", *sorted(p.name for p in HERE.glob("mse_libtorrent_*.txt")))


if __name__ == "__main__":
    main()
