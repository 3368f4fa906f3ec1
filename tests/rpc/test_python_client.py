"""The daemon driven by the transmission-rpc Python library (what Home Assistant, Flexget and
many scripts use): it reads every torrent field it knows and checks their types."""

from __future__ import annotations

from pathlib import Path

import transmission_rpc

from tests.lt_peer import make_torrent, random_tree
from tests.processes import wait_until
from tests.rpc.daemon_process import running_daemon

USER, PASSWORD = "ann", "pw with spaces"
MAGNET = "magnet:?xt=urn:btih:" + "78" * 20 + "&dn=via-python"


def wait_for_status(client: transmission_rpc.Client, torrent_id: int, status: str, timeout: float = 60.0) -> None:
    wait_until(lambda: client.get_torrent(torrent_id).status == status, timeout,
               lambda: f"torrent {torrent_id} never became {status}: {client.get_torrent(torrent_id).status}")


def test_the_python_client_adds_reads_changes_and_removes(tmp_path: Path) -> None:
    content = random_tree(tmp_path / "seed", {"set/a.bin": 100_000, "set/b.txt": 321}) / "set"
    data = make_torrent(content, piece_size=16384)
    env = {"PIECEMEAL_RPC_PASSWORD": PASSWORD}
    with running_daemon(tmp_path / "profile", "--rpc-user", USER, env=env) as daemon:
        client = transmission_rpc.Client(host="127.0.0.1", port=daemon.port, username=USER, password=PASSWORD)
        assert client.get_session().rpc_version == 17
        added = client.add_torrent(data, download_dir=str(content.parent))
        client.add_torrent(MAGNET, paused=True)
        wait_for_status(client, added.id, "seeding")
        torrents = {t.name: t for t in client.get_torrents()}
        seeding = torrents["set"]
        assert (seeding.progress, seeding.total_size, seeding.hash_string) == (100.0, 100_321, added.hash_string)
        assert sorted(f.name for f in seeding.get_files()) == ["set/a.bin", "set/b.txt"]
        assert seeding.download_dir == str(content.parent) and seeding.is_private is False
        assert torrents["via-python"].status == "stopped"
        client.change_torrent(added.id, download_limit=30, download_limited=True, files_unwanted=[1])
        changed = client.get_torrent(added.id)
        assert (changed.download_limit, changed.download_limited) == (30, True)
        assert [f.selected for f in changed.get_files()] == [True, False]
        client.stop_torrent(added.id)
        wait_for_status(client, added.id, "stopped")
        assert client.session_stats().torrent_count == 2
        client.remove_torrent(added.id, delete_data=True)
        assert [t.name for t in client.get_torrents()] == ["via-python"]
        assert not (content / "a.bin").exists()
        assert daemon.stop() == 0
