"""Issue 19: a session of 10,000 torrents starts from its profile without reading a byte of
payload or parsing a .torrent, and spreads its first announces instead of sending 10,000 at once.
Settled, its once-a-second tick visits none of its 9,000 idle seeds, and a snapshot looks at
none of them.

Counted, not timed (tests/bench/bench_startup.py measures the time).
"""

import hashlib
import time
from pathlib import Path

from app.demo import loopback_session_config
from app.engine.bencode import encode
from app.engine import session as session_module
from app.engine import torrent as torrent_module
from app.engine.metainfo import parse_metainfo
from app.engine.metainfo_summary import summary_text
from app.engine.session import RESTORED_ANNOUNCES_PER_SECOND, Session
from app.engine.snapshots import TorrentState
from app.engine.storage import disk
from app.engine.store import ResumeRecord, Store, TorrentRecord, file_stamps
from app.engine.torrent import Torrent
from tests.ui.helpers import until

COUNT = 10_000


def _seeded_profile(folder: Path) -> None:
    """The profile a session leaves on exit: every torrent complete, its files stamped."""
    data = folder / "data"
    data.mkdir()
    torrents, resume = [], []
    for n in range(COUNT):
        payload = b"%05d" % n * 200
        (data / f"archive-{n:05}.bin").write_bytes(payload)
        raw = encode({b"info": {
            b"name": f"archive-{n:05}.bin".encode(), b"piece length": 16384,
            b"length": len(payload), b"pieces": hashlib.sha1(payload).digest(),
        }})
        meta = parse_metainfo(raw)
        info_hash = meta.info_hash
        torrents.append(TorrentRecord(
            info_hash=info_hash, metainfo=raw, magnet="", save_path=str(data), paused=n % 10 == 5,
            added_on=1.7e9 + n, name=f"archive-{n:05}.bin", file_priorities=(), sequential=False,
            down_limit=0, up_limit=0, queue_position=n, summary=summary_text(meta),
        ))
        stamps = file_stamps([data / f"archive-{n:05}.bin"])
        resume.append(ResumeRecord(info_hash, b"\x80", 1, stamps, 0, 0, 0.0, time.time()))
    store, _ = Store.open(folder / "profile" / "piecemeal.db")
    store.save_torrents(torrents)
    store.save_resume_many(resume)
    store.close()


async def test_ten_thousand_torrents_start_without_reading_payload_and_pace_their_announces(
    tmp_path, monkeypatch
):
    _seeded_profile(tmp_path)
    reads, checks = [], []
    pread, check = disk._pread, disk.Storage.check
    monkeypatch.setattr(disk, "_pread", lambda *args: reads.append(args) or pread(*args))
    monkeypatch.setattr(disk.Storage, "check", lambda self, **kw: checks.append(self) or check(self, **kw))
    parses = []
    for module in (session_module, torrent_module):
        parse = module.parse_metainfo
        monkeypatch.setattr(module, "parse_metainfo", lambda data, parse=parse: parses.append(data) or parse(data))
    session = Session(loopback_session_config("127.0.0.1", profile_dir=tmp_path / "profile"))
    started = time.monotonic()
    await session.start()
    try:
        assert parses == []  # every row from the store's summaries; the .torrent files wait
        running = [t for t in session.torrents.values() if not t.paused]
        assert len(session.torrents) == COUNT and len(running) == COUNT * 9 // 10
        await until(lambda: all(t.running and t.state == TorrentState.SEEDING for t in running), timeout=120)
        assert (len(reads), len(checks)) == (0, 0)
        assert len(parses) == len(running)  # the paused ones' .torrent files: not parsed at all
        firsts = [t.first_announce_at for t in running]
        gaps = {round(b - a, 6) for a, b in zip(firsts, firsts[1:])}
        assert gaps == {round(1 / RESTORED_ANNOUNCES_PER_SECOND, 6)}  # one after another, paced
        assert started <= firsts[0] and firsts[-1] - firsts[0] > 120  # 9,000 over minutes, not at once
        await until(lambda: session.heartbeat.awake == 0, timeout=30)  # ticked once each, then asleep
        visits = session.heartbeat.visits
        session.heartbeat.beat(time.monotonic())
        assert session.heartbeat.visits == visits  # idle seeds cost the tick nothing
        session.snapshot()
        looked_at = []
        key = Torrent._quiet_key
        monkeypatch.setattr(Torrent, "_quiet_key", lambda self, reach: looked_at.append(self) or key(self, reach))
        assert len(session.snapshot().torrents) == COUNT and looked_at == []
    finally:
        await session.close()
