"""The daemon in the packages: the bundle's launcher runs it by name, the .deb installs
`piecemeal-daemon` and a systemd user unit for it, and enables nothing."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from tests.packaging.recipes import PACKAGING
from tests.processes import need_program

UNIT = PACKAGING / "linux" / "piecemeal-daemon.service"
ROOT = PACKAGING.parent


def test_the_unit_runs_the_daemon_and_stops_it_with_sigterm() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(UNIT, encoding="utf-8")
    service = unit["Service"]
    assert service["ExecStart"] == "/usr/bin/piecemeal-daemon"
    assert service["KillSignal"] == "SIGTERM"
    assert service["RestartPreventExitStatus"] == "2"
    assert unit["Install"]["WantedBy"] == "default.target"


def test_the_launcher_runs_the_daemon_when_called_by_its_name(tmp_path: Path) -> None:
    link = tmp_path / "piecemeal-daemon"
    link.symlink_to(PACKAGING / "launcher.py")
    done = subprocess.run([sys.executable, str(link), "--help"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "usage: piecemeal-daemon" in done.stdout


def test_the_deb_installs_the_daemon_and_its_unit_without_enabling_it(tmp_path: Path) -> None:
    need_program("dpkg-deb")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "piecemeal").write_text("#!/bin/sh\necho stand-in for the PyInstaller bundle\n")
    (bundle / "piecemeal").chmod(0o755)
    out = tmp_path / "out"
    subprocess.run(["bash", str(PACKAGING / "linux" / "build_deb.sh"), "--bundle", str(bundle), "--out", str(out)],
                   check=True, capture_output=True, timeout=300, env={**os.environ, "PYTHON": sys.executable})
    (deb,) = out.glob("piecemeal_*.deb")
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], check=True, capture_output=True, text=True).stdout
    assert "./usr/lib/systemd/user/piecemeal-daemon.service" in listing
    assert "./usr/bin/piecemeal-daemon -> ../../opt/piecemeal/piecemeal" in listing
    assert "./etc/systemd" not in listing, "nothing is enabled by the package"
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "--control", str(deb), str(control)], check=True, timeout=60)
    assert "systemctl" not in (control / "postinst").read_text()
    (portable,) = out.glob("piecemeal-*.tar.gz")
    tar = subprocess.run(["tar", "-tvzf", str(portable)], check=True, capture_output=True, text=True).stdout
    assert "/piecemeal-daemon -> piecemeal" in tar


def test_systemd_finds_nothing_wrong_with_the_unit_but_the_missing_program() -> None:
    done = subprocess.run([need_program("systemd-analyze"), "verify", "--man=no", str(UNIT)], capture_output=True, text=True,
                          timeout=60)
    complaints = [line for line in (done.stdout + done.stderr).splitlines()
                  if line.strip() and "/usr/bin/piecemeal-daemon is not executable" not in line]
    assert complaints == []
