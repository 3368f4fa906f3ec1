"""piecemeal-cli as a user runs it: real processes, real files, loopback only."""

from __future__ import annotations

import re
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine.creator import create_torrent
from app.engine.metainfo import load_metainfo
from tests.lt_peer import random_tree

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = ("--no-dht", "--no-lsd", "--no-port-mapping")  # loopback only: no DHT routers, no multicast


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args, *OFFLINE] if args[0] in ("download", "seed") else [sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "data" / "stuff", {"a.bin": 200_000, "b/c.txt": 10, "empty": 0})


def test_create_then_info(payload: Path, tmp_path: Path) -> None:
    out = tmp_path / "stuff.torrent"
    result = cli("create", str(payload), "-o", str(out), "-t", "http://127.0.0.1:1/announce",
                 "-t", "udp://127.0.0.1:2", "--piece-size", "32K", "--private", "--comment", "hello")
    assert result.returncode == 0, result.stderr
    meta = load_metainfo(out)
    assert meta.private and meta.comment == "hello" and meta.piece_length == 32768
    assert meta.trackers == (("http://127.0.0.1:1/announce",), ("udp://127.0.0.1:2",))
    info = cli("info", str(out))
    assert info.returncode == 0
    assert meta.info_hash_hex in info.stdout
    assert "stuff/b/c.txt" in info.stdout and "tier 1: udp://127.0.0.1:2" in info.stdout


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not bencode at all", "test.torrent"),
        (b"d4:infod4:name1:x12:piece lengthi0eee", "piece length"),
        (b"", "test.torrent"),
    ],
)
def test_bad_torrent_one_sentence_exit_2(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "test.torrent"
    bad.write_bytes(content)
    out = tmp_path / "out"
    for args in (("info", str(bad)), ("download", str(bad), "-o", str(out))):
        result = cli(*args)
        assert result.returncode == 2
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()  # nothing written


def test_missing_file_and_unusable_folder(payload: Path, tmp_path: Path) -> None:
    missing = cli("info", str(tmp_path / "nope.torrent"))
    assert missing.returncode == 2 and "nope.torrent" in missing.stderr and "Traceback" not in missing.stderr
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=32768))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    result = cli("download", str(torrent), "-o", str(blocker / "sub"), "--port", "0", "--bind", "127.0.0.1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "a-file" in result.stderr


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_listening(process: subprocess.Popen[str], timeout: float = 30) -> None:
    """Until the process prints its first progress line: it does once its session listens (TCP and uTP)."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        pytest.fail(f"the seed printed no progress line in {timeout:.0f} s, so it may not listen")
    assert process.stdout.readline(), f"the seed ended before it listened: {process.communicate()[1]}"


@pytest.mark.parametrize("encryption", ["allow", "require"])
def test_seed_then_download_then_ctrl_c(encryption: str, payload: Path, tmp_path: Path) -> None:
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=32768))
    port = free_port()  # not a fixed number: other test runs share this machine
    seed = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "seed", str(torrent), "--data", str(payload.parent),
         "--bind", "127.0.0.1", "--port", str(port), "--encryption", encryption, *OFFLINE],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_listening(seed)
        result = cli("download", str(torrent), "-o", str(tmp_path / "out"), "--bind", "127.0.0.1",
                     "--port", "0", "--peer", f"127.0.0.1:{port}", "--encryption", encryption)
        assert result.returncode == 0, result.stderr
        _assert_plain_progress(result.stdout)
        assert "%" not in result.stderr  # progress is output, on stdout; stderr is for problems
        for name in ("a.bin", "b/c.txt", "empty"):
            assert (tmp_path / "out" / "stuff" / name).read_bytes() == (payload / name).read_bytes()
        quiet = cli("--quiet", "download", str(torrent), "-o", str(tmp_path / "quiet"),
                    "--bind", "127.0.0.1", "--port", "0", "--peer", f"127.0.0.1:{port}")
        assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
        assert (tmp_path / "quiet" / "stuff" / "a.bin").read_bytes() == (payload / "a.bin").read_bytes()
    finally:
        seed.send_signal(signal.SIGINT)
        _, err = seed.communicate(timeout=20)
    assert seed.returncode == 0, err
    assert "Traceback" not in err


def test_seed_bound_to_ipv6_and_a_download_from_bracketed_peer(payload: Path, tmp_path: Path) -> None:
    """--bind ::1 listens on IPv6 only; --peer takes [v6]:port; an unbound download speaks both."""
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=32768))
    port = free_port("::1")
    seed = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "seed", str(torrent), "--data", str(payload.parent),
         "--bind", "::1", "--port", str(port), *OFFLINE],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_listening(seed)
        result = cli("download", str(torrent), "-o", str(tmp_path / "out"), "--port", "0", "--peer", f"[::1]:{port}")
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "out" / "stuff" / "a.bin").read_bytes() == (payload / "a.bin").read_bytes()
    finally:
        seed.send_signal(signal.SIGINT)
        _, err = seed.communicate(timeout=20)
    assert seed.returncode == 0, err


def _assert_plain_progress(stdout: str) -> None:
    """What a pipe or a log gets: whole lines, no carriage return, no terminal codes."""
    assert "\r" not in stdout and "\x1b" not in stdout
    lines = stdout.splitlines()
    assert lines and all(re.match(r"^ *\d+\.\d%  .*  peers \d+  ETA ", line) for line in lines), stdout
    assert lines[-1].startswith("100.0%")
    assert all(line == line.rstrip() for line in lines)


def test_quiet_prints_only_the_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.torrent"
    bad.write_bytes(b"not bencode at all")
    result = cli("--quiet", "download", str(bad), "-o", str(tmp_path / "out"))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("piecemeal-cli: ") and "bad.torrent" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_quiet_create_writes_the_file_and_says_nothing(payload: Path, tmp_path: Path) -> None:
    out = tmp_path / "stuff.torrent"
    result = cli("-q", "create", str(payload), "-o", str(out))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert load_metainfo(out).name == "stuff"


def test_quiet_and_verbose_do_not_go_together(tmp_path: Path) -> None:
    result = cli("-q", "-v", "info", str(tmp_path / "x.torrent"))
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_an_ip_filter_that_cannot_be_read_is_one_sentence(payload: Path, tmp_path: Path) -> None:
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=32768))
    result = cli("seed", str(torrent), "--data", str(payload.parent), "--port", "0", "--bind", "127.0.0.1",
                 "--ip-filter", str(tmp_path / "missing.p2p"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"piecemeal-cli: The IP filter file {tmp_path / 'missing.p2p'} does not exist."
@pytest.mark.parametrize(("host", "peer"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_seed_and_download_over_utp_only(host: str, peer: str, payload: Path, tmp_path: Path) -> None:
    """--transport utp on both ends: the download can only have come over uTP (IPv4 or IPv6)."""
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(create_torrent(payload, piece_length=32768))
    port = free_port(host)
    seed = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "seed", str(torrent), "--data", str(payload.parent),
         "--bind", host, "--port", str(port), "--transport", "utp", *OFFLINE],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_listening(seed)
        result = cli("--quiet", "download", str(torrent), "-o", str(tmp_path / "out"), "--bind", host,
                     "--port", "0", "--transport", "utp", "--peer", f"{peer}:{port}")
        assert result.returncode == 0, result.stderr
        for name in ("a.bin", "b/c.txt", "empty"):
            assert (tmp_path / "out" / "stuff" / name).read_bytes() == (payload / name).read_bytes()
    finally:
        seed.send_signal(signal.SIGINT)
        _, err = seed.communicate(timeout=20)
    assert seed.returncode == 0, err


def test_an_unknown_transport_is_refused(tmp_path: Path) -> None:
    result = cli("download", "x.torrent", "-o", str(tmp_path), "--transport", "carrier-pigeon")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_the_progress_line_ends_with_what_limits_the_speed() -> None:
    from app.cli import _progress_line
    from app.engine.diagnosis import Cause, CauseKind
    from tests.ui.factories import torrent

    why = Cause(CauseKind.QUEUED, "The torrent waits in the queue", "", "Raise the number of active downloads")
    assert _progress_line(torrent(0, why=why)).endswith("  — The torrent waits in the queue")
    assert "—" not in _progress_line(torrent(0))


@pytest.mark.parametrize("format", ["v1", "v2", "hybrid"])
def test_create_each_format_libtorrent_agrees(format: str, payload: Path, tmp_path: Path) -> None:
    import libtorrent as lt

    out = tmp_path / f"{format}.torrent"
    result = cli("create", str(payload), "-o", str(out), "--format", format, "--piece-size", "16K")
    assert result.returncode == 0, result.stderr
    meta = load_metainfo(out)
    hashes = lt.torrent_info(out.read_bytes()).info_hashes()
    assert meta.format == format
    assert (str(hashes.v1) if hashes.has_v1() else None) == (None if format == "v2" else meta.info_hash_hex)
    assert (str(hashes.v2) if hashes.has_v2() else None) == (meta.info_hash_v2.hex() if meta.info_hash_v2 else None)
    shown = cli("info", str(out)).stdout
    assert f"Format:     {format}" in shown and meta.info_hash_hex in shown


def test_create_defaults_to_hybrid(payload: Path, tmp_path: Path) -> None:
    out = tmp_path / "default.torrent"
    assert cli("-q", "create", str(payload), "-o", str(out)).returncode == 0
    assert load_metainfo(out).format == "hybrid"
