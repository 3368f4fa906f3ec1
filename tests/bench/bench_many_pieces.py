"""A torrent of 200,000 pieces: the share of CPU the piece picker and the bitfields cost.

    .venv/bin/python -m tests.bench.bench_many_pieces [--pieces 200000] [--piece-kib 16] [--profile-dir DIR]

The payload (3.05 GiB at 16 KiB pieces by default) is a sparse file of zeros, made in no
time; the pieces' hashes are all alike, which costs the client under test nothing extra.
A libtorrent seed on 127.0.0.2 serves it. libtorrent downloads it once (127.0.0.3), for
scale; then `piecemeal-cli download` watched by py-spy (127.0.0.4): first into an empty
folder (start and download), then again over the finished folder (start and check every
piece). py-spy samples the running threads 100 times a second from outside, so the shares
are not skewed by a profiler's cost per Python call; samples of threads waiting (a worker
on its queue, the event loop in epoll) are left out. For each Piecemeal run it prints the
CPU seconds and the share of samples inside app/engine/piece_picker.py and
app/engine/bitfield.py: "self" where such a function is running, "inclusive" where one is
anywhere on the stack, with the costliest of those functions.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.bench.bench_transfer import PY, ROOT, Result, run_measured, start_background, stop, wait_port_file
from tests.lt_peer import make_torrent

WATCHED = ("app/engine/piece_picker.py", "app/engine/bitfield.py")
PY_SPY = str(Path(PY).parent / "py-spy")
# py-spy counts these waits as running (a worker thread blocked on its queue, the event
# loop in epoll): left out, so the shares are of the time the process was busy.
IDLE = ("_worker (concurrent/futures/thread.py", "EpollSelector.select (selectors.py",
        "Condition.wait (threading.py", "Event.wait (threading.py")


def sparse_payload(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)


def watched(frame: str) -> bool:
    """A py-spy frame, `function (path:line)`, inside the picker or the bitfield."""
    return frame.rsplit(" (", 1)[-1].rsplit(":", 1)[0].endswith(WATCHED)


def picker_share(raw: Path) -> tuple[int, int, int, Counter[str]]:
    """(busy samples, those running a watched function, those with one on the stack, per function)."""
    total = running = inside = 0
    functions: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        if frames[-1].startswith(IDLE):
            continue
        total += samples
        if watched(frames[-1]):
            running += samples
            functions[frames[-1].split(":")[0] + ")"] += samples  # per function, not per line
        inside += samples if any(watched(frame) for frame in frames) else 0
    return total, running, inside, functions


def report(result: Result, raw: Path) -> None:
    total, running, inside, functions = picker_share(raw)
    print("  " + result.line())
    print(f"      picker + bitfield: self {100 * running / total:4.1f} %, inclusive {100 * inside / total:4.1f} % "
          f"of {total} busy samples")
    for frame, samples in functions.most_common(5):
        print(f"      {100 * samples / total:5.2f} %  {frame}")


def piecemeal(name: str, torrent: Path, out: Path, port: int, raw: Path, size: int) -> Result:
    cmd = [PY, "-m", "app.cli", "download", str(torrent), "-o", str(out), "--bind", "127.0.0.4", "--port", "0",
           "--peer", f"127.0.0.2:{port}", "--no-dht", "--no-lsd", "--no-port-mapping"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    spy = subprocess.Popen([PY_SPY, "record", "--format", "raw", "--rate", "100", "-o", str(raw),
                            "--pid", str(proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    spy.wait(60)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return Result(name, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, size)


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
        for name, raw in (("piecemeal-cli: start + download", "download.txt"),
                          ("piecemeal-cli: start + check", "check.txt")):
            report(piecemeal(name, torrent, out, port, profiles / raw, size), profiles / raw)
    finally:
        stop(seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=200_000)
    parser.add_argument("--piece-kib", type=int, default=16)
    parser.add_argument("--profile-dir", type=Path, help="keep py-spy's raw stacks here (default: thrown away)")
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
