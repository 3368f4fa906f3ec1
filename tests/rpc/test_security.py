"""The daemon's RPC guards, against a real daemon process on loopback: login, session id,
Host allow-list, body limit, failed-login throttle, remote binding, TLS, set-password."""

from __future__ import annotations

import base64
import json
import ssl
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.rpc.settings import SETTINGS_FILE
from app.rpc.tls import CERT_FILE, KEY_FILE
from tests.rpc.daemon_process import DaemonProcess, ROOT, daemon_command, daemon_env, post, rpc, running_daemon

USER, PASSWORD = "ann", "s3cret words"
MAGNET = "magnet:?xt=urn:btih:" + "56" * 20 + "&dn=sneaky"
ADD = json.dumps({"method": "torrent-add", "arguments": {"filename": MAGNET, "paused": True}}).encode()
LIST = json.dumps({"method": "torrent-get", "arguments": {"fields": ["id", "name"]}}).encode()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


GOOD = basic(USER, PASSWORD)


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[DaemonProcess]:
    with running_daemon(tmp_path / "profile", "--rpc-user", USER, env={"PIECEMEAL_RPC_PASSWORD": PASSWORD}) as daemon:
        yield daemon


def session_id(daemon: DaemonProcess) -> dict[str, str]:
    connection = daemon.connection()
    status, headers, _ = post(connection, LIST, GOOD)
    connection.close()
    assert status == 409
    return {"X-Transmission-Session-Id": headers["X-Transmission-Session-Id"]}


def torrent_names(daemon: DaemonProcess) -> list[str]:
    return [t["name"] for t in rpc(daemon, "torrent-get", GOOD, fields=["name"])["arguments"]["torrents"]]


def test_without_credentials_401_and_nothing_changes(guarded: DaemonProcess) -> None:
    connection = guarded.connection()
    status, headers, _ = post(connection, ADD, session_id(guarded))
    assert status == 401
    assert headers["WWW-Authenticate"] == 'Basic realm="Transmission"'
    assert "Unauthorized" in guarded.remote("-l", check=False)
    assert torrent_names(guarded) == []


def test_transmission_remote_with_the_password(guarded: DaemonProcess) -> None:
    assert "success" in guarded.remote("-a", MAGNET, auth=f"{USER}:{PASSWORD}")
    assert torrent_names(guarded) == ["sneaky"]


def test_a_wrong_session_id_gets_409_with_the_right_one(guarded: DaemonProcess) -> None:
    right = session_id(guarded)
    connection = guarded.connection()
    status, headers, _ = post(connection, ADD, {**GOOD, "X-Transmission-Session-Id": "forged"})
    assert status == 409 and headers["X-Transmission-Session-Id"] == right["X-Transmission-Session-Id"]
    assert torrent_names(guarded) == []


def test_a_foreign_host_name_is_refused(guarded: DaemonProcess) -> None:
    connection = guarded.connection()
    status, _, body = post(connection, ADD, {**GOOD, **session_id(guarded), "Host": f"evil.example:{guarded.port}"})
    assert status == 421 and b"rpc-host-whitelist" in body
    assert torrent_names(guarded) == []


def test_an_oversized_body_is_refused_unread(guarded: DaemonProcess) -> None:
    connection = guarded.connection()
    headers = {**GOOD, **session_id(guarded), "Content-Length": str(17 * 1024 * 1024)}
    connection.putrequest("POST", "/transmission/rpc")
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders(b"{" * 1024)
    response = connection.getresponse()
    assert response.status == 413
    assert torrent_names(guarded) == []


def test_a_wrong_password_is_refused_and_logged(guarded: DaemonProcess) -> None:
    connection = guarded.connection()
    status, _, _ = post(connection, ADD, {**basic(USER, "guess"), **session_id(guarded)})
    assert status == 401
    assert "failed login from 127.0.0.1" in guarded.log()


def test_bad_requests_get_words_and_the_daemon_still_answers(guarded: DaemonProcess) -> None:
    headers = {**GOOD, **session_id(guarded)}
    connection = guarded.connection()
    for body in (b"", b"{", b"\xff", b"[]", b'{"method": 1}', b'{"method": "torrent-get", "arguments": {"ids": {}}}'):
        status, answer_headers, data = post(connection, body, headers)
        result = json.loads(data)["result"]
        assert status == 200 and answer_headers["Content-Type"].startswith("application/json")
        assert result != "success" and "Traceback" not in result
    assert torrent_names(guarded) == []


def test_listening_beyond_loopback_needs_a_password(tmp_path: Path) -> None:
    done = subprocess.run(daemon_command(tmp_path / "profile", "--rpc-bind", "0.0.0.0"), capture_output=True,
                          text=True, env=daemon_env(), cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "set a user name and password first" in done.stderr and "Traceback" not in done.stderr


def test_set_password_keeps_only_an_scrypt_hash(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    command = [sys.executable, "-m", "app.daemon", "set-password", "--profile", str(profile), "--user", USER]
    done = subprocess.run(command, input=PASSWORD + "\n", capture_output=True, text=True, env=daemon_env(), cwd=ROOT,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    text = (profile / SETTINGS_FILE).read_text()
    assert PASSWORD not in text and json.loads(text)["rpc-password"].startswith("scrypt$")
    assert stat.S_IMODE((profile / SETTINGS_FILE).stat().st_mode) == 0o600
    with running_daemon(profile) as daemon:
        connection = daemon.connection()
        assert post(connection, LIST, {**GOOD, **session_id(daemon)})[0] == 200
        assert post(connection, LIST, session_id(daemon))[0] == 401
        assert post(connection, LIST, {**basic(USER, "nope"), **session_id(daemon)})[0] == 401


def test_tls_with_a_certificate_made_on_first_use(tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    with running_daemon(profile, "--rpc-tls") as daemon:
        assert daemon.tls and "fingerprint" in daemon.log()
        assert stat.S_IMODE((profile / KEY_FILE).stat().st_mode) == 0o600
        trusted = ssl.create_default_context(cafile=str(profile / CERT_FILE))
        connection = daemon.connection(trusted)
        status, headers, _ = post(connection, LIST)
        assert status == 409
        status, _, body = post(connection, LIST, {"X-Transmission-Session-Id": headers["X-Transmission-Session-Id"]})
        assert status == 200 and json.loads(body)["result"] == "success"
        with pytest.raises(ssl.SSLCertVerificationError):
            post(daemon.connection(ssl.create_default_context()), LIST)
