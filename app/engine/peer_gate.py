"""Which peer addresses may connect, either way: the IP filter and the user's bans.

Held by Sockets (app/engine/sockets.py), the one place that dials peers, and asked by the
session's accept path before any handshake byte is read. It counts what it turned away, for
the status bar.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.engine.ip_filter import IpFilter


class PeerGate:
    """The block list plus banned addresses; `blocked` counts refused connections both ways."""

    def __init__(self) -> None:
        self._list = IpFilter()
        self._bans: frozenset[str] = frozenset()
        self._combined = IpFilter()
        self.blocked = 0
        self.description = ""  # what the loaded list holds, in the user's words ("" for none)

    @property
    def bans(self) -> frozenset[str]:
        return self._bans

    @property
    def rules(self) -> int:
        """Merged ranges in force, the bans included."""
        return len(self._combined)

    def set_list(self, block_list: IpFilter, description: str = "") -> None:
        self._list, self.description = block_list, description
        self._combined = block_list.with_addresses(self._bans)

    def set_bans(self, hosts: Iterable[str]) -> None:
        self._bans = frozenset(hosts)
        self._combined = self._list.with_addresses(self._bans)

    def blocks(self, host: str) -> bool:
        return self._combined.blocks(host)

    def refuses(self, host: str) -> bool:
        """Is a connection with `host` to be refused? Counted if so."""
        if not self._combined.blocks(host):
            return False
        self.blocked += 1
        return True
