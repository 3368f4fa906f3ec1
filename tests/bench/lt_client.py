"""A libtorrent process for benchmarks: `seed` or `leech` one torrent on loopback.

    python -m tests.bench.lt_client seed TORRENT DATA_DIR HOST PORTFILE [plaintext | rc4] [utp]
    python -m tests.bench.lt_client leech TORRENT OUT_DIR HOST PEER_HOST:PEER_PORT [plaintext | rc4] [utp]

`plaintext`: never Message Stream Encryption (MSE/PE); `rc4`: MSE with RC4 only, both ways
(what "require encryption" means in qBittorrent). Without either: libtorrent's defaults.
`utp`: TCP switched off both ways, uTP (BEP 29) only.
A seed runs libtorrent's `high_performance_seed()` settings: with the defaults it caps each
leecher near 200 MB/s on loopback, and the benchmark would measure the seed, not the leecher.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import libtorrent as lt

from tests.lt_peer import UTP_ONLY, LtPeer

ENCRYPTION: dict[str, dict[str, int]] = {
    "": {},
    "plaintext": {"out_enc_policy": 2, "in_enc_policy": 2},  # pe_disabled
    "rc4": {"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2},  # pe_forced, pe_rc4
}



def seed_settings() -> dict[str, object]:
    """libtorrent's high-performance seed preset, with a deep request queue (default 2000 caps a fast leecher)."""
    preset = {key: value for key, value in lt.high_performance_seed().items() if key != "alert_mask"}
    return {**preset, "max_allowed_in_request_queue": 20000}


def main(argv: list[str]) -> int:
    mode, torrent_path, folder, host = argv[:4]
    extras = argv[5:]
    settings: dict[str, object] = seed_settings() if mode == "seed" else {}
    settings.update(ENCRYPTION[next((extra for extra in extras if extra in ENCRYPTION), "")])
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
