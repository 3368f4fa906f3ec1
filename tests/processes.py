"""Other programs as test partners (opentracker, aria2c, rtorrent ...): started in their own
temp dir with their output in a log file, waited on with a deadline, ended by their PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL


def need_program(name: str) -> str:
    """The program's path; the test fails (not skips) without it: scripts/bootstrap installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/bootstrap (it installs the apt packages)")
    return path


def lacking(capability: str, reason: str) -> NoReturn:
    """This machine cannot give the test what it needs: the test fails and says so, since a
    skipped test would hide the requirement. It is skipped only when whoever runs the suite
    says they know, with PIECEMEAL_NO_<CAPABILITY>=1 (e.g. PIECEMEAL_NO_NETNS=1)."""
    opt_out = f"PIECEMEAL_NO_{capability.upper()}"
    if os.environ.get(opt_out) == "1":
        pytest.skip(f"{reason} ({opt_out}=1)")
    pytest.fail(f"{reason}. Run the tests where this works (CI runs them as root), "
                f"or set {opt_out}=1 to skip these tests knowingly")


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port free on `host` for both TCP and UDP right now (programs that take no port 0)."""
    while True:
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, other) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port


@contextmanager
def running(args: Sequence[str], *, cwd: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `args` in `cwd`, output to cwd/name.log; on exit ends that PID (TERM, then KILL)."""
    log = open(cwd / f"{name}.log", "wb")
    process = subprocess.Popen(list(args), cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        yield process
    finally:
        _stop(process)
        log.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def log_tail(cwd: Path, name: str, lines: int = 20) -> str:
    path = cwd / f"{name}.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(check: Callable[[], bool], timeout: float, failure: Callable[[], str]) -> None:
    """Polls `check` until it is true; after `timeout` seconds fails with `failure()`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(0.05)


def accepts_tcp(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True
