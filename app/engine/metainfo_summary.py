"""The few facts of a torrent that its row in the list needs, kept beside its .torrent bytes.

Start-up with 10,000 torrents (issue 19): a restored torrent shows its row, joins LSD and
answers a v2 greeting from these, and its .torrent bytes are parsed only when it is needed
(started, selected, asked for details). Stored as JSON in the store's `summary` column.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.engine.metainfo import Metainfo

_VERSION = 1  # bumped when a field is added: an older summary is then rebuilt from the bytes


@dataclass(frozen=True, slots=True)
class MetainfoSummary:
    name: str
    total_length: int
    piece_length: int
    num_pieces: int
    padding_length: int  # BEP 47 pad files: counted in the pieces, not in the progress
    file_count: int
    private: bool  # BEP 27: no LSD, DHT or PEX
    info_hash_v2: bytes | None  # BEP 52: a hybrid is also reached by its v2 info-hash
    trackers: tuple[tuple[str, ...], ...]  # BEP 12 tiers


def summarize(meta: Metainfo) -> MetainfoSummary:
    return MetainfoSummary(
        name=meta.name, total_length=meta.total_length, piece_length=meta.piece_length,
        num_pieces=meta.num_pieces, padding_length=sum(f.length for f in meta.files if f.padding),
        file_count=len(meta.files), private=meta.private, info_hash_v2=meta.info_hash_v2,
        trackers=meta.trackers,
    )


def summary_text(meta: Metainfo) -> str:
    summary = summarize(meta)
    v2 = summary.info_hash_v2.hex() if summary.info_hash_v2 is not None else None
    return json.dumps([
        _VERSION, summary.name, summary.total_length, summary.piece_length, summary.num_pieces,
        summary.padding_length, summary.file_count, summary.private, v2, summary.trackers,
    ], ensure_ascii=False, separators=(",", ":"))


def read_summary(text: str) -> MetainfoSummary | None:
    """The stored summary; None if there is none (a profile older than v7) or it is not one
    this version wrote: the torrent is then restored from its bytes, as before."""
    try:
        version, name, total, piece_length, pieces, padding, files, private, v2, trackers = json.loads(text)
        if version != _VERSION or piece_length <= 0 or pieces != -(-total // piece_length):
            return None
        return MetainfoSummary(
            str(name), int(total), int(piece_length), int(pieces), int(padding), int(files), bool(private),
            bytes.fromhex(v2) if v2 is not None else None,
            tuple(tuple(str(url) for url in tier) for tier in trackers),
        )
    except (ValueError, TypeError):
        return None
