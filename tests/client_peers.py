"""Real BitTorrent clients (aria2, rtorrent, Transmission, qBittorrent) as peers of Piecemeal
on loopback.

Each client runs as its own process in its own temp dir with its own config, bound to one
127.0.0.x address, DHT, LSD and PEX off (and no web UI or RPC beyond 127.0.0.1): it finds its
partner through the test's tracker only, or is dialed by Piecemeal (`dials_loopback`).
A `Client` says how to start it seeding or leeching and how to tell that it has finished;
`ClientRun` is one such process, ended by its PID when the test is done.

Encryption (MSE) is a parameter, `crypto`: "allowed" (a client may try it and fall back to
plain text, as aria2 does by default) or "required" (both sides insist on it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from app.engine.tracker.http_client import HttpTrackerClient
from tests.processes import free_port, log_tail, need_program, running

CRYPTO_MODES = ("allowed", "required")


@dataclass(frozen=True, slots=True)
class Role:
    """What the client is asked to do with one torrent."""

    torrent: Path | str  # the .torrent file, or a magnet link
    data: Path  # the folder its content is (seed) or goes (leech) in
    seed: bool
    host: str  # 127.0.0.x it binds to
    port: int  # its listen port
    folder: Path  # its own temp dir: config, session, logs
    crypto: str  # one of CRYPTO_MODES


class Client(Protocol):
    name: str
    dials_loopback: bool  # False: it never connects to 127/8 peers itself; Piecemeal must dial it

    def command(self, role: Role) -> list[str]: ...

    def finished(self, role: Role, process: subprocess.Popen[bytes]) -> bool:
        """Has the leecher got the whole torrent (by its own account)?"""
        ...


@dataclass(frozen=True, slots=True)
class ClientRun:
    client: Client
    role: Role
    process: subprocess.Popen[bytes]

    def log(self) -> str:
        return f"{self.client.name} said:\n" + log_tail(self.role.folder, self.client.name, 40)

    def check_alive(self) -> None:
        if self.process.poll() is not None and not self.client.finished(self.role, self.process):
            pytest.fail(f"{self.client.name} exited with status {self.process.returncode}\n{self.log()}")


@contextmanager
def client_running(client: Client, role: Role) -> Iterator[ClientRun]:
    role.folder.mkdir(parents=True, exist_ok=True)
    role.data.mkdir(parents=True, exist_ok=True)
    with running(client.command(role), cwd=role.folder, name=client.name) as process:
        yield ClientRun(client, role, process)


def make_role(tmp_path: Path, torrent: Path | str, data: Path, *, seed: bool, host: str, crypto: str) -> Role:
    folder = tmp_path / ("client-seed" if seed else "client-leech")
    return Role(torrent, data, seed, host, free_port(host), folder, crypto)


async def wait_finished(run: ClientRun, timeout: float, status: Callable[[], str]) -> None:
    """Waits for the client to finish its download; on timeout, fails with both sides' story."""
    for _ in range(int(timeout / 0.1)):
        if run.client.finished(run.role, run.process):
            return
        run.check_alive()
        await asyncio.sleep(0.1)
    pytest.fail(f"{run.client.name} did not finish in {timeout:.0f} s; Piecemeal: {status()}\n{run.log()}")


async def wait_announced(tracker_url: str, info_hash: str, run: ClientRun, timeout: float = 30) -> None:
    """Waits until the tracker counts the client: as a seed (nothing left) if it seeds."""
    tracker = HttpTrackerClient()
    try:
        for _ in range(int(timeout / 0.1)):
            entry = (await tracker.scrape(tracker_url, [bytes.fromhex(info_hash)])).get(bytes.fromhex(info_hash))
            if entry is not None and (entry.complete if run.role.seed else entry.incomplete) >= 1:
                return
            run.check_alive()
            await asyncio.sleep(0.1)
    finally:
        await tracker.close()
    what = "a seed" if run.role.seed else "a leecher"
    pytest.fail(f"{run.client.name} did not announce itself as {what} in {timeout:.0f} s\n{run.log()}")


class Aria2:
    """aria2c: exits 0 once a download is complete (seed time 0); seeds forever otherwise."""

    name = "aria2"
    dials_loopback = True

    def command(self, role: Role) -> list[str]:
        crypto = ["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"] if role.crypto == "required" else []
        return [
            need_program("aria2c"),
            f"--dir={role.data}",
            f"--interface={role.host}",  # every socket, trackers too
            f"--listen-port={role.port}",
            "--disable-ipv6=true",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--file-allocation=none",
            "--summary-interval=0",
            "--console-log-level=warn",
            f"--log={role.folder / 'aria2-debug.log'}",
            "--log-level=info",
            "--no-conf=true",
            *(["--check-integrity=true", "--seed-ratio=0.0"] if role.seed else ["--seed-time=0"]),
            *crypto,
            str(role.torrent),
        ]

    def finished(self, role: Role, process: subprocess.Popen[bytes]) -> bool:
        return not role.seed and process.poll() == 0


class RTorrent:
    """rtorrent 0.9 without a terminal (system.daemon); touches `finished` when a download is."""

    name = "rtorrent"
    dials_loopback = True

    def command(self, role: Role) -> list[str]:
        (role.folder / "session").mkdir(exist_ok=True)
        config = role.folder / "rtorrent.rc"
        config.write_text(self._config(role))
        return [need_program("rtorrent"), "-n", "-o", f"import={config}"]

    def finished(self, role: Role, process: subprocess.Popen[bytes]) -> bool:
        return not role.seed and (role.folder / "finished").exists()

    def _config(self, role: Role) -> str:
        crypto = "require,require_RC4,allow_incoming,try_outgoing" if role.crypto == "required" else (
            "allow_incoming,try_outgoing,enable_retry"
        )
        lines = [
            f"directory.default.set = {role.data}",
            f"session.path.set = {role.folder / 'session'}",
            f"network.bind_address.set = {role.host}",
            f"network.local_address.set = {role.host}",
            f"network.port_range.set = {role.port}-{role.port}",
            "network.port_random.set = no",
            "dht.mode.set = disable",
            "protocol.pex.set = no",
            "trackers.use_udp.set = no",
            f"protocol.encryption.set = {crypto}",
            "system.daemon.set = true",
            f'log.open_file = "debug", "{role.folder / "rtorrent-debug.log"}"',
            'log.add_output = "info", "debug"',
            f'method.set_key = event.download.finished, done, "execute.nothrow = touch, {role.folder / "finished"}"',
            f'load.start_verbose = "{role.torrent}"',
        ]
        return "\n".join(lines) + "\n"


class Transmission:
    """transmission-cli 3.00 with a settings.json of its own; runs `finished.sh` when done."""

    name = "transmission"
    dials_loopback = False  # Transmission 3.00 never dials 127/8 peers: Piecemeal dials it

    def command(self, role: Role) -> list[str]:
        config = role.folder / "config"
        config.mkdir(exist_ok=True)
        (config / "settings.json").write_text(json.dumps(self._settings(role), indent=1))
        script = role.folder / "finished.sh"
        script.write_text(f"#!/bin/sh\ntouch '{role.folder / 'finished'}'\n")
        script.chmod(0o755)
        encryption = "--encryption-required" if role.crypto == "required" else "--encryption-preferred"
        return [
            need_program("transmission-cli"), "--config-dir", str(config), "--port", str(role.port),
            "--download-dir", str(role.data), "--no-portmap", "--no-blocklist", encryption,
            "--finish", str(script), str(role.torrent),
        ]

    def finished(self, role: Role, process: subprocess.Popen[bytes]) -> bool:
        return not role.seed and (role.folder / "finished").exists()

    def _settings(self, role: Role) -> dict[str, object]:
        return {
            "bind-address-ipv4": role.host,
            "bind-address-ipv6": "::1",
            "peer-port": role.port,
            "peer-port-random-on-start": False,
            "dht-enabled": False,
            "lpd-enabled": False,
            "pex-enabled": False,
            "utp-enabled": False,
            "port-forwarding-enabled": False,
            "rename-partial-files": False,
            "incomplete-dir-enabled": False,
            "ratio-limit-enabled": False,
            "idle-seeding-limit-enabled": False,
            "download-dir": str(role.data),
            "rpc-enabled": False,  # else it listens on port 9091 of every interface
        }


class QBittorrent:
    """qbittorrent-nox 4.5 (libtorrent-rasterbar inside) in a profile of its own; its web UI is
    on 127.0.0.1 only; "run a program when a torrent finishes" touches `finished`."""

    name = "qbittorrent"
    dials_loopback = True

    def command(self, role: Role) -> list[str]:
        config = role.folder / "profile" / "qBittorrent" / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "qBittorrent.conf").write_text(self._config(role))
        return [
            need_program("qbittorrent-nox"), f"--profile={role.folder / 'profile'}",
            f"--webui-port={free_port()}", f"--torrenting-port={role.port}",
            f"--save-path={role.data}", "--skip-dialog=true", "--add-paused=false", str(role.torrent),
        ]

    def finished(self, role: Role, process: subprocess.Popen[bytes]) -> bool:
        return not role.seed and (role.folder / "finished").exists()

    def _config(self, role: Role) -> str:
        encryption = 1 if role.crypto == "required" else 0  # 0: prefer, 1: require, 2: off
        return "\n".join([
            "[LegalNotice]", "Accepted=true", "",
            "[AutoRun]", "enabled=true", f"program=touch {role.folder / 'finished'}", "",
            "[BitTorrent]",
            f"Session\\InterfaceAddress={role.host}",
            f"Session\\Port={role.port}",
            "Session\\DHTEnabled=false",
            "Session\\LSDEnabled=false",
            "Session\\PeXEnabled=false",
            "Session\\BTProtocol=TCP",
            f"Session\\Encryption={encryption}",
            "Session\\QueueingSystemEnabled=false",
            "Session\\GlobalMaxRatio=-1",
            "",
            "[Preferences]",
            "WebUI\\Address=127.0.0.1",
            "WebUI\\LocalHostAuth=false",
            "Connection\\UPnP=false",
            "Connection\\ResolvePeerCountries=false",  # else it downloads a GeoIP database
            "",
        ])


CLIENTS: dict[str, Client] = {
    "aria2": Aria2(), "rtorrent": RTorrent(), "transmission": Transmission(), "qbittorrent": QBittorrent(),
}
