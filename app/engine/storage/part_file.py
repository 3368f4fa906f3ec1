"""Where the bytes of skipped files go when a wanted piece holds some of them: the part file.

A piece that straddles a wanted file and a skipped one must be downloaded whole to be
verified, yet the skipped file must not appear on disk. As libtorrent and qBittorrent do,
those bytes go to one hidden file per torrent in the save folder, `.<info-hash>.parts`,
and move into place if the user wants the file later.

Only a piece that touches two or more (real, non-padding) files can ever be partly skipped:
a piece inside one file is downloaded or skipped as a whole. So the slots are fixed by the
layout alone: the k-th such piece lives at `k * piece_length`, and the part file needs no
index (it stays sparse where slots are unused). Pure: offsets in, offsets out.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.engine.storage.layout import Layout


def part_file_name(info_hash: bytes) -> str:
    return f".{info_hash.hex()}.parts"


class PartMap:
    """The slot of each shared piece (one touching several files) in the part file."""

    def __init__(self, layout: Layout, padding: Sequence[bool]) -> None:
        self._piece_length = layout.piece_length
        real = [i for i, length in enumerate(layout.file_lengths) if length and not padding[i]]
        shared: set[int] = set()
        for index in real:
            span = layout.file_pieces(index)
            for piece in (span[0], span[-1]):  # only a file's ends can share a piece
                files = {s.file_index for s in layout.piece_spans(piece) if not padding[s.file_index]}
                if len(files) > 1:
                    shared.add(piece)
        self.slots = {piece: slot for slot, piece in enumerate(sorted(shared))}
        self._by_file = {i: [p for p in (layout.file_pieces(i)[0], layout.file_pieces(i)[-1]) if p in self.slots]
                         for i in real}

    def offset(self, absolute: int) -> int | None:
        """Where the torrent's byte at `absolute` lives in the part file, None if its piece has no slot."""
        piece, within = divmod(absolute, self._piece_length)
        slot = self.slots.get(piece)
        return None if slot is None else slot * self._piece_length + within

    def shared_pieces(self, file_index: int) -> list[int]:
        """The file's pieces that have a slot (its first and/or last), without repeats."""
        return list(dict.fromkeys(self._by_file.get(file_index, ())))

    def end_of(self, pieces: Sequence[int]) -> int:
        """The part file's length needed to hold these pieces' slots (0 for none)."""
        return max((self.slots[p] + 1 for p in pieces if p in self.slots), default=0) * self._piece_length
