"""app/rpc/methods.py over a real Session on loopback: each method does what the spec says."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app.engine.creator import create_torrent
from app.engine.session import Session
from app.rpc.methods import PORT_TEST_RESULT, DaemonContext, RpcMethods
from app.rpc.settings import SettingsError, defaults
from tests.lt_peer import random_tree
from tests.swarm_helpers import loopback_config

MAGNET = "magnet:?xt=urn:btih:" + "12" * 20 + "&dn=hello"


@dataclass
class Daemon:
    saved: list[dict[str, Any]] = field(default_factory=list)
    closed: int = 0

    def context(self) -> DaemonContext:
        return DaemonContext("sid", "/profile", self.saved.append, self.close)

    def close(self) -> None:
        self.closed += 1


@dataclass
class Rig:
    methods: RpcMethods
    session: Session
    daemon: Daemon
    content: Path
    torrent: bytes

    async def call(self, method: str, tag: int | None = None, **arguments: Any) -> dict[str, Any]:
        request: dict[str, Any] = {"method": method, "arguments": arguments}
        if tag is not None:
            request["tag"] = tag
        return await self.methods.answer(json.dumps(request).encode())

    async def ok(self, method: str, **arguments: Any) -> dict[str, Any]:
        response = await self.call(method, **arguments)
        assert response["result"] == "success", response
        return response["arguments"]

    async def get(self, *names: str, ids: Any = None) -> list[dict[str, Any]]:
        arguments: dict[str, Any] = {"fields": list(names)}
        if ids is not None:
            arguments["ids"] = ids
        return (await self.ok("torrent-get", **arguments))["torrents"]

    async def wait_for(self, torrent_id: int, name: str, value: Any, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while (await self.get(name, ids=[torrent_id]))[0][name] != value:
                await asyncio.sleep(0.05)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    content = random_tree(tmp_path / "data", {"pack/a.bin": 70_000, "pack/b.bin": 5_000, "pack/c.bin": 1_000}) / "pack"
    torrent = create_torrent(content, piece_length=16384)
    session = Session(loopback_config(download_dir=tmp_path / "downloads"))
    await session.start()
    daemon = Daemon()
    settings = defaults() | {"download-dir": str(tmp_path / "downloads"), "dht-enabled": False, "lpd-enabled": False,
                             "port-forwarding-enabled": False,
                             "peer-port": 0, "bind-address-ipv4": "127.0.0.1"}
    try:
        yield Rig(RpcMethods(session, settings, daemon.context()), session, daemon, content, torrent)
    finally:
        await session.close()


async def test_add_by_metainfo_then_a_duplicate(rig: Rig) -> None:
    encoded = base64.b64encode(rig.torrent).decode()
    added = (await rig.ok("torrent-add", metainfo=encoded, paused=True))["torrent-added"]
    assert (added["id"], added["name"]) == (1, "pack")
    duplicate = await rig.ok("torrent-add", metainfo=encoded)
    assert duplicate == {"torrent-duplicate": added}
    assert await rig.get("id", "status", "totalSize") == [{"id": 1, "status": 0, "totalSize": 76_000}]


async def test_add_by_path_and_by_magnet(rig: Rig, tmp_path: Path) -> None:
    path = tmp_path / "pack.torrent"
    path.write_bytes(rig.torrent)
    await rig.ok("torrent-add", filename=str(path), paused=True)
    magnet = (await rig.ok("torrent-add", filename=MAGNET, paused=True))["torrent-added"]
    assert magnet == {"id": 2, "name": "hello", "hashString": "12" * 20}
    assert [t["name"] for t in await rig.get("name")] == ["pack", "hello"]


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({}, "no filename or metainfo"),
        ({"filename": "https://example.org/x.torrent"}, "not from a web address"),
        ({"filename": "/no/such/file.torrent"}, "Could not read /no/such/file.torrent"),
        ({"metainfo": base64.b64encode(b"d4:spam4:eggse").decode()}, "invalid or corrupt torrent file"),
        ({"filename": "magnet:?xt=urn:btih:zz"}, "invalid magnet link"),
        ({"filename": MAGNET, "download-dir": "relative/dir"}, "not absolute"),
        ({"filename": MAGNET, "paused": "yes"}, "'paused'"),
    ],
)
async def test_bad_adds_are_refused_in_words_and_add_nothing(rig: Rig, arguments: dict[str, Any], words: str) -> None:
    response = await rig.call("torrent-add", **arguments)
    assert words in response["result"]
    assert await rig.get("id") == []


async def test_files_wanted_and_unwanted_when_adding_and_later(rig: Rig) -> None:
    await rig.ok("torrent-add", metainfo=base64.b64encode(rig.torrent).decode(), paused=True, **{"files-unwanted": [1]})
    assert (await rig.get("wanted"))[0]["wanted"] == [1, 0, 1]
    await rig.ok("torrent-set", ids=[1], **{"files-wanted": [1], "files-unwanted": [2], "priority-high": [0]})
    assert (await rig.get("wanted", "priorities"))[0] == {"wanted": [1, 1, 0], "priorities": [1, 0, 0]}
    response = await rig.call("torrent-set", ids=[1], **{"files-wanted": [3]})
    assert "has 3" in response["result"]


async def test_stop_start_verify_and_remove_with_the_data(rig: Rig) -> None:
    await rig.ok("torrent-add", metainfo=base64.b64encode(rig.torrent).decode(), **{"download-dir": str(rig.content.parent)})
    await rig.wait_for(1, "status", 6)
    await rig.ok("torrent-stop", ids=1)
    await rig.wait_for(1, "status", 0)
    await rig.ok("torrent-verify", ids=[rig.methods.ids.hash_for(1)])
    await rig.ok("torrent-start", ids=[1])
    await rig.wait_for(1, "status", 6)
    assert (await rig.get("percentDone", "leftUntilDone"))[0] == {"percentDone": 1.0, "leftUntilDone": 0}
    await rig.ok("torrent-remove", ids=[1], **{"delete-local-data": True})
    assert await rig.get("id") == []
    assert not (rig.content / "a.bin").exists()


async def test_a_torrents_limits_in_kilobytes(rig: Rig) -> None:
    await rig.ok("torrent-add", metainfo=base64.b64encode(rig.torrent).decode(), paused=True)
    await rig.ok("torrent-set", ids=[1], downloadLimit=50, downloadLimited=True)
    info_hash = rig.methods.ids.hash_for(1)
    assert info_hash is not None
    details = rig.session.details(info_hash)
    assert details is not None and details.options.down_limit == 50_000
    await rig.ok("torrent-set", ids=[1], downloadLimited=False, uploadLimit=20)
    row = (await rig.get("downloadLimit", "downloadLimited", "uploadLimit", "uploadLimited"))[0]
    assert row == {"downloadLimit": 50, "downloadLimited": False, "uploadLimit": 20, "uploadLimited": True}


async def test_table_format_and_recently_active(rig: Rig) -> None:
    await rig.ok("torrent-add", filename=MAGNET, paused=True)
    result = await rig.ok("torrent-get", fields=["id", "name", "bogus"], format="table")
    assert result["torrents"] == [["id", "name"], [1, "hello"]]
    recent = await rig.ok("torrent-get", fields=["id"], ids="recently-active")
    assert recent == {"torrents": [{"id": 1}], "removed": []}
    await rig.ok("torrent-remove", ids=[1])
    assert (await rig.ok("torrent-get", fields=["id"], ids="recently-active"))["removed"] == [1]


async def test_session_set_applies_checks_and_saves(rig: Rig) -> None:
    await rig.ok("session-set", **{"speed-limit-down": 300, "speed-limit-down-enabled": True, "version": "x"})
    assert rig.session.config.down_limit == 300_000
    assert rig.daemon.saved == [{"speed-limit-down": 300, "speed-limit-down-enabled": True}]
    got = await rig.ok("session-get", fields=["speed-limit-down", "speed-limit-down-enabled", "rpc-version", "session-id"])
    assert got == {"speed-limit-down": 300, "speed-limit-down-enabled": True, "rpc-version": 17, "session-id": "sid"}
    response = await rig.call("session-set", **{"peer-limit-global": "many"})
    assert "'peer-limit-global' must be a whole number" in response["result"]
    assert "rpc-password" not in await rig.ok("session-get")


async def test_session_set_encryption_applies_at_once_in_the_engines_words(rig: Rig) -> None:
    assert (await rig.ok("session-get", fields=["encryption"])) == {"encryption": "preferred"}
    for word, policy in (("required", "require"), ("tolerated", "allow"), ("preferred", "allow")):
        await rig.ok("session-set", encryption=word)
        assert rig.session.config.encryption == policy
        assert (await rig.ok("session-get", fields=["encryption"])) == {"encryption": word}
    assert rig.daemon.saved == [{"encryption": "required"}, {"encryption": "tolerated"}, {"encryption": "preferred"}]
    response = await rig.call("session-set", encryption="disabled")
    assert response["result"] == "'encryption' must be one of required, preferred, tolerated, not 'disabled'"
    assert rig.session.config.encryption == "allow"


async def test_session_set_cannot_touch_the_remote_controls_own_settings(rig: Rig) -> None:
    await rig.ok("session-set", **{"rpc-password": "x", "rpc-bind-address": "0.0.0.0", "rpc-username": "eve"})
    assert rig.daemon.saved == []


async def test_stats_free_space_port_test_and_close(rig: Rig, tmp_path: Path) -> None:
    await rig.ok("torrent-add", filename=MAGNET, paused=True)
    stats = await rig.ok("session-stats")
    assert (stats["torrentCount"], stats["pausedTorrentCount"], stats["current-stats"]["filesAdded"]) == (1, 1, 1)
    space = await rig.ok("free-space", path=str(tmp_path))
    assert space["path"] == str(tmp_path) and space["size-bytes"] > 0 and space["total_size"] >= space["size-bytes"]
    assert (await rig.call("port-test"))["result"] == PORT_TEST_RESULT
    await rig.ok("session-close")
    await asyncio.sleep(0)
    assert rig.daemon.closed == 1


async def test_unknown_methods_and_tags(rig: Rig) -> None:
    assert await rig.call("torrent-dance", tag=42) == {"result": "method name not recognized", "arguments": {}, "tag": 42}
    assert (await rig.call("queue-move-top"))["result"].startswith("moving torrents in the queue")
    assert (await rig.call("torrent-get"))["result"] == "no fields specified"
    assert (await rig.methods.answer(b"not json"))["result"] == "the request is not valid JSON"


async def test_a_setting_that_cannot_be_saved_says_so(rig: Rig) -> None:
    def refuse(changes: dict[str, Any]) -> None:
        raise SettingsError("Could not save /profile/settings.json: No space left on device")

    rig.methods.context = DaemonContext("sid", "/profile", refuse, rig.daemon.close)
    response = await rig.call("session-set", **{"speed-limit-up": 9, "speed-limit-up-enabled": True})
    assert response["result"].startswith("the change is in effect until the daemon stops, but Could not save")
    assert rig.session.config.up_limit == 9_000


async def test_set_location_moves_the_files_and_refuses_to_only_look(rig: Rig, tmp_path: Path) -> None:
    await rig.ok("torrent-add", metainfo=base64.b64encode(rig.torrent).decode(), **{"download-dir": str(rig.content.parent)})
    await rig.wait_for(1, "status", 6)
    response = await rig.call("torrent-set-location", ids=[1], location=str(tmp_path / "moved"))
    assert "send \"move\": true" in response["result"]
    await rig.ok("torrent-set-location", ids=[1], location=str(tmp_path / "moved"), move=True)
    await rig.wait_for(1, "downloadDir", str(tmp_path / "moved"))
    assert (tmp_path / "moved" / "pack" / "a.bin").stat().st_size == 70_000


async def test_the_turtle_schedule_reaches_the_session(rig: Rig) -> None:
    await rig.ok("session-set", **{"alt-speed-time-enabled": True, "alt-speed-time-day": 62,
                                   "alt-speed-time-begin": 480, "alt-speed-time-end": 1080})
    schedule = rig.session.config.alt_schedule
    assert schedule is not None and schedule.days == frozenset(range(5))
    got = await rig.ok("session-get", fields=["alt-speed-time-enabled", "alt-speed-time-day"])
    assert got == {"alt-speed-time-enabled": True, "alt-speed-time-day": 62}


async def test_blocklist_update_reads_the_ip_filter_again(rig: Rig, tmp_path: Path) -> None:
    assert (await rig.ok("session-get", fields=["blocklist-enabled", "blocklist-size"])) == {
        "blocklist-enabled": False, "blocklist-size": 0}
    block_list = tmp_path / "list.p2p"
    block_list.write_text("One:10.0.0.0-10.0.0.255\n")
    await rig.methods.session.set_config(ip_filter_path=block_list)
    block_list.write_text("One:10.0.0.0-10.0.0.255\nTwo:10.9.0.0-10.9.0.9\n")
    assert await rig.ok("blocklist-update") == {"blocklist-size": 2}
    assert (await rig.ok("session-get", fields=["blocklist-enabled"]))["blocklist-enabled"] is True
    block_list.unlink()
    assert "does not exist" in (await rig.call("blocklist-update"))["result"]
async def test_labels_show_the_category_then_the_tags_and_set_both(rig: Rig) -> None:
    await rig.session.add_category("Films")
    await rig.ok("torrent-add", metainfo=base64.b64encode(rig.torrent).decode(), paused=True)
    info_hash = rig.methods.ids.hash_for(1)
    assert (await rig.get("labels"))[0]["labels"] == []
    await rig.ok("torrent-set", ids=[1], labels=["hd", "Films", "new"])
    snap = next(t for t in rig.session.snapshot().torrents if t.info_hash == info_hash)
    assert (snap.category, snap.tags) == ("Films", ("hd", "new"))
    assert (await rig.get("labels"))[0]["labels"] == ["Films", "hd", "new"]
    await rig.ok("torrent-set", ids=[1], labels=["hd"])  # a client that took two labels away
    assert (await rig.get("labels"))[0]["labels"] == ["hd"]
    response = await rig.call("torrent-set", ids=[1], labels=["a,b"])
    assert "comma" in response["result"]
    response = await rig.call("torrent-set", ids=[1], labels="hd")
    assert "list of strings" in response["result"]


async def test_labels_when_adding_pick_the_category_and_its_folder(rig: Rig, tmp_path: Path) -> None:
    await rig.session.add_category("Albums", str(tmp_path / "albums"))
    await rig.ok("torrent-add", metainfo=base64.b64encode(rig.torrent).decode(), paused=True, labels=["Albums", "flac"])
    assert (await rig.get("labels", "downloadDir"))[0] == {"labels": ["Albums", "flac"], "downloadDir": str(tmp_path / "albums")}


async def test_utp_and_the_dial_order_reach_the_session(rig: Rig) -> None:
    """utp-enabled (Transmission's) and piecemeal-utp-first (ours) make SessionConfig.transport."""
    got = await rig.ok("session-get", fields=["utp-enabled", "piecemeal-utp-first"])
    assert got == {"utp-enabled": True, "piecemeal-utp-first": False} and rig.session.config.transport == "both"
    await rig.ok("session-set", **{"piecemeal-utp-first": True})
    assert rig.session.config.transport == "utp-first"
    await rig.ok("session-set", **{"utp-enabled": False})
    assert rig.session.config.transport == "tcp"
    assert rig.daemon.saved == [{"piecemeal-utp-first": True}, {"utp-enabled": False}]
    assert (await rig.ok("session-get", fields=["utp-enabled"])) == {"utp-enabled": False}


async def test_utp_enabled_is_read_from_the_running_session(rig: Rig) -> None:
    await rig.session.set_config(transport="utp")  # uTP only, as the window can choose: uTP is on
    assert (await rig.ok("session-get", fields=["utp-enabled"])) == {"utp-enabled": True}
    await rig.session.set_config(transport="utp-first")
    got = await rig.ok("session-get", fields=["utp-enabled", "piecemeal-utp-first"])
    assert got == {"utp-enabled": True, "piecemeal-utp-first": True}
    await rig.session.set_config(transport="tcp")
    got = await rig.ok("session-get", fields=["utp-enabled", "piecemeal-utp-first"])
    assert got == {"utp-enabled": False, "piecemeal-utp-first": False}
    assert "'utp-enabled' must be true or false" in (await rig.call("session-set", **{"utp-enabled": "yes"}))["result"]


async def test_session_get_reads_what_piecemeal_really_has(rig: Rig, tmp_path: Path) -> None:
    block_list = tmp_path / "list.p2p"
    block_list.write_text("One:10.0.0.0-10.0.0.255\n")
    await rig.session.set_config(on_complete_program="notify-send %N", ip_filter_path=block_list)
    rig.methods.settings["trash-original-torrent-files"] = True
    names = ["script-torrent-done-enabled", "script-torrent-done-filename", "trash-original-torrent-files",
             "blocklist-url", "peer-port-random-on-start", "peer-port"]
    got = await rig.ok("session-get", fields=names)
    assert got == {
        "script-torrent-done-enabled": True, "script-torrent-done-filename": "notify-send %N",
        "trash-original-torrent-files": True, "blocklist-url": block_list.as_uri(),
        "peer-port-random-on-start": True,  # the settings' peer-port is 0: a new port at each start
        "peer-port": rig.session.listen_port,
    }
    await rig.session.set_config(on_complete_program="", ip_filter_path=None)
    rig.methods.settings["peer-port"] = rig.session.listen_port
    got = await rig.ok("session-get", fields=names[:2] + ["blocklist-url", "peer-port-random-on-start"])
    assert got == {"script-torrent-done-enabled": False, "script-torrent-done-filename": "",
                   "blocklist-url": "", "peer-port-random-on-start": False}
