"""Saving resume data: a failed step spoils neither later saves, nor close(), nor the rows of
other torrents; a torrent whose data could not be synced keeps its last row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine import session as session_module
from app.engine.creator import create_torrent
from app.engine.errors import StorageError
from app.engine.session import Session
from app.engine.snapshots import TorrentState
from app.engine.store import Store
from tests.lt_peer import random_tree
from tests.swarm_helpers import eventually, loopback_config, wait_for_state

PIECE = 32 * 1024


async def seeding_session(tmp_path: Path, names: tuple[str, ...], **config: object) -> tuple[Session, list[str]]:
    """A started session with a store, seeding one torrent per name from complete files."""
    session = Session(loopback_config(profile_dir=tmp_path / "profile", **config))
    await session.start()
    hashes = []
    for name in names:
        payload = random_tree(tmp_path / name / "payload", {"a.bin": 3 * PIECE})
        hashes.append(await session.add_torrent(create_torrent(payload, piece_length=PIECE), payload.parent))
        await wait_for_state(session, hashes[-1], TorrentState.SEEDING)
    return session, hashes


def saved_rows(profile: Path) -> set[str]:
    store, _ = Store.open(profile / "piecemeal.db")
    try:
        return {info_hash.hex() for info_hash in store.all_resume()}
    finally:
        store.close()


def failing_stamps(fail: Callable[[], bool]) -> Callable[..., object]:
    real = session_module.file_stamps

    def stamps(paths: object) -> object:
        if fail():
            raise StorageError("cannot look at the files: permission denied")
        return real(paths)  # type: ignore[arg-type]

    return stamps


async def test_a_failed_file_stamp_does_not_stop_later_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [0]

    def first_fails() -> bool:
        calls[0] += 1
        return calls[0] == 1

    monkeypatch.setattr(session_module, "file_stamps", failing_stamps(first_fails))
    session, [info_hash] = await seeding_session(tmp_path, ("one",), resume_interval=0.02)
    try:
        store = session.store
        assert store is not None
        await eventually(lambda: bytes.fromhex(info_hash) in store.all_resume(), "a save after the failed one")
        assert calls[0] >= 2
        assert session._saver is not None and not session._saver.done()
    finally:
        await session.close()


async def test_close_closes_everything_when_saving_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "file_stamps", failing_stamps(lambda: True))
    session, _ = await seeding_session(tmp_path, ("one",), resume_interval=3600.0)
    store, http = session.store, session.http
    assert store is not None and http
    await session.close()
    assert session.store is None
    with pytest.raises(StorageError):
        store.all_resume()  # closed
    assert all(client.closed for client in http.values())
    with pytest.raises(RuntimeError):
        session.executor.submit(print)  # shut down


async def test_a_torrent_whose_flush_failed_keeps_its_old_row(tmp_path: Path) -> None:
    session, [synced, unsynced] = await seeding_session(tmp_path, ("good", "bad"), resume_interval=3600.0)
    try:
        broken = session.torrents[bytes.fromhex(unsynced)]

        async def flush() -> None:
            raise StorageError("No space left on device")

        broken.storage.flush = flush  # type: ignore[method-assign]
        await session.save_resume()
        assert saved_rows(tmp_path / "profile") == {synced}
    finally:
        broken.storage.flush = type(broken.storage).flush.__get__(broken.storage)  # type: ignore[method-assign]
        await session.close()


async def test_files_are_stamped_again_only_when_the_torrent_changed_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: 9,000 idle seeds are not re-stamped at each save. And a file someone else
    changed after a save keeps the stamps of the data we verified: the next start checks it."""
    stamped: list[object] = []
    real = session_module.file_stamps
    monkeypatch.setattr(session_module, "file_stamps", lambda paths: stamped.append(paths) or real(paths))
    session, [info_hash] = await seeding_session(tmp_path, ("one",), resume_interval=3600.0)
    try:
        await session.save_resume()
        assert len(stamped) == 1
        await session.save_resume()
        assert len(stamped) == 1  # nothing written, nothing verified since: the stamps stand
        changed = tmp_path / "one" / "payload" / "a.bin"
        data = bytearray(changed.read_bytes())
        data[0] ^= 0xFF
        changed.write_bytes(bytes(data))  # another program, while we seed
        await session.save_resume()
    finally:
        await session.close()
    session = Session(loopback_config(profile_dir=tmp_path / "profile"))
    await session.start()
    try:
        snapshot = await wait_for_state(session, info_hash, TorrentState.DOWNLOADING)
        assert snapshot.verified_bytes < 3 * PIECE  # checked again: the changed piece is missing
    finally:
        await session.close()
