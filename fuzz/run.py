"""The long fuzz run: `python -m fuzz.run --target bencode --seconds 600`.

Engines: atheris (coverage-guided libFuzzer, `pip install atheris`) when it is installed,
else hypothesis with a large budget; `--engine` picks one. `--target all` runs every
target one after the other, each in its own process (libFuzzer owns the process it runs
in). A finding stops the target: atheris writes the input to `--artifacts`, hypothesis
prints the shrunk input. Each target reports how many inputs it ran.

Limits: an input may take at most `--timeout` seconds (no hang) and the process at most
`--rss-mb` MiB of memory (no unbounded allocation from a length field).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

TARGET_NAMES = ("bencode", "metainfo", "magnet", "wire", "http_tracker", "udp_tracker", "extension", "krpc",
                "rpc_request", "portmap", "pmp_announce", "utp")
_INSTRUMENTED = ["app.engine", "app.rpc", "bencodepy", "fuzz.targets"]
_ATHERIS_RUNS = re.compile(rb"Done (\d+) runs in (\d+) second")
_HYPOTHESIS_RUNS = re.compile(rb"^fuzz: (\S+) ran (\d+) inputs", re.MULTILINE)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.target == "all":
        return _run_all(args)
    if args.engine == "atheris":
        return _run_atheris(args)
    return _run_hypothesis(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=(*TARGET_NAMES, "all"), required=True)
    parser.add_argument("--seconds", type=int, default=600, help="time per target")
    parser.add_argument("--engine", choices=("atheris", "hypothesis"), default=_default_engine())
    parser.add_argument("--corpus", type=Path, default=Path(".fuzz/corpus"), help="kept between runs")
    parser.add_argument("--artifacts", type=Path, default=Path(".fuzz/artifacts"), help="inputs that failed")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory the process may use")
    return parser


def _default_engine() -> str:
    return "atheris" if importlib.util.find_spec("atheris") is not None else "hypothesis"


def _run_all(args: argparse.Namespace) -> int:
    """Each target in a child process; a table of inputs run at the end."""
    failed = 0
    rows = []
    for name in TARGET_NAMES:
        command = [sys.executable, "-m", "fuzz.run", "--target", name, *_shared_options(args)]
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True)
        sys.stderr.buffer.write(result.stderr[-4000:])
        failed += result.returncode != 0
        runs = _inputs_run(result.stdout + result.stderr)
        status = "ok" if result.returncode == 0 else "FINDING"
        rows.append(f"{name:<14}{runs:>12}{time.monotonic() - started:>10.0f} s  {status}")
    print(f"{'target':<14}{'inputs':>12}{'time':>12}  ({args.engine})", *rows, sep="\n")
    return 1 if failed else 0


def _shared_options(args: argparse.Namespace) -> list[str]:
    return [
        f"--seconds={args.seconds}", f"--engine={args.engine}", f"--corpus={args.corpus}",
        f"--artifacts={args.artifacts}", f"--timeout={args.timeout}", f"--rss-mb={args.rss_mb}",
    ]


def _inputs_run(output: bytes) -> str:
    found = _ATHERIS_RUNS.search(output) or _HYPOTHESIS_RUNS.search(output)
    if found is None:
        return "?"
    return found.group(2).decode() if found.re is _HYPOTHESIS_RUNS else found.group(1).decode()


def _run_atheris(args: argparse.Namespace) -> int:
    import atheris

    with atheris.instrument_imports(include=_INSTRUMENTED):
        from fuzz.seeds import SEEDS
        from fuzz.targets import TARGETS
    corpus = _seeded_corpus(args.corpus / args.target, SEEDS[args.target])
    args.artifacts.mkdir(parents=True, exist_ok=True)
    options = [
        f"-max_total_time={args.seconds}",
        f"-timeout={args.timeout}",
        f"-rss_limit_mb={args.rss_mb}",
        f"-artifact_prefix={args.artifacts}/{args.target}-",
        "-max_len=65536",
        "-print_final_stats=1",
    ]
    atheris.Setup([sys.argv[0], *options, str(corpus)], TARGETS[args.target])
    atheris.Fuzz()  # libFuzzer exits the process when the time is up or on a finding
    return 0


def _seeded_corpus(folder: Path, seeds: list[bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, seed in enumerate(seeds):
        (folder / f"seed-{number}").write_bytes(seed)
    return folder


def _run_hypothesis(args: argparse.Namespace) -> int:
    """Batches of hypothesis examples until the time is up; the first failure ends the run."""
    import resource

    from hypothesis import HealthCheck, given, settings

    from fuzz.seeds import SEEDS
    from fuzz.strategies import fuzz_input
    from fuzz.targets import TARGETS

    limit = args.rss_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    target = TARGETS[args.target]
    runs = 0

    @settings(max_examples=2000, deadline=args.timeout * 1000, database=None,
              suppress_health_check=list(HealthCheck))
    @given(fuzz_input(SEEDS[args.target], max_size=16384))
    def batch(data: bytes) -> None:
        nonlocal runs
        runs += 1
        target(data)

    stop = time.monotonic() + args.seconds
    try:
        while time.monotonic() < stop:
            batch()
    finally:
        print(f"fuzz: {args.target} ran {runs} inputs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
