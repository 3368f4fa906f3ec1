"""Port mapping against a real router: Debian's miniupnpd (UPnP IGD, PCP, NAT-PMP) in a network
namespace the test makes, our service in another one behind it. Nothing leaves the namespaces.
miniupnpd answers both PCP and NAT-PMP; for a router that speaks only NAT-PMP the lab turns PCP
away before it reaches miniupnpd (Lab.refuse_pcp).

The service runs in a subprocess (tests/engine/portmap/portmap_probe.py) inside the client
namespace; miniupnpd's lease file is its list of mappings.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.interop.router_lab import CLIENT_LAN, OUTSIDE, ROOT, ROUTER_LAN, Lab, home_network, probe

PORT = 40000
METHODS = {"upnp": "UPnP", "pmp": "PCP"}  # miniupnpd speaks PCP, so PCP is what we get
# What miniupnpd logs when a client asks it to remove a mapping; an expiry logs
# "remove port mapping ... because it has expired" instead.
REMOVED_ON_REQUEST = {"upnp": "DeletePortMapping: external port: {port}, protocol: {protocol}",
                      "pmp": "PCP: {protocol} port {port} mapping removed"}


def _mapped(line: dict[str, object]) -> bool:
    return line.get("state") == "mapped" and len(line["mappings"]) == 2  # type: ignore[arg-type]


def _both_listed(lab: Lab) -> bool:
    return set(lab.mappings()) == {("TCP", PORT), ("UDP", PORT)}


@pytest.fixture
def lab(tmp_path: Path):
    with home_network(tmp_path) as network:
        yield network


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", list(METHODS))
def test_the_mapping_appears_is_renewed_and_is_removed_on_exit(lab: Lab, method: str) -> None:
    lab.start_router()
    with probe(lab, "--port", str(PORT), "--lifetime", "4", "--method", method) as service:
        line = service.until(_mapped, "both ports mapped")
        assert line["summary"] == f"Port {PORT} open through {METHODS[method]} ({OUTSIDE})"
        assert {(m["transport"], m["external_port"]) for m in line["mappings"]} == {("TCP", PORT), ("UDP", PORT)}
        lab.wait_for(lambda: _both_listed(lab), "miniupnpd to list both mappings")
        assert lab.mappings()[("TCP", PORT)][:2] == (CLIENT_LAN, PORT)
        first_expiry = lab.mappings()[("TCP", PORT)][2]
        lab.wait_for(lambda: lab.mappings().get(("TCP", PORT), ("", 0, 0))[2] > first_expiry + 2,
                     "the lease to be renewed")
        logged_before_close = len(lab.router_log())
        service.close()
    asked = [REMOVED_ON_REQUEST[method].format(port=PORT, protocol=protocol) for protocol in ("TCP", "UDP")]
    lab.wait_for(lambda: all(line in lab.router_log()[logged_before_close:] for line in asked),
                 "miniupnpd to be asked to remove both mappings (not to let them expire)")
    lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")  # PCP deletes are datagrams


@pytest.mark.timeout(120)
def test_a_router_that_speaks_only_natpmp_is_asked_in_version_0_and_the_mapping_removed_on_exit(lab: Lab) -> None:
    """RFC 6886 alone, as routers made before PCP speak it: our PCP request is answered
    "unsupported version" (RFC 6887 9), and from then on miniupnpd hears NAT-PMP version 0 only."""
    lab.start_router()
    lab.refuse_pcp()
    with probe(lab, "--port", str(PORT), "--lifetime", "4", "--method", "pmp") as service:
        # RFC 6886 3.2: the external address comes in its own answer, maybe after the mappings'
        line = service.until(lambda line: _mapped(line) and line["address"] == OUTSIDE,
                             "both ports mapped and the router's external address")
        assert line["summary"] == f"Port {PORT} open through NAT-PMP ({OUTSIDE})"
        assert lab.pcp_refused() and all(heard.startswith("version 2 ") for heard in lab.pcp_refused())
        lab.wait_for(lambda: _both_listed(lab), "miniupnpd to list both mappings")
        assert lab.mappings()[("TCP", PORT)][:2] == lab.mappings()[("UDP", PORT)][:2] == (CLIENT_LAN, PORT)
        first_expiry = lab.mappings()[("TCP", PORT)][2]
        lab.wait_for(lambda: lab.mappings().get(("TCP", PORT), ("", 0, 0))[2] > first_expiry + 2,
                     "the lease to be renewed")
        refused = len(lab.pcp_refused())
        logged_before_close = len(lab.router_log())
        service.close()
    asked = [f"NAT-PMP {protocol} port {PORT} mapping removed" for protocol in ("TCP", "UDP")]
    lab.wait_for(lambda: all(line in lab.router_log()[logged_before_close:] for line in asked),
                 "miniupnpd to be asked with NAT-PMP to remove both mappings")
    lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")
    assert f"NAT-PMP port mapping request : {PORT}->{CLIENT_LAN}:{PORT} tcp" in lab.router_log()
    assert "PCP request received" not in lab.router_log(), "no PCP request reached miniupnpd"
    assert len(lab.pcp_refused()) == refused, "after the refusal, renewals and deletes spoke NAT-PMP only"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", list(METHODS))
def test_a_router_that_restarted_gets_the_mappings_again(lab: Lab, method: str) -> None:
    lab.start_router()
    with probe(lab, "--port", str(PORT), "--lifetime", "4", "--method", method) as service:
        service.until(_mapped, "both ports mapped")
        lab.wait_for(lambda: _both_listed(lab), "miniupnpd to list both mappings")
        lab.kill_router()
        lab.start_router()  # an empty list, a new epoch, a new control URL
        lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")
        lab.wait_for(lambda: _both_listed(lab), "the service to map the ports again")
        service.close()
    lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")


@pytest.mark.timeout(120)
def test_a_restarted_router_announces_itself_and_gets_the_mappings_back_long_before_the_renewal(lab: Lab) -> None:
    """miniupnpd multicasts a PCP ANNOUNCE to 224.0.0.1:5350 when it starts (RFC 6887 14.1.1):
    with an hour's lifetime the renewal is half an hour away, so only the announcement remaps."""
    lab.start_router()
    with probe(lab, "--port", str(PORT), "--lifetime", "3600", "--method", "pmp") as service:
        service.until(_mapped, "both ports mapped")
        lab.wait_for(lambda: _both_listed(lab), "miniupnpd to list both mappings")
        time.sleep(4)  # setup, not a measure: the router's epoch must run past our 2 s of slack
        lab.kill_router()
        lab.start_router()  # an empty list and a new epoch, announced
        lab.wait_for(lambda: _both_listed(lab), "the service to map the ports again after the announcement")
        service.close()
    lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("absent, attempts", [
    ("daemon", "9"),  # the gateway answers "port unreachable": no need to wait out the 2-minute schedule
    ("gateway", "3"),  # nobody at the gateway's address: the retransmission schedule runs out
])
def test_no_router_gives_a_plain_status_and_the_service_still_closes(lab: Lab, absent: str, attempts: str) -> None:
    if absent == "gateway":
        subprocess.run(["ip", "-n", lab.router_ns, "addr", "del", f"{ROUTER_LAN}/24", "dev", f"pm{lab.tag}r"],
                       check=True, capture_output=True, timeout=10)
    with probe(lab, "--port", str(PORT), "--attempts", attempts, "--discovery-ms", "500",
               "--retry-after", "600") as service:
        line = service.until(lambda line: line.get("state") == "failed", "the service to give up")
        assert line["summary"] == "No port mapping: the router did not answer"
        assert service.close() == {"closed": True}


@pytest.mark.timeout(120)
def test_the_cli_says_the_port_is_open_and_removes_it_when_stopped(lab: Lab) -> None:
    """The whole way: a Session in piecemeal-cli seeds, maps its port, unmaps it on Ctrl-C."""
    lab.start_router()
    data = lab.folder / "shared.bin"
    data.write_bytes(os.urandom(40_000))
    torrent = lab.folder / "shared.torrent"
    subprocess.run([sys.executable, "-m", "app.cli", "create", str(data), "-o", str(torrent)],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)
    stderr = lab.folder / "cli.err"
    with open(stderr, "wb") as err:
        cli = subprocess.Popen(
            ["ip", "netns", "exec", lab.client_ns, "env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "app.cli",
             "seed", str(torrent), "--data", str(lab.folder), "--port", str(PORT), "--no-dht", "--no-lsd"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        lab.wait_for(lambda: "open through" in stderr.read_text(), "the CLI to say the port is open")
        assert f"piecemeal-cli: Port {PORT} open through" in stderr.read_text()
        lab.wait_for(lambda: ("TCP", PORT) in lab.mappings(), "miniupnpd to list the mapping")
        os.kill(cli.pid, signal.SIGINT)
        assert cli.wait(30) == 0, stderr.read_text()
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
    lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")


@pytest.mark.timeout(120)
def test_a_session_maps_both_ways_at_once_moves_the_mapping_with_its_port_and_unmaps_on_close(lab: Lab) -> None:
    lab.start_router()
    with probe(lab, "--session", "--port", str(PORT), "--lifetime", "60") as session:
        line = session.until(_mapped, "the session's ports mapped")
        assert line["summary"].startswith(f"Port {PORT} open through ")
        lab.wait_for(lambda: _both_listed(lab), "miniupnpd to list both mappings")
        session.send(f"port {PORT + 1}")
        lab.wait_for(lambda: set(lab.mappings()) == {("TCP", PORT + 1), ("UDP", PORT + 1)},
                     "the mappings to follow the new listen port")
        session.until(lambda line: line.get("summary", "").startswith(f"Port {PORT + 1} open"), "the new status")
        session.close()
    lab.wait_for(lambda: lab.mappings() == {}, "the mappings to be removed")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("method", list(METHODS))
def test_a_port_another_computer_holds_gets_us_another_one(lab: Lab, method: str) -> None:
    lab.start_router(secure=False)
    lab.take_port(PORT, "10.77.0.9")
    with probe(lab, "--port", str(PORT), "--method", method) as service:
        line = service.until(_mapped, "both ports mapped")
        ours = {(m["transport"], m["external_port"]) for m in line["mappings"]}
        assert all(external != PORT for _, external in ours), line
        assert line["summary"].startswith("Port ") and f"Port {PORT} " not in line["summary"]
        listed = lab.mappings()
        assert all(listed[key][:2] == (CLIENT_LAN, PORT) for key in ours), listed
        assert listed[("TCP", PORT)][0] == "10.77.0.9"  # the other computer keeps its port
        service.close()
    lab.wait_for(lambda: set(lab.mappings()) == {("TCP", PORT), ("UDP", PORT)}, "only the other's mappings to stay")
