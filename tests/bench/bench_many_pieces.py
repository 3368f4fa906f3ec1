"""A torrent of 200,000 pieces: the share of CPU the piece picker and the bitfields cost.

    .venv/bin/python -m tests.bench.bench_many_pieces [--pieces 200000] [--piece-kib 16] [--profile-dir DIR]

The payload (3.05 GiB at 16 KiB pieces by default) is a sparse file of zeros, made in no
time; the pieces' hashes are all alike, which costs the client under test nothing extra.
A libtorrent seed on 127.0.0.2 serves it. libtorrent downloads it once (127.0.0.3), for
scale; then `piecemeal-cli download` under cProfile (127.0.0.4): first into an empty folder
(start and download), then again over the finished folder (start and check every piece).
For each Piecemeal run it prints the CPU seconds, and the share of the profiled time spent
inside app/engine/piece_picker.py and app/engine/bitfield.py, with their costliest functions.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

from tests.bench.bench_transfer import PY, run_measured, start_background, stop, wait_port_file
from tests.lt_peer import make_torrent

WATCHED = ("app/engine/piece_picker.py", "app/engine/bitfield.py")


def sparse_payload(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def picker_share(profile: Path) -> tuple[float, float, list[tuple[float, str]]]:
    """(total profiled seconds, seconds inside the watched modules, their costliest functions)."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.values())
    watched = [(row[2], f"{Path(file).name}:{name} ({row[1]} calls)")
               for (file, _, name), row in stats.items() if file.endswith(WATCHED)]
    return total, sum(seconds for seconds, _ in watched), sorted(watched, reverse=True)[:6]


def report(name: str, cpu: float, profile: Path) -> None:
    total, inside, top = picker_share(profile)
    print(f"  {name:<34} CPU {cpu:6.1f} s (profiled)  picker + bitfield {inside:6.2f} s "
          f"= {100 * inside / total:4.1f} % of {total:.1f} s")
    for seconds, where in top:
        print(f"      {seconds:6.2f} s  {where}")


def piecemeal(torrent: Path, out: Path, port: int, profile: Path, size: int) -> float:
    cmd = [PY, "-m", "cProfile", "-o", str(profile), "-m", "app.cli", "download", str(torrent), "-o", str(out),
           "--bind", "127.0.0.4", "--port", "0", "--peer", f"127.0.0.2:{port}",
           "--no-dht", "--no-lsd", "--no-port-mapping"]
    return run_measured("piecemeal-cli", cmd, size, timeout=3600).cpu


def run(work: Path, torrent: Path, size: int, profiles: Path) -> None:
    seed = start_background([PY, "-m", "tests.bench.lt_client", "seed", str(torrent), str(work / "data"),
                             "127.0.0.2", str(work / "seed.port")])
    try:
        port = wait_port_file(work / "seed.port")
        lt = run_measured("download: libtorrent", [PY, "-m", "tests.bench.lt_client", "leech", str(torrent),
                                                   str(work / "lt-out"), "127.0.0.3", f"127.0.0.2:{port}"], size)
        shutil.rmtree(work / "lt-out", ignore_errors=True)
        print("  " + lt.line())
        out = work / "pm-out"
        cpu = piecemeal(torrent, out, port, profiles / "download.prof", size)
        report("piecemeal-cli: start + download", cpu, profiles / "download.prof")
        cpu = piecemeal(torrent, out, port, profiles / "check.prof", size)
        report("piecemeal-cli: start + check", cpu, profiles / "check.prof")
    finally:
        stop(seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=200_000)
    parser.add_argument("--piece-kib", type=int, default=16)
    parser.add_argument("--profile-dir", type=Path, help="keep the cProfile files here (default: thrown away)")
    args = parser.parse_args()
    size = args.pieces * args.piece_kib * 1024
    with tempfile.TemporaryDirectory(prefix="piecemeal-pieces-") as tmp:
        work = Path(tmp)
        profiles = args.profile_dir or work
        profiles.mkdir(parents=True, exist_ok=True)
        sparse_payload(work / "data" / "payload.bin", size)
        torrent = work / "payload.torrent"
        torrent.write_bytes(make_torrent(work / "data" / "payload.bin", piece_size=args.piece_kib * 1024))
        print(f"payload {size / 2**30:.2f} GiB of zeros, {args.pieces} pieces of {args.piece_kib} KiB")
        run(work, torrent, size, profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
