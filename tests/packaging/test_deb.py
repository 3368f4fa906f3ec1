"""Build the bundle and the .deb as a release would, install it into a throwaway root, run it.

This is the proof that a user's `dpkg -i` gives a working Piecemeal: the installed
launcher starts headless with a .torrent argument, the torrent shows up, the app quits;
the desktop entry, AppStream data and MIME registration validate and take effect.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from tests.packaging.recipes import METAINFO, PACKAGING, project

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="the .deb is built and installed on Linux"),
]

TOOLS = ("dpkg-deb", "desktop-file-validate", "appstreamcli", "xdg-mime", "update-mime-database")


def run(*command: str | Path, **options: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=600, **options
    )
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    assert not missing, f"missing {missing}: scripts/bootstrap installs them"
    out = tmp_path_factory.mktemp("packages")
    environment = dict(os.environ, PYTHON=sys.executable)
    run("bash", PACKAGING / "linux" / "build_deb.sh", "--out", out, env=environment)
    return out


@pytest.fixture(scope="module")
def deb(packages: Path) -> Path:
    (found,) = packages.glob("piecemeal_*.deb")
    return found


def install(deb: Path, root: Path) -> None:
    """dpkg -i into `root` with its own database, running the maintainer scripts there."""
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").touch()
    # The system libraries the package depends on are this machine's, not the root's.
    run(*dpkg(root), "--force-depends", "-i", deb)


def dpkg(root: Path) -> tuple[str, ...]:
    return ("dpkg", f"--root={root}", "--force-script-chrootless", "--force-not-root")


@pytest.fixture(scope="module")
def installed(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    install(deb, root)
    return root


def test_the_package_has_the_project_version_and_the_machines_libraries(deb: Path) -> None:
    fields = run("dpkg-deb", "--field", deb, "Package", "Version", "Depends").stdout
    assert f"Package: piecemeal\nVersion: {project()['version']}\n" in fields
    depends = fields.split("Depends:")[1]
    for package in (part.split()[0] for part in depends.split(",")):
        run("dpkg-query", "--show", package)  # a real package, installed where the app just ran


def test_the_installed_launcher_adds_a_torrent_headless(installed: Path, tmp_path: Path) -> None:
    content = tmp_path / "big buck bunny.txt"
    content.write_bytes(b"piecemeal" * 5000)
    torrent = tmp_path / "bunny.torrent"
    torrent.write_bytes(create_torrent(content))
    info_hash = parse_metainfo(torrent.read_bytes()).info_hash_hex
    launcher = installed / "usr/bin/piecemeal"
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    environment.pop("DISPLAY", None)
    result = run(launcher, "--smoke-test", torrent, env=environment, cwd=tmp_path)
    assert result.stdout.splitlines() == [
        f"Piecemeal {project()['version']}",
        f"smoke-test ok: big buck bunny.txt {info_hash}",
    ]


def test_the_desktop_entry_and_appstream_data_validate(installed: Path) -> None:
    run("desktop-file-validate", installed / "usr/share/applications/piecemeal.desktop")
    run("appstreamcli", "validate", "--no-net", installed / "usr/share/metainfo" / METAINFO.name)


def test_torrents_and_magnet_links_open_with_piecemeal(installed: Path, tmp_path: Path) -> None:
    """The postinst's update-desktop-database made Piecemeal the handler xdg-mime finds."""
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CONFIG_DIRS": str(tmp_path / "etc-xdg"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_DATA_DIRS": str(installed / "usr/share"),
    }
    for mime_type in ("application/x-bittorrent", "x-scheme-handler/magnet"):
        answer = run("xdg-mime", "query", "default", mime_type, env=environment).stdout
        assert answer.strip() == "piecemeal.desktop"
    globs = (installed / "usr/share/mime/globs2").read_text()
    assert ":application/x-bittorrent:*.torrent" in globs


def test_the_hicolor_icons_are_installed(installed: Path) -> None:
    hicolor = installed / "usr/share/icons/hicolor"
    assert (hicolor / "scalable/apps/piecemeal.svg").is_file()
    for size in (16, 32, 48, 128, 256, 512):
        assert (hicolor / f"{size}x{size}/apps/piecemeal.png").is_file()


def test_purging_removes_the_files_and_the_associations(deb: Path, tmp_path: Path) -> None:
    install(deb, tmp_path)
    run(*dpkg(tmp_path), "--purge", "piecemeal")
    assert not (tmp_path / "opt/piecemeal").exists()
    assert not (tmp_path / "usr/bin/piecemeal").exists()
    cache = tmp_path / "usr/share/applications/mimeinfo.cache"
    assert not cache.exists() or "piecemeal" not in cache.read_text()


def test_the_portable_tarball_holds_the_bundle_and_the_desktop_files(packages: Path) -> None:
    (tarball,) = packages.glob("piecemeal-*-linux-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    top = tarball.name.removesuffix(".tar.gz")
    assert top.startswith(f"piecemeal-{project()['version']}-linux-")
    for member in ("piecemeal", "LICENSE", "share/applications/piecemeal.desktop",
                   "share/icons/hicolor/256x256/apps/piecemeal.png"):
        assert f"{top}/{member}" in names
