"""RemoteSession (the window's thin-client session) against a real piecemeal-daemon subprocess,
checked against what Debian's transmission-remote says about the same daemon."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.engine.events import Event, MetadataReceived, TorrentAdded, TorrentRemoved
from app.engine.metainfo import parse_metainfo
from app.engine.snapshots import PieceState, StopReason, TorrentState
from app.engine.torrent_options import TorrentOptions
from app.rpc.client import RemoteAddress, RemoteError, RpcClient, UntrustedCertificate, peer_fingerprint
from app.rpc.remote_session import RemoteSession
from tests.lt_peer import LtPeer, make_torrent, random_tree
from tests.rpc.daemon_process import DaemonProcess, running_daemon
from tests.rpc.test_daemon import MAGNET, rows

SIZES = {"album/one.bin": 300_001, "album/two.bin": 70_000, "album/notes.txt": 777}
WAIT = 60.0


async def until(session: RemoteSession, condition: Callable[[], object], what: str) -> None:
    """Poll the daemon (a fresh answer first: the last one may predate the command) until `condition`."""
    deadline = asyncio.get_running_loop().time() + WAIT
    await session.refresh()
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {WAIT} s; last snapshot {session.snapshot().torrents}")
        await asyncio.sleep(0.1)
        await session.refresh()


@pytest.fixture
def content(tmp_path: Path) -> Path:
    return random_tree(tmp_path / "seed", SIZES) / "album"


@pytest.fixture
def daemon(tmp_path: Path):
    with running_daemon(tmp_path / "profile") as process:
        yield process


@pytest.fixture
async def remote(daemon: DaemonProcess) -> AsyncIterator[RemoteSession]:
    session = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port)), interval=0.1)
    await session.start()
    yield session
    await session.close()


async def test_the_snapshots_are_what_transmission_remote_lists(
    daemon: DaemonProcess, remote: RemoteSession, content: Path, tmp_path: Path,
) -> None:
    data = make_torrent(content, piece_size=32768)
    info_hash = await remote.add_torrent(parse_metainfo(data), content.parent)
    await remote.add_torrent(MAGNET, paused=True)
    await until(remote, lambda: _state(remote, info_hash) == TorrentState.SEEDING, "the album is checked")
    listing = rows(daemon.remote("-l"))
    by_name = {t.name: t for t in remote.snapshot().torrents}
    assert listing["1"][-1] == "album" and listing["1"][1] == "100%" and by_name["album"].progress == 1.0
    assert listing["2"][-1] == "from-a-magnet" and listing["2"][-2] == "Stopped"
    assert by_name["from-a-magnet"].reason == StopReason.USER
    assert by_name["album"].total_size == sum(SIZES.values()) == by_name["album"].verified_bytes
    assert by_name["album"].save_path == str(content.parent)
    assert remote.magnet_uri(info_hash).startswith(f"magnet:?xt=urn:btih:{info_hash}&dn=album")

    remote.details(info_hash)
    await until(remote, lambda: remote.details(info_hash) is not None, "the details arrive")
    details = remote.details(info_hash)
    assert details.pieces == bytes([PieceState.VERIFIED]) * 12
    assert sorted(f.path for f in details.files) == sorted(SIZES)
    files_listing = daemon.remote("-t", "1", "-f")
    assert all(f.path in files_listing and f.downloaded == f.size for f in details.files)


async def test_pausing_with_transmission_remote_shows_and_commands_reach_the_daemon(
    daemon: DaemonProcess, remote: RemoteSession, content: Path,
) -> None:
    events: list[Event] = []
    remote.add_listener(events.append)
    info_hash = await remote.add_torrent(make_torrent(content, piece_size=32768), content.parent)
    await until(remote, lambda: _state(remote, info_hash) == TorrentState.SEEDING, "the album is checked")
    daemon.remote("-t", "1", "-S")
    await until(remote, lambda: _reason(remote, info_hash) == StopReason.USER, "the pause shows")
    await remote.resume(info_hash)
    assert re.search(r"100%.*(Seeding|Idle)", daemon.remote("-l"))

    options = TorrentOptions(file_priorities=(2, 0, 1), sequential=True, down_limit=40_000, up_limit=0,
                             ratio_limit=1.5, seed_time_limit=3600.0)
    await remote.set_options(info_hash, options)
    info = daemon.remote("-t", "1", "-i")
    assert "Download Limit: 40 kB/s" in info and "Upload Limit: Unlimited" in info and "Ratio Limit: 1.5" in info
    remote.details(info_hash)
    await until(remote, lambda: remote.details(info_hash) is not None, "the details arrive")
    names = [f.path for f in remote.details(info_hash).files]
    assert remote.details(info_hash).options == options, names

    await remote.set_config(down_limit=250_000, max_active_downloads=3, encryption="require", transport="tcp")
    session_info = daemon.remote("-si")
    assert "Download speed limit: 250 kB/s" in session_info and "Encryption: required" in session_info
    assert "uTP enabled: No" in session_info
    with pytest.raises(RemoteError, match="does not change the transport to uTP only"):
        await remote.set_config(transport="utp")
    with pytest.raises(RemoteError, match="does not change encryption to disabled"):
        await remote.set_config(encryption="disable")
    with pytest.raises(RemoteError, match="does not change the disk space to keep free"):
        await remote.set_config(disk_reserve=1)
    assert await remote.free_space(daemon.profile) > 0

    await remote.remove(info_hash)
    await until(remote, lambda: not remote.snapshot().torrents, "the removal shows")
    assert rows(daemon.remote("-l")) == {}
    assert [type(e) for e in events if isinstance(e, TorrentAdded | TorrentRemoved)] == [TorrentAdded, TorrentRemoved]


async def test_tags_set_from_the_window_are_the_daemons(remote: RemoteSession, content: Path) -> None:
    info_hash = await remote.add_torrent(make_torrent(content, piece_size=32768), content.parent, paused=True)
    await remote.set_tags(info_hash, ["films", "old"])
    await until(remote, lambda: remote.snapshot().tags == ("films", "old"), "the daemon's tags arrive")
    assert remote.snapshot().torrents[0].tags == ("films", "old") and remote.snapshot().torrents[0].category == ""
    assert remote.snapshot().listen_port is not None
    with pytest.raises(RemoteError, match="categories are made in a window that runs on its machine"):
        await remote.add_category("films")


async def test_a_duplicate_and_a_missing_file_are_sentences(remote: RemoteSession, content: Path) -> None:
    data = make_torrent(content, piece_size=32768)
    await remote.add_torrent(data, content.parent, paused=True)
    with pytest.raises(RemoteError, match="'album' is already in the list"):
        await remote.add_torrent(data)
    with pytest.raises(RemoteError, match="Could not read"):
        await remote.add_torrent(content / "nowhere.torrent")


async def test_a_wrong_password_and_a_daemon_gone_are_sentences(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    env = {"PIECEMEAL_RPC_PASSWORD": "sesame"}
    with running_daemon(profile, "--rpc-user", "ann", env=env) as daemon:
        right = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, "ann", "sesame")))
        await right.start()
        assert right.snapshot().torrents == ()
        wrong = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, "ann", "open")))
        with pytest.raises(RemoteError, match="did not accept the user name and password"):
            await wrong.start()
        await wrong.close()
        assert daemon.stop() == 0
        with pytest.raises(RemoteError, match=f"Could not reach the daemon at 127.0.0.1:{daemon.port}"):
            await right.refresh()
        await right.close()


async def test_tls_is_trusted_by_the_fingerprint_the_daemon_logs(tmp_path: Path) -> None:
    with running_daemon(tmp_path / "profile", "--rpc-tls") as daemon:
        logged = re.search(r"SHA-256 fingerprint ([0-9A-F:]+)", daemon.log())[1]
        shown = await peer_fingerprint("127.0.0.1", daemon.port)
        assert shown == logged
        pinned = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, tls=True, fingerprint=shown)))
        await pinned.start()
        await pinned.close()
        other = "00:" * 31 + "00"
        stranger = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, tls=True, fingerprint=other)))
        with pytest.raises(UntrustedCertificate, match="not the one trusted before") as caught:
            await stranger.start()
        assert caught.value.fingerprint == shown
        await stranger.close()
        unknown = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, tls=True)))
        with pytest.raises(RemoteError, match="is not trusted"):
            await unknown.start()
        await unknown.close()


def _state(remote: RemoteSession, info_hash: str) -> TorrentState | None:
    return next((t.state for t in remote.snapshot().torrents if t.info_hash == info_hash), None)


async def test_a_magnet_stops_for_the_users_file_choice_when_its_metadata_arrives(
    remote: RemoteSession, content: Path, tmp_path: Path,
) -> None:
    data = make_torrent(content, piece_size=16384)
    seed = LtPeer("127.0.0.2")
    try:
        handle = seed.add(data, content.parent)
        seed.wait_seeding(handle)
        info_hash = parse_metainfo(data).info_hash_hex
        received: list[MetadataReceived] = []
        remote.add_listener(lambda event: isinstance(event, MetadataReceived) and received.append(event))
        link = f"magnet:?xt=urn:btih:{info_hash}&dn=album&x.pe=127.0.0.2:{seed.port}"
        await remote.add_torrent(link, tmp_path / "got", choose_files=True)
        await until(remote, lambda: received, "the metadata arrives")
        assert received == [MetadataReceived(info_hash, "album", choose_files=True)]
        assert _reason(remote, info_hash) == StopReason.CHOOSE_FILES and _progress(remote, info_hash) == 0.0
        files = remote.details(info_hash).files
        priorities = [0 if f.path.endswith("two.bin") else 1 for f in files]
        await remote.set_file_priorities(info_hash, priorities)
        await remote.resume(info_hash)
        await until(remote, lambda: _progress(remote, info_hash) == 1.0, "the chosen files arrive")
        assert (tmp_path / "got" / "album" / "one.bin").read_bytes() == (content / "one.bin").read_bytes()
        sizes = {t.info_hash: (t.wanted_size, t.total_size) for t in remote.snapshot().torrents}
        assert sizes[info_hash] == (sum(SIZES.values()) - SIZES["album/two.bin"], sum(SIZES.values()))
    finally:
        seed.close()


def _reason(remote: RemoteSession, info_hash: str) -> StopReason | None:
    return next((t.reason for t in remote.snapshot().torrents if t.info_hash == info_hash), None)


def _progress(remote: RemoteSession, info_hash: str) -> float | None:
    return next((t.progress for t in remote.snapshot().torrents if t.info_hash == info_hash), None)


async def test_a_certificate_signed_by_the_users_ca_is_trusted_without_asking(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    ca, cert, key = _ca_and_certificate(tmp_path / "pki")
    (profile / "settings.json").write_text(json.dumps({"rpc-tls-cert": str(cert), "rpc-tls-key": str(key)}))
    with running_daemon(profile, "--rpc-tls") as daemon:
        trusted = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, tls=True, ca_file=str(ca))))
        await trusted.start()
        await trusted.close()
        unknown = RemoteSession(RpcClient(RemoteAddress("127.0.0.1", daemon.port, tls=True)))
        with pytest.raises(UntrustedCertificate, match="is not trusted here") as caught:
            await unknown.start()
        assert caught.value.fingerprint == "", "no pin to compare with: the window asks for the fingerprint"
        await unknown.close()
    with pytest.raises(RemoteError, match=f"Could not use the CA certificate {tmp_path}/nowhere.pem: "):
        RpcClient(RemoteAddress("127.0.0.1", 1, tls=True, ca_file=str(tmp_path / "nowhere.pem")))


def _ca_and_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: what a user with their own PKI gives the daemon."""
    folder.mkdir()
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "daemon")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths
