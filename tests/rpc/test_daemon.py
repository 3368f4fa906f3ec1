"""piecemeal-daemon driven by Debian's transmission-remote (transmission-cli 3.00), as a user would."""

from __future__ import annotations

import filecmp
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from app.engine.store import Store
from app.engine.tracker.types import AnnounceEvent
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.processes import wait_until
from tests.recording_tracker import tracker_in_thread
from tests.rpc.daemon_process import ROOT, DaemonProcess, daemon_command, daemon_env, rpc, running_daemon

MAGNET = "magnet:?xt=urn:btih:" + "34" * 20 + "&dn=from-a-magnet"
SIZES = {"album/one.bin": 300_001, "album/two.bin": 70_000, "album/notes.txt": 777}


def rows(listing: str) -> dict[str, list[str]]:
    """transmission-remote -l: ID -> its columns (ID Done Have ETA Up Down Ratio Status Name)."""
    table = {}
    for line in listing.splitlines()[1:]:
        parts = line.split()
        if parts and parts[0].rstrip("*").isdigit():
            table[parts[0].rstrip("*")] = parts
    return table


def wait_for_listing(daemon: DaemonProcess, torrent_id: str, pattern: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    listing = ""
    while time.monotonic() < deadline:
        listing = daemon.remote("-l")
        line = next((line for line in listing.splitlines() if line.split()[:1] == [torrent_id]), "")
        if re.search(pattern, line):
            return line
        time.sleep(0.1)
    raise AssertionError(f"torrent {torrent_id} never matched {pattern!r}; last listing:\n{listing}")


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed", SIZES) / "album"


def test_add_list_stop_start_verify_limit_and_remove(tmp_path: Path, content: Path) -> None:
    torrent = tmp_path / "album.torrent"
    torrent.write_bytes(make_torrent(content, piece_size=32768))
    with running_daemon(tmp_path / "profile") as daemon:
        assert "success" in daemon.remote("-a", str(torrent), "-w", str(content.parent))
        assert "success" in daemon.remote("-a", MAGNET, "--start-paused")
        listing = rows(daemon.remote("-l"))
        assert listing["1"][-1] == "album" and listing["2"][-1] == "from-a-magnet"
        wait_for_listing(daemon, "1", r"100%.*(Seeding|Idle)")
        daemon.remote("-t", "1", "-S")
        wait_for_listing(daemon, "1", r"Stopped")
        daemon.remote("-t", "1", "-v")
        daemon.remote("-t", "1", "-s")
        wait_for_listing(daemon, "1", r"100%.*(Seeding|Idle)")
        daemon.remote("-t", "1", "-d", "40")
        info = daemon.remote("-t", "1", "-i")
        assert "Download Limit: 40 kB/s" in info and "Upload Limit: Unlimited" in info
        assert "content/" not in daemon.remote("-t", "1", "-f")
        assert "album/one.bin" in daemon.remote("-t", "1", "-f")
        daemon.remote("-t", "1", "--remove-and-delete")
        assert list(rows(daemon.remote("-l"))) == ["2"]
        assert not any((content / Path(name).relative_to("album")).exists() for name in SIZES)
        assert daemon.stop() == 0


def test_a_download_from_libtorrent_completes_and_survives_sigterm(tmp_path: Path, content: Path) -> None:
    profile = tmp_path / "profile"
    with tracker_in_thread() as (tracker, registry):
        torrent = tmp_path / "album.torrent"
        torrent.write_bytes(make_torrent(content, piece_size=16384, trackers=[tracker.http_url]))
        info_hash, peer_port = download_from_libtorrent_then_sigterm(profile, torrent, content)
        events = [heard.event for heard in registry.heard(info_hash, ("127.0.0.1", peer_port))]
        assert events[:1] == [AnnounceEvent.STARTED] and events[-1:] == [AnnounceEvent.STOPPED], (
            f"the daemon's announces for the torrent: {events}; SIGTERM must end them with event=stopped (BEP 3)")
        for name in SIZES:
            relative = Path(name).relative_to("album")
            assert filecmp.cmp(content / relative, profile / "downloads" / "album" / relative, shallow=False)
        store, _ = Store.open(profile / "piecemeal.db")
        try:
            assert info_hash in store.all_resume(), "the resume data was saved on SIGTERM"
        finally:
            store.close()
        spoil_keeping_stamps(profile / "downloads" / "album" / "one.bin")
        with running_daemon(profile) as daemon:
            address = ("127.0.0.1", daemon.peer_port)
            wait_until(lambda: registry.heard(info_hash, address), 60, lambda: "the restarted daemon never announced")
            left = registry.heard(info_hash, address)[0].left
            assert left == 0, f"the restarted daemon hashed its files again instead of trusting its resume data: left={left}"
            assert re.search(r"\b100%", wait_for_listing(daemon, "1", r"\b(Idle|Seeding)\b"))
            assert daemon.stop() == 0


def download_from_libtorrent_then_sigterm(profile: Path, torrent: Path, content: Path) -> tuple[bytes, int]:
    """The daemon fetches `torrent` from a libtorrent seed, then gets SIGTERM: its info-hash and peer port."""
    with LtPeer("127.0.0.2") as seed:
        handle = seed.add(torrent.read_bytes(), content.parent)
        seed.wait_seeding(handle)
        with running_daemon(profile) as daemon:
            daemon.remote("-a", str(torrent))
            wait_for_listing(daemon, "1", r"\b(Idle|Downloading)\b")  # checked: it now takes peers
            handle.connect_peer(("127.0.0.1", daemon.peer_port))
            line = wait_for_listing(daemon, "1", r"\b100%")
            assert "album" in line
            info_hash = rpc(daemon, "torrent-get", fields=["hashString"])["arguments"]["torrents"][0]["hashString"]
            assert daemon.stop() == 0, "SIGTERM ends the daemon cleanly"
            return bytes.fromhex(info_hash), daemon.peer_port


def spoil_keeping_stamps(payload: Path) -> None:
    """Flip a byte behind the daemon's back, keeping the file's size and time: a daemon that
    trusts its resume data still has every piece; one that hashed the files again would not."""
    stamp = payload.stat()
    with payload.open("r+b") as file:
        first = file.read(1)
        file.seek(0)
        file.write(bytes([first[0] ^ 0xFF]))
    os.utime(payload, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))


def test_settings_and_totals_are_kept_for_the_next_run(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    with running_daemon(profile) as daemon:
        info = daemon.remote("-si")
        assert "Encryption: preferred" in info and "uTP enabled: Yes" in info
        daemon.remote("-d", "250")
        daemon.remote("--no-utp")
        daemon.remote("--encryption-tolerated")
        assert "Encryption: tolerated" in daemon.remote("-si")
        daemon.remote("--encryption-required")
        daemon.remote("-a", MAGNET, "--start-paused")
        assert daemon.stop() == 0
    with running_daemon(profile) as daemon:
        info = daemon.remote("-si")
        assert "Download speed limit: 250 kB/s" in info and "Encryption: required" in info and "uTP enabled: No" in info
        stats = rpc(daemon, "session-stats")["arguments"]
        assert (stats["current-stats"]["filesAdded"], stats["current-stats"]["sessionCount"]) == (0, 1)
        assert (stats["cumulative-stats"]["filesAdded"], stats["cumulative-stats"]["sessionCount"]) == (1, 2)
        assert "Started 2 times" in daemon.remote("-st")
        assert daemon.stop() == 0


def test_session_close_ends_the_daemon_and_a_profile_serves_one_daemon(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    with running_daemon(profile) as daemon:
        with pytest.raises(AssertionError, match="a piecemeal-daemon is using the profile"):
            with running_daemon(profile):
                pass
        daemon.remote("--exit")
        assert daemon.process.wait(60) == 0
        assert "stopped" in daemon.log()


@pytest.mark.parametrize(
    ("settings", "flags", "words"),
    [
        (None, ["--rpc-port", "99999"], "'rpc-port' must be between 0 and 65,535"),
        ('{"rpc-port": "x"}', [], "settings.json: 'rpc-port' must be a whole number"),
        ("{oops", [], "Could not read"),
        ('{"rpc-tls-cert": "/nowhere/cert.pem"}', ["--rpc-tls"], "rpc-tls-cert and rpc-tls-key go together"),
    ],
)
def test_bad_settings_are_one_sentence_and_exit_status_2(
    tmp_path: Path, settings: str | None, flags: list[str], words: str,
) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    if settings is not None:
        (profile / "settings.json").write_text(settings)
    done = subprocess.run(daemon_command(profile, *flags), capture_output=True, text=True, env=daemon_env(),
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr


def test_a_torrent_put_in_the_watch_dir_is_added(tmp_path: Path, content: Path) -> None:
    watch = tmp_path / "watch"
    watch.mkdir()
    with running_daemon(tmp_path / "profile", "--watch-dir", str(watch)) as daemon:
        (watch / "album.torrent").write_bytes(make_torrent(content, piece_size=16384))
        (watch / "junk.torrent").write_bytes(b"not bencoded")
        wait_until((watch / "failed" / "junk.torrent").exists, 30, lambda: "the bad file was not moved aside")
        wait_for_listing(daemon, "1", r"\balbum$", timeout=30)
        assert (watch / "added" / "album.torrent").exists()
        assert daemon.stop() == 0
    assert "Could not add junk.torrent" in (tmp_path / "profile" / "daemon.log").read_text()


def test_the_dial_order_from_the_command_line_and_utp_from_transmission_remote(tmp_path: Path) -> None:
    """--transport utp-first for this run only; transmission-remote --no-utp is kept in settings.json."""
    profile = tmp_path / "profile"
    profile.mkdir()
    with running_daemon(profile, "--transport", "utp-first") as daemon:
        got = rpc(daemon, "session-get", fields=["utp-enabled", "piecemeal-utp-first"])["arguments"]
        assert got == {"utp-enabled": True, "piecemeal-utp-first": True}
        daemon.remote("--no-utp")
        assert rpc(daemon, "session-get", fields=["utp-enabled"])["arguments"] == {"utp-enabled": False}
        assert daemon.stop() == 0
    with running_daemon(profile) as daemon:
        got = rpc(daemon, "session-get", fields=["utp-enabled", "piecemeal-utp-first"])["arguments"]
        assert got == {"utp-enabled": False, "piecemeal-utp-first": False}
        assert daemon.stop() == 0
