"""A libtorrent process for benchmarks: `seed` or `leech` one torrent on loopback.

    python -m tests.bench.lt_client seed TORRENT DATA_DIR HOST PORTFILE [utp]
    python -m tests.bench.lt_client leech TORRENT OUT_DIR HOST PEER_HOST:PEER_PORT [plaintext] [utp]

A `plaintext` leecher connects without first trying Message Stream Encryption (MSE/PE), which
a peer without it (Piecemeal) refuses: libtorrent then reconnects in plain text a second later.
A `utp` peer has TCP switched off both ways: it speaks uTP (BEP 29) only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.lt_peer import UTP_ONLY, LtPeer


def main(argv: list[str]) -> int:
    mode, torrent_path, folder, host = argv[:4]
    extras = set(argv[5:])
    settings: dict[str, object] = {"out_enc_policy": 2} if "plaintext" in extras else {}  # 2: pe_disabled
    if "utp" in extras:
        settings.update(UTP_ONLY)
    peer = LtPeer(host, **settings)
    handle = peer.add(Path(torrent_path).read_bytes(), Path(folder))
    if mode == "seed":
        peer.wait_seeding(handle, timeout=600)
        Path(argv[4]).write_text(str(peer.port))
        while True:
            time.sleep(1)
    peer_host, peer_port = argv[4].rsplit(":", 1)
    handle.connect_peer((peer_host, int(peer_port)))
    peer.wait_seeding(handle, timeout=600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
