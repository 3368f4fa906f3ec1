import asyncio
import threading

from app.engine.snapshots import StopReason, TorrentState
from app.engine.torrent_options import TorrentOptions
from app.ui.bridge import EngineBridge
from app.ui.torrent_diff import TorrentDiff
from tests.ui.helpers import emission, next_emission, until, write_torrent


async def test_a_new_torrent_arrives_as_an_added_row(session, tmp_path):
    bridge = EngineBridge(session)
    torrent_file = write_torrent(tmp_path / "seed")
    added = emission(bridge.torrents_changed, lambda d: bool(d.added))
    bridge.start()
    await bridge.add_torrent(torrent_file, tmp_path / "seed", paused=False, title="Could not add")
    try:
        (diff,) = await asyncio.wait_for(added, 10)
    finally:
        bridge.stop()
    assert [t.name for t in diff.added] == ["payload.bin"]


async def test_only_changes_are_reported(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "seed")
    await until(lambda: session.snapshot().torrents[0].state == TorrentState.SEEDING)
    bridge.refresh()
    diffs: list[TorrentDiff] = []
    bridge.torrents_changed.connect(diffs.append)
    bridge.refresh()
    assert diffs == []
    await session.pause(info_hash)
    bridge.refresh()
    assert [(d.added, [(t.state, t.reason) for t in d.changed], d.removed) for d in diffs] == [
        ((), [(TorrentState.SEEDING, StopReason.USER)], ())
    ]


async def test_an_engine_error_becomes_a_sentence(session, tmp_path):
    bridge = EngineBridge(session)
    torrent_file = write_torrent(tmp_path / "seed")
    await session.add_torrent(torrent_file, tmp_path / "seed")
    bridge.add_torrent(torrent_file, tmp_path / "seed", paused=False, title="Could not add it")
    title, text = await next_emission(bridge.failed)
    assert title == "Could not add it"
    assert "already in the list" in text
    assert "Traceback" not in text


async def test_pause_and_resume_reach_the_session(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "empty")
    bridge.refresh()
    bridge.pause([info_hash])
    await bridge.drain()
    assert session.snapshot().torrents[0].reason == StopReason.USER
    bridge.resume([info_hash])
    await until(lambda: not session.snapshot().torrents[0].paused)


async def test_the_selected_torrent_reports_its_details(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "seed")
    bridge.refresh()
    bridge.select(info_hash)
    (details,) = await next_emission(bridge.details_changed, timeout=5)
    assert details.info_hash == info_hash
    assert [f.path for f in details.files] == ["payload.bin"]


async def test_free_space_is_measured_off_the_gui_thread(session, tmp_path, monkeypatch):
    asked_from: list[threading.Thread] = []

    def probe(folder):
        asked_from.append(threading.current_thread())
        return 123_456_789 if folder == tmp_path / "missing" else 0

    monkeypatch.setattr("app.engine.session.free_bytes", probe)
    bridge = EngineBridge(session)
    measured = emission(bridge.free_space_measured)
    bridge.measure_free_space(tmp_path / "missing")
    bridge.measure_free_space(tmp_path / "again")  # one question at a time: dropped
    assert await asyncio.wait_for(measured, 10) == (str(tmp_path / "missing"), 123_456_789)
    await bridge.drain()
    assert len(asked_from) == 1 and asked_from[0] is not threading.main_thread()


async def test_a_disk_that_cannot_say_gives_no_number(session, tmp_path, monkeypatch):
    def probe(folder):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("app.engine.session.free_bytes", probe)
    bridge = EngineBridge(session)
    failures = []
    bridge.failed.connect(lambda *args: failures.append(args))
    measured = emission(bridge.free_space_measured)
    bridge.measure_free_space(tmp_path)
    assert await asyncio.wait_for(measured, 10) == (str(tmp_path), None)
    await bridge.drain()
    assert failures == []


async def test_preferences_and_torrent_options_go_through_the_bridge(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "seed")
    bridge.refresh()
    await bridge.apply_settings({"up_limit": 4096, "listen_port": 0})
    bridge.set_options(info_hash, TorrentOptions(down_limit=2048))
    await bridge.drain()
    assert session.config.up_limit == 4096
    assert bridge.details(info_hash).options == TorrentOptions(down_limit=2048)


async def test_add_peer_takes_bracketed_ipv6_and_explains_what_it_cannot_reach(session, tmp_path):
    bridge = EngineBridge(session)
    info_hash = await session.add_torrent(write_torrent(tmp_path / "seed"), tmp_path / "empty")
    torrent = session.torrents[bytes.fromhex(info_hash)]
    tried: list[tuple[str, int]] = []
    torrent.add_peers = lambda addresses: tried.extend(addresses)  # the address, not a dial
    bridge.refresh()
    bridge.add_peer(info_hash, "[::1]:6881")  # the fixture's session is bound to 127.0.0.1
    title, text = await next_emission(bridge.failed)
    assert title == "Could not add the peer [::1]:6881 to “payload.bin”"
    assert text == "Piecemeal is bound to 127.0.0.1, which cannot reach [::1]:6881."
    bridge.add_peer(info_hash, "::1:6881")
    _, text = await next_emission(bridge.failed)
    assert "goes in brackets" in text
    await session.set_config(listen_host="")  # any address: both stacks
    bridge.add_peer(info_hash, " [::1]:6881 ")
    bridge.add_peer(info_hash, "127.0.0.1:6882")
    await bridge.drain()
    assert tried == [("::1", 6881), ("127.0.0.1", 6882)]


async def test_another_session_replaces_the_rows_and_the_old_one_is_no_longer_heard(session, tmp_path):
    from app.engine.events import TorrentFinished
    from app.engine.session import Session, SessionConfig

    other = Session(SessionConfig(listen_host="127.0.0.1", listen_port=0, enable_dht=False, enable_lsd=False))
    await other.start()
    try:
        bridge = EngineBridge(session)
        await session.add_torrent(write_torrent(tmp_path / "a", "local.bin"), tmp_path / "a", paused=True)
        await other.add_torrent(write_torrent(tmp_path / "b", "remote.bin"), tmp_path / "b", paused=True)
        bridge.refresh()
        bridge.select(session.snapshot().torrents[0].info_hash)
        diffs: list[TorrentDiff] = []
        finished: list[str] = []
        bridge.torrents_changed.connect(diffs.append)
        bridge.torrent_finished.connect(lambda _hash, name: finished.append(name))
        bridge.use_session(other)
        bridge.refresh()
        (diff,) = diffs
        assert [t.name for t in diff.added] == ["remote.bin"]
        assert diff.removed == (session.snapshot().torrents[0].info_hash,)
        assert bridge.selected is None
        session.emit(TorrentFinished("00" * 20, "old", TorrentState.SEEDING, None))
        other.emit(TorrentFinished("11" * 20, "new", TorrentState.SEEDING, None))
        assert finished == ["new"]
        bridge.use_session(session)
        session.emit(TorrentFinished("00" * 20, "old again", TorrentState.SEEDING, None))
        assert finished == ["new", "old again"], "each session is heard once, when it is shown"
    finally:
        await other.close()
