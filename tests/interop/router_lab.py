"""A home network in two network namespaces, for the port mapping tests: a router running
miniupnpd (UPnP IGD, NAT-PMP and PCP) and a computer behind it. No packet leaves them.

    router ns: pmXr 10.77.0.1/24 (the LAN side)   pmXe 11.0.0.1/24 (the "internet" side)
    client ns: pmXc 10.77.0.2/24, default route via 10.77.0.1

miniupnpd insists on a public address outside, so the outside is 11.0.0.1 inside the
namespace (no packet goes anywhere near the real 11.0.0.0/8). Its nftables backend needs
the tables its Debian scripts make (nft_init.sh); the lab makes them with nft. It keeps its
list of mappings in a lease file, which the tests read.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.processes import lacking, need_program, wait_until

ROOT = Path(__file__).resolve().parents[2]
ROUTER_LAN, CLIENT_LAN, OUTSIDE = "10.77.0.1", "10.77.0.2", "11.0.0.1"
STEP_TIMEOUT = 30.0

NFT_TABLES = """
table inet filter {
  chain miniupnpd {
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
  chain forward {
    type filter hook forward priority 0; policy accept;
    jump miniupnpd
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
}
"""

MINIUPNPD_CONF = """
ext_ifname={ext}
listening_ip={lan}
port=0
enable_natpmp=yes
enable_upnp=yes
secure_mode={secure}
system_uptime=no
min_lifetime=2
lease_file={leases}
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 10.77.0.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""

PCP_ELSEWHERE = 5352  # where the lab's nftables rules send PCP (version 2) datagrams, see refuse_pcp
# Our client asks PCP and NAT-PMP from one socket: one flow to conntrack. Its PCP datagrams get
# their own conntrack zone, so the redirect made for them is not applied to NAT-PMP's, and the
# refuser's answers, in that zone too, go out from port 5351 as the client expects.
NATPMP_ONLY_RULES = f"""
table ip natpmp_only {{
  chain zone_in {{
    type filter hook prerouting priority raw; policy accept;
    udp dport 5351 @th,64,8 2 ct zone set 2
  }}
  chain zone_out {{
    type filter hook output priority raw; policy accept;
    udp sport {PCP_ELSEWHERE} ct zone set 2
  }}
  chain pcp_elsewhere {{
    type nat hook prerouting priority dstnat - 50; policy accept;
    udp dport 5351 @th,64,8 2 redirect to :{PCP_ELSEWHERE}
  }}
}}
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@dataclass
class Lab:
    folder: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    router_process: subprocess.Popen[bytes] | None = None
    pcp_refuser: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def router_ns(self) -> str:
        return f"pm-{self.tag}-r"

    @property
    def client_ns(self) -> str:
        return f"pm-{self.tag}-c"

    @property
    def leases(self) -> Path:
        return self.folder / "leases"

    def build(self) -> None:
        """The client namespace, the cables, the addresses (the router's namespace exists)."""
        r, c, t = self.router_ns, self.client_ns, self.tag
        _ip("netns", "add", c)
        _ip("link", "add", f"pm{t}r", "type", "veth", "peer", "name", f"pm{t}c")
        _ip("link", "set", f"pm{t}r", "netns", r)
        _ip("link", "set", f"pm{t}c", "netns", c)
        _ip("-n", r, "link", "add", f"pm{t}e", "type", "veth", "peer", "name", f"pm{t}f")
        for ns, device, address in ((r, f"pm{t}r", f"{ROUTER_LAN}/24"), (c, f"pm{t}c", f"{CLIENT_LAN}/24"),
                                    (r, f"pm{t}e", f"{OUTSIDE}/24")):
            _ip("-n", ns, "addr", "add", address, "dev", device)
        for ns, device in ((r, "lo"), (c, "lo"), (r, f"pm{t}r"), (c, f"pm{t}c"), (r, f"pm{t}e"), (r, f"pm{t}f")):
            _ip("-n", ns, "link", "set", device, "up")
        _ip("-n", r, "route", "add", "default", "via", "11.0.0.254")
        _ip("-n", c, "route", "add", "default", "via", ROUTER_LAN)

    def start_router(self, *, secure: bool = True) -> None:
        """miniupnpd with an empty list of mappings (as after a power cut). Not `secure`, it
        lets one computer map ports to another (so that a test can take a port first)."""
        self.leases.unlink(missing_ok=True)
        subprocess.run(["ip", "netns", "exec", self.router_ns, need_program("nft"), "flush", "ruleset"],
                       check=True, capture_output=True, timeout=10)
        (self.folder / "tables.nft").write_text(NFT_TABLES)
        subprocess.run(["ip", "netns", "exec", self.router_ns, "nft", "-f", str(self.folder / "tables.nft")],
                       check=True, capture_output=True, timeout=10)
        conf = self.folder / "miniupnpd.conf"
        conf.write_text(MINIUPNPD_CONF.format(ext=f"pm{self.tag}e", lan=f"pm{self.tag}r", leases=self.leases,
                                             secure="yes" if secure else "no"))
        self.starts += 1
        log = open(self.folder / f"miniupnpd-{self.starts}.log", "wb")
        # `ip netns exec` execs miniupnpd: the PID is miniupnpd's
        self.router_process = subprocess.Popen(
            ["ip", "netns", "exec", self.router_ns, need_program("miniupnpd"), "-d", "-f", str(conf),
             "-P", str(self.folder / "miniupnpd.pid")], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.wait_for(lambda: "Listening for NAT-PMP/PCP" in self.router_log(), "miniupnpd to start")

    def refuse_pcp(self) -> None:
        """Make the router one that speaks only NAT-PMP (RFC 6886), as before PCP: miniupnpd
        answers both versions, so PCP requests are turned away before they reach it, with the
        "unsupported version" answer such a router gives (tests/interop/natpmp_only.py)."""
        heard = self.folder / "pcp-refused.log"
        with open(self.folder / "natpmp_only.err", "wb") as errors:
            self.pcp_refuser = subprocess.Popen(
                ["ip", "netns", "exec", self.router_ns, "env", f"PYTHONPATH={ROOT}", sys.executable,
                 "-m", "tests.interop.natpmp_only", str(PCP_ELSEWHERE), str(heard)],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
        self.wait_for(lambda: heard.exists() and "listening" in heard.read_text(), "the PCP refuser to listen")
        (self.folder / "natpmp_only.nft").write_text(NATPMP_ONLY_RULES)
        subprocess.run(["ip", "netns", "exec", self.router_ns, "nft", "-f", str(self.folder / "natpmp_only.nft")],
                       check=True, capture_output=True, timeout=10)

    def pcp_refused(self) -> list[str]:
        """What the PCP refuser turned away: one "version V from ADDRESS" a datagram."""
        heard = self.folder / "pcp-refused.log"
        return heard.read_text().splitlines()[1:] if heard.exists() else []

    def take_port(self, port: int, holder: str) -> None:
        """Map `port` (TCP and UDP) to another computer, `holder`, through UPnP."""
        script = ("import miniupnpc, sys; u = miniupnpc.UPnP(); u.discoverdelay = 1000; u.discover(); u.selectigd(); "
                  f"[u.addportmapping({port}, p, '{holder}', {port}, 'other', '', 3600) for p in ('TCP', 'UDP')]")
        subprocess.run(["ip", "netns", "exec", self.client_ns, sys.executable, "-c", script],
                       check=True, capture_output=True, timeout=30)

    def kill_router(self) -> None:
        process, self.router_process = self.router_process, None
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)  # a power cut: no goodbye
            process.wait(10)

    def router_log(self) -> str:
        path = self.folder / f"miniupnpd-{self.starts}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def mappings(self) -> dict[tuple[str, int], tuple[str, int, int]]:
        """miniupnpd's own list: (protocol, external port) -> (client, internal port, expiry)."""
        text = self.leases.read_text() if self.leases.exists() else ""
        found = {}
        for line in text.splitlines():
            protocol, external, client, internal, expires = line.split(":")[:5]
            found[(protocol, int(external))] = (client, int(internal), int(expires))
        return found

    def wait_for(self, check: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT) -> None:
        wait_until(check, timeout, lambda: f"waited {timeout:.0f} s for {what}; leases {self.mappings()}\n"
                                           f"miniupnpd log:\n{self.router_log()[-3000:]}")

    def destroy(self) -> None:
        self.kill_router()
        if self.pcp_refuser is not None and self.pcp_refuser.poll() is None:
            os.kill(self.pcp_refuser.pid, signal.SIGKILL)  # `ip netns exec` execs python: its PID
            self.pcp_refuser.wait(10)
        for ns in (self.router_ns, self.client_ns):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)


class Probe:
    """tests/engine/portmap/portmap_probe.py in the client namespace; its JSON lines in a queue."""

    def __init__(self, lab: Lab, *args: str) -> None:
        self.lab = lab
        command = ["ip", "netns", "exec", lab.client_ns, "env", f"PYTHONPATH={ROOT}", sys.executable,
                   "-m", "tests.engine.portmap.portmap_probe", *args]
        self.process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=open(lab.folder / "probe.log", "ab"), text=True)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def until(self, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                log = (self.lab.folder / "probe.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"waited {timeout:.0f} s for {what}; the service said {self.seen}\n{log}\n"
                            f"miniupnpd log:\n{self.lab.router_log()[-3000:]}")
            self.seen.append(line)
            if check(line):
                return line

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def close(self) -> dict[str, Any]:
        """Tell the service to close (it removes the mappings); its last line."""
        self.send("")
        return self.until(lambda line: line.get("closed", False), "the service to close")

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


@contextmanager
def home_network(folder: Path) -> Iterator[Lab]:
    if os.geteuid() != 0:
        lacking("netns", "Port mapping against a real router needs network namespaces, which need root "
                         "(ip netns add); these tests run as a normal user")
    need_program("ip")
    lab = Lab(folder)
    try:
        _ip("netns", "add", lab.router_ns)
    except subprocess.CalledProcessError as exc:
        lacking("netns", f"This machine refuses network namespaces: {exc.stderr.decode(errors='replace').strip()}")
    try:
        lab.build()
        yield lab
    finally:
        lab.destroy()


@contextmanager
def probe(lab: Lab, *args: str) -> Iterator[Probe]:
    running = Probe(lab, *args)
    try:
        yield running
    finally:
        running.end()
