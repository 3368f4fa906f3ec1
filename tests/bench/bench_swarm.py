"""A real-shaped swarm: CPU per GiB and CPU % at a fixed rate, Piecemeal beside libtorrent.

    .venv/bin/python -m tests.bench.bench_swarm [--size-mib 1024] [--piece-kib 1024]
        [--seeds 20] [--leechers 20] [--rate-kib 2560]

One client downloads the payload from SEEDS libtorrent seeds at once (127.0.1.1 up), each
held to RATE a second, while LEECHERS libtorrent leechers (127.0.2.1 up, each held to RATE
too) pull from it alone. Loopback peers sit in libtorrent's local peer class, which ignores
rate limits, so every swarm session puts loopback in the global class (see lt_peer). The
aggregate rate is capped at SEEDS x RATE (50 MB/s by default), so CPU % is the cost of
downloading at that rate while uploading, as a desktop user feels it (fan, battery).

The client under test runs alone in its own process: libtorrent (`lt_client leech`, its
defaults, loopback peers counted as internet peers so that its unchoke slots apply) on
127.0.0.3, then `piecemeal-cli download` on 127.0.0.4; a fresh set of leechers for each.
Its CPU seconds are user + system of that process, from start to the end of the download.
The seeds count what they sent it ("wasted": beyond the payload, endgame duplicates), the
leechers what they got from it: CPU per GiB moved (down + up) is the fairer figure when one
client uploads more than the other (libtorrent unchokes 8 peers and an optimistic one,
Piecemeal 4).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.bench_transfer import PY, Result, run_measured, start_background, stop
from tests.lt_peer import make_torrent, random_tree

SEED_HOSTS = "127.0.1.1"
LEECHER_HOSTS = "127.0.2.1"
LT_HOST = "127.0.0.3"
PM_HOST = "127.0.0.4"
CLIENT_HOSTS = {"libtorrent": LT_HOST, "piecemeal-cli": PM_HOST}


@dataclass
class SwarmResult:
    run: Result
    uploaded: int  # payload bytes the leechers got from the client under test
    received: int  # payload bytes the seeds sent it, endgame duplicates included

    def line(self) -> str:
        run, gib = self.run, self.run.size / 2**30
        return (f"{run.name:<16} {run.size / run.seconds / 1e6:6.1f} MB/s down  "
                f"{max(0, self.received - run.size) / 1e6:5.1f} MB wasted  "
                f"{self.uploaded / 1e6:7.1f} MB up  {run.cpu / gib:6.2f} CPU s/GiB down  "
                f"{self.per_gib_moved():6.2f} CPU s/GiB moved  "
                f"CPU {100 * run.cpu / run.seconds:5.1f} %  peak RSS {run.rss_mib:6.1f} MiB")

    def per_gib_moved(self) -> float:
        """CPU seconds per GiB downloaded plus uploaded: clients that upload more are not penalised."""
        return self.run.cpu / ((self.run.size + self.uploaded) / 2**30)


@dataclass(frozen=True)
class Swarm:
    torrent: Path
    data: Path
    work: Path
    seeds: int
    leechers: int
    rate: int
    size: int


def start_swarm(mode: str, swarm: Swarm, folder: Path, first: str, count: int, *extra: str
                ) -> tuple[subprocess.Popen[bytes], list[str], Path]:
    peerfile = swarm.work / f"{mode}.peers"
    peerfile.unlink(missing_ok=True)
    proc = start_background([PY, "-m", "tests.bench.lt_client", mode, str(swarm.torrent), str(folder),
                             first, str(count), str(swarm.rate), str(peerfile), *extra])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        lines = peerfile.read_text().split() if peerfile.exists() else []
        if len(lines) == count:
            return proc, lines, Path(f"{peerfile}.bytes")
        if proc.poll() is not None:
            raise SystemExit(f"the libtorrent {mode} process stopped")
        time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"the libtorrent {mode} process did not start its {count} sessions")


def read_bytes(path: Path) -> int:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else 0


def client_command(name: str, swarm: Swarm, peers: list[str], out: Path) -> list[str]:
    if name == "libtorrent":
        return [PY, "-m", "tests.bench.lt_client", "leech", str(swarm.torrent), str(out), LT_HOST, ",".join(peers),
                "internet"]
    return [PY, "-m", "app.cli", "download", str(swarm.torrent), "-o", str(out), "--bind", PM_HOST,
            "--port", "0", "--no-dht", "--no-lsd", "--no-port-mapping",
            *[arg for peer in peers for arg in ("--peer", peer)]]


def bench_client(swarm: Swarm, name: str, seed_peers: list[str], seed_counter: Path) -> SwarmResult:
    out, leech_out = swarm.work / "client-out", swarm.work / "leechers-out"
    leechers, leech_peers, counter = start_swarm("swarm-leech", swarm, leech_out, LEECHER_HOSTS,
                                                 swarm.leechers, CLIENT_HOSTS[name])
    try:
        sent_before = read_bytes(seed_counter)
        result = run_measured(name, client_command(name, swarm, seed_peers + leech_peers, out), swarm.size)
        time.sleep(1)  # the counters are written twice a second
        return SwarmResult(result, read_bytes(counter), read_bytes(seed_counter) - sent_before)
    finally:
        stop(leechers)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(leech_out, ignore_errors=True)


def run(swarm: Swarm, rounds: int) -> None:
    seeds, seed_peers, seed_counter = start_swarm("swarm-seed", swarm, swarm.data, SEED_HOSTS, swarm.seeds)
    try:
        for round_no in range(rounds):
            results = {name: bench_client(swarm, name, seed_peers, seed_counter)
                       for name in ("libtorrent", "piecemeal-cli")}
            print(f"round {round_no + 1}:")
            for result in results.values():
                print("  " + result.line())
            lt, pm = results["libtorrent"].run, results["piecemeal-cli"].run
            moved = results["piecemeal-cli"].per_gib_moved() / results["libtorrent"].per_gib_moved()
            print(f"  piecemeal / libtorrent: CPU s per GiB down {pm.cpu / lt.cpu:.2f}x, per GiB moved {moved:.2f}x, "
                  f"CPU % {(pm.cpu / pm.seconds) / (lt.cpu / lt.seconds):.2f}x, "
                  f"download MB/s {lt.seconds / pm.seconds:.2f}x")
    finally:
        stop(seeds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--piece-kib", type=int, default=1024)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--leechers", type=int, default=20)
    parser.add_argument("--rate-kib", type=int, default=2560, help="each seed's upload, each leecher's download")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    size, rate = args.size_mib * 2**20, args.rate_kib * 1024
    with tempfile.TemporaryDirectory(prefix="piecemeal-swarm-") as tmp:
        work = Path(tmp)
        random_tree(work / "data", {"payload.bin": size})
        torrent = work / "payload.torrent"
        torrent.write_bytes(make_torrent(work / "data" / "payload.bin", piece_size=args.piece_kib * 1024))
        print(f"payload {args.size_mib} MiB, pieces {args.piece_kib} KiB, {args.seeds} seeds and "
              f"{args.leechers} leechers at {rate / 1e6:.2f} MB/s each "
              f"(cap {args.seeds * rate / 1e6:.0f} MB/s down), {os.cpu_count()} cores")
        run(Swarm(torrent, work / "data", work, args.seeds, args.leechers, rate, size), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
