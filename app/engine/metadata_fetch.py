"""Fetching a magnet link's info dictionary from peers (BEP 9), as pure bookkeeping.

Peers offer the metadata in their extension handshake (`metadata_size`); we ask each piece
of it from one peer at a time, re-ask another after a timeout or a reject, and accept the
whole only when its SHA-1 is the info-hash (the assembler checks).
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Iterator

from app.engine.errors import RemoteProtocolError
from app.engine.wire import extension as ext

REQUEST_TIMEOUT = 10.0


class MetadataFetch:
    def __init__(self, info_hash: bytes) -> None:
        self.info_hash = info_hash
        self.done: asyncio.Future[bytes] = asyncio.get_event_loop().create_future()
        self._assembler: ext.MetadataAssembler | None = None
        self._offers: dict[Hashable, int] = {}  # peer -> metadata size it announced
        self._asked: dict[int, tuple[Hashable, float]] = {}  # piece -> (peer, when)
        self._refused: set[tuple[Hashable, int]] = set()

    def offered(self, peer: Hashable, size: int) -> None:
        if 0 < size <= ext.MAX_METADATA_SIZE:  # BEP 9: absurd sizes are not believed
            self._offers[peer] = size
            if self._assembler is None:
                self._assembler = ext.MetadataAssembler(self.info_hash, size)

    def peer_gone(self, peer: Hashable) -> None:
        self._offers.pop(peer, None)
        self._asked = {piece: ask for piece, ask in self._asked.items() if ask[0] is not peer}

    def requests(self, now: float) -> Iterator[tuple[Hashable, int]]:
        """(peer, piece) pairs to ask now; each missing piece from one peer at a time."""
        assembler = self._assembler
        if assembler is None or self.done.done():
            return
        peers = [p for p, size in self._offers.items() if size == assembler.size]
        for piece in assembler.missing_pieces():
            asked = self._asked.get(piece)
            if asked is not None and now - asked[1] < REQUEST_TIMEOUT:
                continue
            candidates = [p for p in peers if (p, piece) not in self._refused and (asked is None or p is not asked[0])]
            if not candidates:
                continue
            peer = candidates[piece % len(candidates)]  # spread the pieces over the peers
            self._asked[piece] = (peer, now)
            yield peer, piece

    def received(self, peer: Hashable, message: ext.MetadataMessage) -> None:
        assembler = self._assembler
        if assembler is None or self.done.done():
            return
        if isinstance(message, ext.MetadataReject):
            self._refused.add((peer, message.piece))
            self._asked.pop(message.piece, None)
            return
        if not isinstance(message, ext.MetadataData) or message.total_size != assembler.size:
            return
        self._asked.pop(message.piece, None)
        try:
            whole = assembler.add_piece(message.piece, message.data)
        except RemoteProtocolError:
            self._offers.pop(peer, None)  # its pieces made a wrong whole: stop asking it
            raise
        if whole is not None:
            self.done.set_result(whole)
