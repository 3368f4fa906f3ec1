"""Writes resume data in a tight loop until it is killed: the subject of test_store's kill test.

Run as `python -m tests.engine.store_crash_writer DB`. Each round stamps every torrent's
record with the same sequence number in one transaction, then prints that number once the
commit has returned. A record's every field derives from (info hash, sequence number), so
the test can rebuild what a complete record must hold.
"""

import random
import sys
from pathlib import Path

from app.engine.store import ResumeRecord, Store

INFO_HASHES = tuple(bytes([i]) * 20 for i in range(4))
NUM_PIECES = 32_000  # 4,000 bitfield bytes: a record spans pages, so a kill can cut one


def make_record(info_hash: bytes, sequence: int) -> ResumeRecord:
    rng = random.Random(sequence * 256 + info_hash[0])
    return ResumeRecord(
        info_hash=info_hash,
        verified=rng.randbytes(NUM_PIECES // 8),
        num_pieces=NUM_PIECES,
        file_stamps=tuple((rng.getrandbits(40), rng.getrandbits(62)) for _ in range(64)),
        downloaded=sequence,
        uploaded=rng.getrandbits(62),
        active_seconds=sequence / 4,
        saved_at=rng.random(),
    )


def main(path: Path) -> None:
    store, _ = Store.open(path)
    last = store.resume(INFO_HASHES[0])
    sequence = 0 if last is None else last.downloaded
    while True:
        sequence += 1
        store.save_resume_many(make_record(info_hash, sequence) for info_hash in INFO_HASHES)
        print(sequence, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
