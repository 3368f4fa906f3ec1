"""`piecemeal --smoke-test` (app/ui/smoke.py), run from the source tree as the installers run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.engine.creator import create_torrent
from app.engine.metainfo import parse_metainfo
from tests.packaging.recipes import ROOT


def smoke(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--smoke-test", *map(str, arguments)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )


def test_it_adds_the_given_torrent_and_quits(tmp_path: Path) -> None:
    content = tmp_path / "holiday photos.bin"
    content.write_bytes(bytes(range(256)) * 200)
    torrent = tmp_path / "photos.torrent"
    torrent.write_bytes(create_torrent(content))
    info_hash = parse_metainfo(torrent.read_bytes()).info_hash_hex
    result = smoke(torrent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"smoke-test ok: holiday photos.bin {info_hash}"


def test_without_a_torrent_it_makes_its_own() -> None:
    result = smoke()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("smoke-test ok: piecemeal-smoke-test.txt ")


def test_a_broken_torrent_fails_with_one_plain_sentence(tmp_path: Path) -> None:
    torrent = tmp_path / "broken.torrent"
    torrent.write_bytes(b"d8:announce")
    result = smoke(torrent)
    assert result.returncode == 1
    assert "smoke-test failed: " in result.stderr
    assert "Traceback" not in result.stderr
    assert "smoke-test ok" not in result.stdout
