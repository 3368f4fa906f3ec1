"""Download and seed speed, CPU and peak memory: Piecemeal beside libtorrent, in one run.

    .venv/bin/python -m tests.bench.bench_transfer [--size-mib 1024] [--piece-kib 1024] [--rounds 1] [--gui]
        [--skip-download | --skip-seed] [--plaintext-leecher] [--profile-seed FILE] [--encrypted] [--utp]

A random payload is seeded by libtorrent on 127.0.0.2; each leecher runs alone in its own
process (libtorrent's on 127.0.0.3, `piecemeal-cli download` on 127.0.0.4), so CPU seconds
and peak RSS are that process's own. Then the seeding direction: a libtorrent leecher pulls
from `piecemeal-cli seed` and from a libtorrent seed. `--encrypted` adds a download from a
libtorrent seed that forces RC4 (MSE/PE) with `piecemeal-cli download --encryption require`,
and its speed as a share of the plaintext download's in the same run. With --utp every peer
speaks uTP (BEP 29) only: libtorrent with TCP switched off, Piecemeal with `--transport utp`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lt_peer import make_torrent, random_tree

PY = sys.executable
WITH_GUI = False
WITH_RC4 = False  # also download from a libtorrent seed forcing RC4
LEECH_EXTRA: list[str] = []  # ["plaintext"]: the libtorrent leechers skip the encrypted attempt
LT_EXTRA: list[str] = []  # ["utp"]: every libtorrent process speaks uTP only
PM_EXTRA: list[str] = []  # ["--transport", "utp"] for every piecemeal-cli process
SEED_PROFILE: str | None = None  # cProfile output of `piecemeal-cli seed`, written when it stops
ENV: dict[str, str] | None = None  # every process's environment: compiled_env()
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    name: str
    seconds: float
    cpu: float
    rss_mib: float
    size: int
    seed_cpu: float | None = None  # the seeding process's CPU seconds during the transfer
    transfer_seconds: float | None = None  # from its "Downloading" line to its "Seeding" line

    def line(self) -> str:
        mbs = self.size / self.seconds / 1e6
        gib = self.size / 2**30
        seed = "" if self.seed_cpu is None else f"  seed {self.seed_cpu / gib:5.2f} CPU s/GiB"
        transfer = "" if self.transfer_seconds is None else (
            f"  transfer alone {self.size / self.transfer_seconds / 1e6:6.1f} MB/s")
        return (f"{self.name:<34} {mbs:8.1f} MB/s  {self.cpu / gib:6.2f} CPU s/GiB  "
                f"peak RSS {self.rss_mib:6.1f} MiB{seed}{transfer}")


def compiled_env(work: Path) -> dict[str, str]:
    """Byte-compile our code first, as an installed client is: otherwise each process compiles
    every module again (PYTHONDONTWRITEBYTECODE), about 0.3 CPU seconds counted as transfer."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    subprocess.run([PY, "-m", "compileall", "-q", "app", "tests/bench"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return env


def run_measured(name: str, cmd: list[str], size: int, timeout: float = 900) -> Result:
    """The whole process: start-up, transfer, exit. A Piecemeal leecher's progress lines also
    time the transfer alone (the window imports Qt and builds itself first: not download speed)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[str, float] = {}

    def read_progress() -> None:  # read to the end: a full pipe would stall the process
        for line in proc.stdout or ():
            for mark in ("Downloading", "Seeding"):
                if mark in line:
                    seen.setdefault(mark, time.monotonic())

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    reader.join(10)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name} failed: {(proc.stderr.read() if proc.stderr else '')[-2000:]}")
    transfer = seen["Seeding"] - seen["Downloading"] if len(seen) == 2 else None
    return Result(name, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, size,
                  transfer_seconds=transfer)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a running process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_against_seed(name: str, cmd: list[str], size: int, seed: subprocess.Popen[bytes] | subprocess.Popen[str]) -> Result:
    before = cpu_seconds(seed.pid)
    result = run_measured(name, cmd, size)
    result.seed_cpu = cpu_seconds(seed.pid) - before
    return result


def start_background(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_seeding(cmd: list[str]) -> subprocess.Popen[str]:
    """`piecemeal-cli seed`, once it says it seeds: its data is checked (a fixed sleep was too short
    on a loaded machine, and the leecher's retry delay was measured as transfer time)."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seeding = threading.Event()

    def read_progress() -> None:  # read to the end: a full pipe would stall the seed
        for line in proc.stdout or ():
            if "Seeding" in line:
                seeding.set()

    threading.Thread(target=read_progress, daemon=True).start()
    if not seeding.wait(600):
        stop(proc)
        raise SystemExit("piecemeal-cli seed did not start seeding")
    return proc


def wait_port_file(path: Path, timeout: float = 600) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.1)
    raise SystemExit("the libtorrent seed did not start")


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_download(work: Path, torrent: Path, data: Path, size: int) -> list[Result]:
    results = bench_download_from(work, torrent, data, size, "")
    if WITH_RC4:
        results += bench_download_from(work, torrent, data, size, "rc4")
    return results


def bench_download_from(work: Path, torrent: Path, data: Path, size: int, encryption: str) -> list[Result]:
    """Download from a libtorrent seed with libtorrent, then with Piecemeal; `rc4`: the seed forces RC4."""
    portfile = work / f"seed{encryption}.port"
    seed = start_background([PY, "-m", "tests.bench.lt_client", "seed", str(torrent), str(data), "127.0.0.2",
                             str(portfile), *([encryption] if encryption else []), *LT_EXTRA])
    rc4 = ", RC4" if encryption else ""
    try:
        port = wait_port_file(portfile)
        results = []
        lt_out, pm_out = work / "lt-down", work / "pm-down"
        results.append(run_measured(f"download: libtorrent{rc4}", [
            PY, "-m", "tests.bench.lt_client", "leech", str(torrent), str(lt_out), "127.0.0.3", f"127.0.0.2:{port}",
            *([encryption] if encryption else []), *LT_EXTRA], size))
        shutil.rmtree(lt_out, ignore_errors=True)
        results.append(run_measured(f"download: piecemeal-cli{rc4}", [
            PY, "-m", "app.cli", "download", str(torrent), "-o", str(pm_out), "--bind", "127.0.0.4",
            "--port", "0", "--peer", f"127.0.0.2:{port}", "--no-dht", "--no-lsd", "--no-port-mapping",
            "--encryption", "require" if encryption else "allow", *PM_EXTRA], size))
        shutil.rmtree(pm_out, ignore_errors=True)
        if WITH_GUI and not encryption:
            gui_out = work / "gui-down"
            results.append(run_measured("download: piecemeal window", [
                PY, "-m", "tests.bench.gui_leech", str(torrent), str(gui_out), "127.0.0.6", f"127.0.0.2:{port}"], size))
            shutil.rmtree(gui_out, ignore_errors=True)
        return results
    finally:
        stop(seed)


def bench_seed(work: Path, torrent: Path, data: Path, size: int) -> list[Result]:
    results = []
    portfile = work / "lt-seed.port"
    lt_seed = start_background([PY, "-m", "tests.bench.lt_client", "seed", str(torrent), str(data), "127.0.0.2", str(portfile), *LT_EXTRA])
    try:
        port = wait_port_file(portfile)
        results.append(run_against_seed("seed: libtorrent -> libtorrent", [
            PY, "-m", "tests.bench.lt_client", "leech", str(torrent), str(work / "l1"), "127.0.0.3", f"127.0.0.2:{port}",
            *LEECH_EXTRA, *LT_EXTRA], size, lt_seed))
    finally:
        stop(lt_seed)
    shutil.rmtree(work / "l1", ignore_errors=True)
    profile = ["-m", "cProfile", "-o", SEED_PROFILE] if SEED_PROFILE else []
    pm_seed = start_seeding([PY, *profile, "-m", "app.cli", "seed", str(torrent), "--data", str(data), "--bind", "127.0.0.5", "--port", "47123", "--no-dht", "--no-lsd", "--no-port-mapping", *PM_EXTRA])
    try:
        results.append(run_against_seed("seed: piecemeal -> libtorrent", [
            PY, "-m", "tests.bench.lt_client", "leech", str(torrent), str(work / "l2"), "127.0.0.3", "127.0.0.5:47123",
            *LEECH_EXTRA, *LT_EXTRA], size, pm_seed))
    finally:
        stop(pm_seed)
    shutil.rmtree(work / "l2", ignore_errors=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--piece-kib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--skip-download", action="store_true")
    parser.add_argument("--plaintext-leecher", action="store_true",
                        help="seeding: libtorrent leechers never try encryption (MSE/PE)")
    parser.add_argument("--profile-seed", metavar="FILE", help="run `piecemeal-cli seed` under cProfile")
    parser.add_argument("--gui", action="store_true", help="also download through the window (qasync loop)")
    parser.add_argument("--encrypted", action="store_true",
                        help="also download from a libtorrent seed forcing RC4, with --encryption require")
    parser.add_argument("--utp", action="store_true", help="every peer over uTP only (BEP 29), no TCP")
    args = parser.parse_args()
    global WITH_GUI, WITH_RC4, SEED_PROFILE, ENV
    WITH_GUI = args.gui
    WITH_RC4 = args.encrypted
    SEED_PROFILE = args.profile_seed
    LEECH_EXTRA[:] = ["plaintext"] if args.plaintext_leecher else []
    LT_EXTRA[:] = ["utp"] if args.utp else []
    PM_EXTRA[:] = ["--transport", "utp"] if args.utp else []
    size = args.size_mib * 2**20
    with tempfile.TemporaryDirectory(prefix="piecemeal-bench-") as tmp:
        work = Path(tmp)
        ENV = compiled_env(work)
        random_tree(work / "data", {"payload.bin": size})
        torrent = work / "payload.torrent"
        torrent.write_bytes(make_torrent(work / "data" / "payload.bin", piece_size=args.piece_kib * 1024))
        transport = "uTP only" if args.utp else "TCP"
        print(f"payload {args.size_mib} MiB, pieces {args.piece_kib} KiB, {os.cpu_count()} cores, {transport}")
        for round_no in range(args.rounds):
            results = [] if args.skip_download else bench_download(work, torrent, work / "data", size)
            if not args.skip_seed:
                results += bench_seed(work, torrent, work / "data", size)
            print(f"round {round_no + 1}:")
            for result in results:
                print("  " + result.line())
            print_rc4_share(results)
    return 0


def print_rc4_share(results: list[Result]) -> None:
    """The encrypted download's speed as a share of the plaintext one (the target is 0.8 or more)."""
    speeds = {r.name: r.size / r.seconds for r in results}
    plain, rc4 = speeds.get("download: piecemeal-cli"), speeds.get("download: piecemeal-cli, RC4")
    if plain and rc4:
        print(f"  piecemeal-cli RC4 / plaintext download speed: {rc4 / plain:.2f}")


if __name__ == "__main__":
    sys.exit(main())
