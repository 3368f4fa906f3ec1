"""Which peers took the other way in, so that the next dial to them goes that way first. Pure.

"allow" dials encrypted first and plain after. A peer that refused MSE and took plain is
dialed plain first next time in this session, and a peer dialed plain first that refused
plain but took MSE goes back to the usual order: libtorrent keeps the same one bit per peer
(torrent_peer::pe_support, flipped when an encrypted or a plain attempt fails). Only the
peers that differ from the usual order are kept, the oldest forgotten first past `capacity`.
"""

from __future__ import annotations

from collections import OrderedDict

from app.engine.transport.mse_transport import DIAL_ORDER, Encryption

MAX_REMEMBERED = 4096  # peers dialed plain first; about 100 bytes each

Address = tuple[str, int]


class EncryptionMemory:
    """The peers (address, port) that refused MSE and took plain: dialed plain first."""

    def __init__(self, capacity: int = MAX_REMEMBERED) -> None:
        self.capacity = capacity
        self._plain_first: OrderedDict[Address, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._plain_first)

    def dial_order(self, policy: Encryption, address: Address) -> tuple[bool, ...]:
        """Dial encrypted (True) or plain (False), in this order, until one works."""
        order = DIAL_ORDER[policy]
        return order[::-1] if address in self._plain_first and len(order) > 1 else order

    def connected(self, policy: Encryption, address: Address, encrypted: bool) -> None:
        """A dial that ended in a BitTorrent handshake: remember the way it took."""
        if len(DIAL_ORDER[policy]) < 2:
            return  # "require" and "disable" have one way only: nothing to learn
        if encrypted:
            self._plain_first.pop(address, None)  # the usual order works for it: nothing to keep
            return
        self._plain_first[address] = None
        self._plain_first.move_to_end(address)
        while len(self._plain_first) > self.capacity:
            self._plain_first.popitem(last=False)
