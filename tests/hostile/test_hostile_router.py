"""A router that answers SSDP and NAT-PMP/PCP with garbage, huge datagrams, wrong opcodes or a
broken device description: the service says in plain words that there is no mapping, does not
hang, and closes. Inside network namespaces the test makes (tests/interop/router_lab.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.interop.router_lab import ROOT, ROUTER_LAN, Lab, home_network, probe


@pytest.fixture
def lab(tmp_path: Path):
    with home_network(tmp_path) as network:
        yield network


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["garbage", "huge", "bad-description"])
def test_a_hostile_router_gets_no_belief_and_the_status_says_so(lab: Lab, mode: str) -> None:
    router = subprocess.Popen(
        ["ip", "netns", "exec", lab.router_ns, "env", f"PYTHONPATH={ROOT}", sys.executable, "-m",
         "tests.hostile.hostile_router", "--mode", mode, "--lan", ROUTER_LAN],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert router.stdout is not None and router.stdout.readline().strip() == "ready"
        with probe(lab, "--port", "40000", "--attempts", "4", "--discovery-ms", "1000",
                   "--retry-after", "600") as service:
            line = service.until(lambda line: line.get("state") == "failed", "the service to give up")
            assert line["summary"].startswith("No port mapping: "), line
            assert all(entry.get("state") != "mapped" for entry in service.seen)
            assert service.close() == {"closed": True}
        assert "Traceback" not in (lab.folder / "probe.log").read_text()
    finally:
        router.kill()
        router.wait(10)
