"""Transmission's torrent ids: small integers, stable for the daemon's lifetime (RPC spec 3.1).

Ids are handed out in the order torrents are first seen and never reused, so a client's id
never names another torrent after a removal. `ids` in a request is an id, a list of ids and
info-hashes, or "recently-active"; left out, it means every torrent. Pure: `now` comes in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from app.rpc.request import RpcError

RECENT_SECONDS: Final = 60.0  # "recently active": changed or active within the last minute
RECENTLY_ACTIVE: Final = ("recently-active", "recently_active")  # the 4.1 spelling too
_HEX: Final = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class IdQuery:
    """What a request's `ids` asked for: every torrent, the recently active, or these."""

    everything: bool = False
    recent: bool = False
    numbers: frozenset[int] = frozenset()
    hashes: frozenset[str] = frozenset()


EVERY_TORRENT: Final = IdQuery(everything=True)


def parse_ids(value: Any) -> IdQuery:
    if value is None:
        return EVERY_TORRENT
    if isinstance(value, str):
        if value in RECENTLY_ACTIVE:
            return IdQuery(recent=True)
        value = [value]
    elif _is_id(value):
        value = [value]
    if not isinstance(value, list):
        raise RpcError("'ids' must be a torrent id, a list of ids and hashes, or \"recently-active\"")
    if not value:
        return EVERY_TORRENT  # RPC spec 3.1: an empty ids is shorthand for all
    numbers: set[int] = set()
    hashes: set[str] = set()
    for item in value:
        if _is_id(item):
            numbers.add(int(item))
        elif isinstance(item, str) and _is_hash(item.lower()):
            hashes.add(item.lower())
        else:
            raise RpcError(f"{_shown(item)} is not a torrent id or a 40-digit info-hash")
    return IdQuery(numbers=frozenset(numbers), hashes=frozenset(hashes))


def _is_id(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return 0 <= value < 2**53 and value == int(value)


def _is_hash(text: str) -> bool:
    return len(text) == 40 and set(text) <= _HEX


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class TorrentIds:
    """info-hash <-> id, plus when each torrent was last active and which were removed when."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._hashes: dict[int, str] = {}
        self._active_at: dict[str, float] = {}
        self._removed_at: dict[int, float] = {}
        self._next = 1

    def id_for(self, info_hash: str) -> int:
        number = self._ids.get(info_hash)
        if number is None:
            number = self._ids[info_hash] = self._next
            self._hashes[number] = info_hash
            self._next += 1
        return number

    def hash_for(self, number: int) -> str | None:
        return self._hashes.get(number)

    def touch(self, info_hash: str, now: float) -> None:
        """The torrent changed or moved data at `now`."""
        self._active_at[info_hash] = now

    def forget(self, info_hash: str, now: float) -> None:
        number = self._ids.pop(info_hash, None)
        self._active_at.pop(info_hash, None)
        if number is not None:
            del self._hashes[number]
            self._removed_at[number] = now

    def removed_since(self, now: float) -> list[int]:
        """Ids of torrents removed within the last RECENT_SECONDS (older ones are dropped)."""
        self._removed_at = {n: t for n, t in self._removed_at.items() if now - t <= RECENT_SECONDS}
        return sorted(self._removed_at)

    def select(self, query: IdQuery, info_hashes: Sequence[str], now: float) -> list[str]:
        """The info-hashes the query names, in the session's order; unknown ids are skipped."""
        if query.everything:
            return list(info_hashes)
        if query.recent:
            return [ih for ih in info_hashes if now - self._active_at.get(ih, -1e18) <= RECENT_SECONDS]
        wanted = set(query.hashes) | {self._hashes[n] for n in query.numbers if n in self._hashes}
        return [ih for ih in info_hashes if ih in wanted]
