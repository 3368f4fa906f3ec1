"""Which torrents changed since a reader's revision: only those, and the removed ones."""

from dataclasses import replace

from app.demo import loopback_session_config
from app.engine.creator import create_torrent
from app.engine.session import Session
from app.engine.snapshot_book import SnapshotBook
from tests.ui.factories import torrent


def test_a_reader_gets_only_what_changed_since_its_revision():
    book = SnapshotBook()
    first = [torrent(n) for n in range(1000)]
    for snap in first:
        book.record(snap)
    everything = book.since(0)
    assert everything.complete and len(everything.torrents) == 1000
    assert book.since(everything.revision).torrents == ()
    assert not book.record(replace(first[5]))  # equal: no change
    moved = replace(first[7], down_rate=12.0)
    assert book.record(moved)
    book.forget(first[9].info_hash)
    later = book.since(everything.revision)
    assert (later.torrents, later.removed, later.complete) == ((moved,), (first[9].info_hash,), False)
    assert book.since(later.revision).torrents == () and len(book) == 999


def test_a_reader_behind_the_removals_kept_gets_the_whole_list():
    book = SnapshotBook(removals_kept=2)
    snaps = [torrent(n) for n in range(5)]
    for snap in snaps:
        book.record(snap)
    seen = book.revision
    for snap in snaps[:3]:
        book.forget(snap.info_hash)
    answer = book.since(seen)
    assert answer.complete and answer.torrents == tuple(snaps[3:])


async def test_a_session_snapshot_follows_torrents_added_and_dropped_without_an_event(tmp_path):
    """Start-up restores (and may drop) torrents without telling anyone: the book still follows."""
    session = Session(loopback_session_config("127.0.0.1"))
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(name.encode() * 1000)
    first, second = [
        await session.add_torrent(create_torrent(tmp_path / name, trackers=()), tmp_path, paused=True) for name in "ab"
    ]
    seen = session.snapshot()
    revision = session.changes(0).revision
    assert {t.info_hash for t in seen.torrents} == {first, second}
    torrent = session.torrents.pop(bytes.fromhex(first))  # dropped quietly
    assert [t.info_hash for t in session.snapshot().torrents] == [second]
    assert session.changes(revision).removed == (first,)
    session.torrents[torrent.info_hash] = torrent  # restored quietly
    assert {t.info_hash for t in session.snapshot().torrents} == {first, second}
    await session.close()
