"""piecemeal-daemon as a real subprocess on loopback for the RPC tests: started with its own
profile, found by the address it logs, driven with transmission-remote or raw HTTP, stopped by PID."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import need_program

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
_RPC_LINE = re.compile(r"peers on port (\d+); RPC on (https?)://([^/]+):(\d+)/transmission/rpc")


@dataclass
class DaemonProcess:
    process: subprocess.Popen[bytes]
    profile: Path
    peer_port: int
    port: int
    tls: bool

    def remote(self, *args: str, auth: str | None = None, check: bool = True) -> str:
        """Run transmission-remote against the daemon; its stdout (a failure shows its stderr)."""
        command = [need_program("transmission-remote"), f"127.0.0.1:{self.port}", *(["--auth", auth] if auth else []), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if check:
            assert done.returncode == 0, f"{' '.join(command)} failed: {done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    def connection(self, context: ssl.SSLContext | None = None) -> http.client.HTTPConnection:
        if self.tls:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the exit status."""
        os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout)

    def log(self) -> str:
        return (self.profile / "daemon.log").read_text(encoding="utf-8")


def daemon_command(profile: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "app.daemon", "--profile", str(profile), "--rpc-port", "0", "--port", "0",
            "--bind", "127.0.0.1", "--no-dht", "--no-lsd", "--no-port-mapping", "--download-dir", str(profile / "downloads"), *extra]


def daemon_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


@contextmanager
def running_daemon(profile: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[DaemonProcess]:
    stderr = open(profile.parent / f"{profile.name}-stderr.txt", "wb")
    log = profile / "daemon.log"
    offset = log.stat().st_size if log.exists() else 0  # a restarted daemon appends to its log
    process = subprocess.Popen(daemon_command(profile, *extra), stdout=subprocess.DEVNULL, stderr=stderr,
                               env=daemon_env(**(env or {})), cwd=ROOT)
    try:
        yield _started(process, profile, offset)
    finally:
        if process.poll() is None:
            process.kill()  # by its PID: only the process this test started
            process.wait(30)
        stderr.close()


def _started(process: subprocess.Popen[bytes], profile: Path, offset: int) -> DaemonProcess:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    log = profile / "daemon.log"
    while time.monotonic() < deadline:
        match = _RPC_LINE.search(log.read_bytes()[offset:].decode("utf-8", "replace")) if log.exists() else None
        if match:
            return DaemonProcess(process, profile, int(match[1]), int(match[4]), match[2] == "https")
        if process.poll() is not None:
            raise AssertionError(f"the daemon exited with {process.returncode}: "
                                 f"{(profile.parent / f'{profile.name}-stderr.txt').read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"the daemon did not start within {STARTUP_TIMEOUT} s")


def post(
    connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection.request("POST", "/transmission/rpc", body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def rpc(daemon: DaemonProcess, method: str, headers: dict[str, str] | None = None, **arguments: Any) -> dict[str, Any]:
    """One request with the session-id handshake done first (RPC spec 2.3.1)."""
    connection = daemon.connection()
    try:
        body = json.dumps({"method": method, "arguments": arguments}).encode()
        status, answer_headers, _ = post(connection, body, headers)
        assert status == 409, status
        session = {"X-Transmission-Session-Id": answer_headers["X-Transmission-Session-Id"]}
        status, _, data = post(connection, body, {**(headers or {}), **session})
        assert status == 200, (status, data)
        return json.loads(data)
    finally:
        connection.close()
