"""A libtorrent process for benchmarks: `seed` or `leech` one torrent on loopback.

    python -m tests.bench.lt_client seed TORRENT DATA_DIR HOST PORTFILE [plaintext | rc4] [utp]
    python -m tests.bench.lt_client leech TORRENT OUT_DIR HOST PEER_HOST:PEER_PORT[,...] [plaintext | rc4] [utp] [internet]
    python -m tests.bench.lt_client swarm-seed TORRENT DATA_DIR FIRST_HOST COUNT RATE PEERFILE
    python -m tests.bench.lt_client swarm-leech TORRENT OUT_DIR FIRST_HOST COUNT RATE PEERFILE ONLY_HOST

`plaintext`: never Message Stream Encryption (MSE/PE); `rc4`: MSE with RC4 only, both ways
(what "require encryption" means in qBittorrent). Without either: libtorrent's defaults.
`utp`: TCP switched off both ways, uTP (BEP 29) only.
`internet`: loopback peers count as internet peers. libtorrent puts local peers in a class
that ignores rate limits and unchoke slots, so it would upload to every loopback leecher.
A seed runs libtorrent's `high_performance_seed()` settings: with the defaults it caps each
leecher near 200 MB/s on loopback, and the benchmark would measure the seed, not the leecher.

`swarm-seed` and `swarm-leech` run COUNT libtorrent sessions in one process, one per
loopback address from FIRST_HOST up, each held to RATE bytes a second (upload for seeds,
download for leechers), and write their HOST:PORT lines to PEERFILE. Seeds skip the
check (seed mode); leechers talk to ONLY_HOST alone, so they pull from the client under
test and not from the seeds or each other. Their payload bytes so far (sent by the seeds,
received by the leechers) are kept in PEERFILE.bytes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import NoReturn

import libtorrent as lt

from tests.lt_peer import UTP_ONLY, LtPeer, throttle_loopback

ENCRYPTION: dict[str, dict[str, int]] = {
    "": {},
    "plaintext": {"out_enc_policy": 2, "in_enc_policy": 2},  # pe_disabled
    "rc4": {"out_enc_policy": 0, "in_enc_policy": 0, "allowed_enc_level": 2},  # pe_forced, pe_rc4
}



def seed_settings() -> dict[str, object]:
    """libtorrent's high-performance seed preset, with a deep request queue (default 2000 caps a fast leecher)."""
    preset = {key: value for key, value in lt.high_performance_seed().items() if key != "alert_mask"}
    return {**preset, "max_allowed_in_request_queue": 20000}


def swarm_host(first: str, offset: int) -> str:
    a, b, c, d = (int(part) for part in first.split("."))
    number = (a << 24 | b << 16 | c << 8 | d) + offset
    return ".".join(str(number >> shift & 0xFF) for shift in (24, 16, 8, 0))


def only_host_filter(host: str) -> lt.ip_filter:
    """Every address blocked but `host` (libtorrent's PEX would otherwise join the leechers up)."""
    rules = lt.ip_filter()
    rules.add_rule("0.0.0.0", "255.255.255.255", 1)  # 1: blocked
    rules.add_rule(host, host, 0)
    return rules


def swarm(argv: list[str], seeding: bool) -> NoReturn:
    torrent_path, folder, first, count, rate, peerfile = argv[:6]
    torrent = Path(torrent_path).read_bytes()
    peers, handles = [], []
    for number in range(int(count)):
        peer = LtPeer(swarm_host(first, number))
        throttle_loopback(peer, int(rate) if seeding else 0, 0 if seeding else int(rate))
        if not seeding:
            peer.session.set_ip_filter(only_host_filter(argv[6]))
        save = Path(folder) if seeding else Path(folder) / str(number)
        handles.append(peer.add(torrent, save, seed_mode=seeding))
        peers.append(peer)
    Path(peerfile).write_text("".join(f"{peer.host}:{peer.port}\n" for peer in peers))
    while True:
        statuses = [handle.status() for handle in handles]
        total = sum(s.total_payload_upload if seeding else s.total_payload_download for s in statuses)
        Path(peerfile + ".tmp").write_text(str(total))
        Path(peerfile + ".tmp").replace(peerfile + ".bytes")  # a reader never sees half a number
        time.sleep(0.5)


def main(argv: list[str]) -> int:
    if argv[0] in ("swarm-seed", "swarm-leech"):
        return swarm(argv[1:], argv[0] == "swarm-seed")
    mode, torrent_path, folder, host = argv[:4]
    extras = argv[5:]
    settings: dict[str, object] = seed_settings() if mode == "seed" else {}
    settings.update(ENCRYPTION[next((extra for extra in extras if extra in ENCRYPTION), "")])
    if "utp" in extras:
        settings.update(UTP_ONLY)
    peer = LtPeer(host, **settings)
    if "internet" in extras:
        throttle_loopback(peer, 0)  # 0: no limit; the peer-class filter alone is wanted
    handle = peer.add(Path(torrent_path).read_bytes(), Path(folder))
    if mode == "seed":
        peer.wait_seeding(handle, timeout=600)
        Path(argv[4]).write_text(str(peer.port))
        while True:
            time.sleep(1)
    for address in argv[4].split(","):
        peer_host, peer_port = address.rsplit(":", 1)
        handle.connect_peer((peer_host, int(peer_port)))
    peer.wait_seeding(handle, timeout=600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
