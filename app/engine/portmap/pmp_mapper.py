"""Port mappings asked of the gateway with PCP, or NAT-PMP if it speaks only that: sans-I/O.

    mapper = PmpMapper("10.0.0.5", {"TCP": 51413, "UDP": 51413})
    mapper.start(now)
    mapper.handle_timer(now); send(mapper.datagrams_to_send()); wake at mapper.next_timer()
    mapper.receive(datagram, now)        # from the gateway's port 5351 only
    mapper.announced(datagram, source_ip, now)  # heard on 224.0.0.1:5350: a router's restart
    mapper.stop()                        # queues the deletes
    mapper.status                        # a PortMapStatus

No socket, task or clock inside: `now` comes in, datagrams and a timer go out. PCP is tried
first; a router that answers "unsupported version" is asked again with NAT-PMP (RFC 6887 9).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from app.engine.portmap import natpmp, pcp
from app.engine.portmap.errors import PortMapError
from app.engine.portmap.status import Mapping, MapState, PortMapStatus

FIRST_RETRY = 0.25  # RFC 6886 3.1: 250 ms, doubling at every try
ATTEMPTS = 9  # RFC 6886 3.1: nine tries (the last waits 64 s), then the router is taken as absent
RETRY_AFTER_ERROR = 60.0  # a router out of ports or offline is asked again after this
RETRY_AFTER_SILENCE = 600.0  # a router that did not answer is asked again after this (it may be rebooting)
NO_ANSWER = "the router did not answer"
_PCP_TRANSIENT = {7, 8, 10}  # RFC 6887 7.4: "short lifetime" errors, worth asking again
_NATPMP_TRANSIENT = {3, 4}
_ADDRESS = "address"  # the NAT-PMP external address request rides along as one more slot


class Method(Enum):
    PCP = "PCP"
    NATPMP = "NAT-PMP"


@dataclass(slots=True)
class _Slot:
    """One thing asked of the router: a TCP or UDP mapping, or (NAT-PMP) the external address."""

    transport: str
    internal_port: int
    nonce: bytes
    state: MapState = MapState.TRYING  # what the last answer said (a renewal keeps MAPPED)
    asking: bool = False  # a request is out: only then does an answer count
    external_port: int = 0
    due: float | None = 0.0  # when to send next: a retry or a renewal; None: nothing to send
    attempt: int = 0
    reason: str = ""

    def ask(self, now: float) -> None:
        self.asking, self.attempt, self.due = True, 0, now


@dataclass(slots=True)
class _Epoch:
    """RFC 6886 3.6 / RFC 6887 8.5: the router's clock; running backwards means it restarted."""

    seconds: int | None = None
    seen_at: float = 0.0

    def restarted(self, seconds: int, now: float) -> bool:
        # Its clock may run 1/8 slower than ours; 2 s of slack for rounding and delay.
        back = self.seconds is not None and seconds < self.seconds + (now - self.seen_at) * 7 / 8 - 2
        self.seconds, self.seen_at = seconds, now
        return back


@dataclass(slots=True)
class PmpMapper:
    client_ip: str
    ports: dict[str, int]  # "TCP"/"UDP" -> our listen port
    gateway: str = ""  # the router's address: the only source of announcements believed
    lifetime: int = 7200
    attempts: int = ATTEMPTS
    nonce: Callable[[int], bytes] = os.urandom
    method: Method = Method.PCP
    external_address: str = ""
    restarts: int = 0  # how often the router was seen to restart
    _slots: list[_Slot] = field(default_factory=list)
    _outbox: list[bytes] = field(default_factory=list)
    _epoch: _Epoch = field(default_factory=_Epoch)

    def start(self, now: float) -> None:
        self._slots = [_Slot(t, port, self.nonce(pcp.NONCE_SIZE)) for t, port in self.ports.items()]
        for slot in self._slots:
            slot.ask(now)

    def stop(self) -> None:
        """Queue a delete for every open mapping (RFC 6886 3.4, RFC 6887 15); no more timers."""
        for slot in self._slots:
            if slot.state == MapState.MAPPED and slot.transport != _ADDRESS:
                self._outbox.append(self._request(slot, lifetime=0))
            slot.due, slot.asking = None, False

    def datagrams_to_send(self) -> list[bytes]:
        out, self._outbox = self._outbox, []
        return out

    def next_timer(self) -> float | None:
        return min((s.due for s in self._slots if s.due is not None), default=None)

    def handle_timer(self, now: float) -> None:
        for slot in self._slots:
            if slot.due is not None and slot.due <= now:
                self._send(slot, now)

    def _send(self, slot: _Slot, now: float) -> None:
        if not slot.asking:  # RFC 6886 3.3, RFC 6887 11.2.1: a renewal at half the lifetime, or a retry
            slot.ask(now)
        if slot.attempt >= self.attempts:
            self._silent(slot, now)
            return
        self._outbox.append(self._request(slot, self.lifetime))
        slot.due = now + FIRST_RETRY * 2**slot.attempt
        slot.attempt += 1

    def _request(self, slot: _Slot, lifetime: int) -> bytes:
        if slot.transport == _ADDRESS:
            return natpmp.encode_address()
        suggested = slot.external_port or slot.internal_port  # a renewal keeps the port it has
        if self.method == Method.NATPMP:
            # RFC 6886 3.4: a delete names external port 0
            external = suggested if lifetime else 0
            return natpmp.encode_map(natpmp.Protocol[slot.transport], slot.internal_port, external, lifetime)
        # RFC 6887 15: a delete repeats the mapping's nonce, protocol and internal port
        return pcp.encode_map(slot.nonce, pcp.Protocol[slot.transport], slot.internal_port, suggested,
                              lifetime, client_ip=self.client_ip)

    def unreachable(self, now: float) -> None:
        """The gateway said nothing listens on its port 5351 (ICMP port unreachable): no
        retry can help, so the slots asking now give up at once rather than after 2 minutes."""
        for slot in self._slots:
            if slot.asking:
                self._silent(slot, now)

    @staticmethod
    def _silent(slot: _Slot, now: float) -> None:
        slot.state, slot.reason, slot.asking = MapState.FAILED, NO_ANSWER, False
        slot.due = now + RETRY_AFTER_SILENCE

    def receive(self, data: bytes, now: float) -> None:
        """An answer from the router; malformed or unmatched ones are dropped."""
        if data[:2] == _PCP_ANNOUNCE:  # RFC 6887 14.1.1: sent to a client's own port too
            self._announcement(data, now)
            return
        try:
            if self.method == Method.PCP:
                self._receive_pcp(pcp.decode(data), now)
            else:
                self._receive_natpmp(natpmp.decode(data), now)
        except PortMapError:
            return

    def _receive_pcp(self, answer: pcp.MapAnswer, now: float) -> None:
        if answer.result == pcp.UNSUPP_VERSION:
            self._fall_back_to_natpmp(now)
            return
        # RFC 6887 11.4: an answer counts only if nonce, protocol and internal port all match.
        slot = next((s for s in self._slots if s.nonce == answer.nonce and s.asking
                     and pcp.Protocol[s.transport] == answer.protocol
                     and s.internal_port == answer.internal_port), None)
        if slot is None:
            return
        self._check_epoch(answer.epoch, now)
        if answer.result == 0 and answer.external_port == 0:
            return  # RFC 6887 11.3: a success names a port; this answer is broken, not believed
        if answer.result == 0:
            self.external_address = answer.external_address
            self._mapped(slot, answer.external_port, answer.lifetime, now)
        else:
            self._refused(slot, pcp.RESULTS.get(answer.result, f"PCP error {answer.result}"),
                          answer.result in _PCP_TRANSIENT, now)

    def _receive_natpmp(self, answer: natpmp.AddressAnswer | natpmp.MapAnswer, now: float) -> None:
        slot = self._natpmp_slot(answer)
        if slot is None:
            return
        self._check_epoch(answer.epoch, now)
        if answer.result != 0:
            self._refused(slot, natpmp.RESULTS.get(answer.result, f"NAT-PMP error {answer.result}"),
                          answer.result in _NATPMP_TRANSIENT, now)
        elif isinstance(answer, natpmp.AddressAnswer):
            self.external_address = answer.external_address
            self._mapped(slot, 0, self.lifetime, now)
        elif answer.external_port:  # RFC 6886 3.3: a success names a port; else it is broken
            self._mapped(slot, answer.external_port, answer.lifetime, now)

    def _natpmp_slot(self, answer: natpmp.AddressAnswer | natpmp.MapAnswer) -> _Slot | None:
        if isinstance(answer, natpmp.AddressAnswer):
            key = (_ADDRESS, 0)
        else:
            key = (answer.protocol.name, answer.internal_port)
        return next((s for s in self._slots if (s.transport, s.internal_port) == key
                     and s.asking), None)

    def _fall_back_to_natpmp(self, now: float) -> None:
        if self.method == Method.NATPMP:
            return
        self.method = Method.NATPMP
        self._slots.append(_Slot(_ADDRESS, 0, b""))
        for slot in self._slots:
            slot.ask(now)

    def _check_epoch(self, seconds: int, now: float) -> None:
        """A router that restarted forgot every mapping: ask for all of them again now."""
        if self._epoch.restarted(seconds, now):
            self._remap([s for s in self._slots if s.state == MapState.MAPPED], now)

    def announced(self, data: bytes, source: str, now: float) -> None:
        """A datagram heard on 224.0.0.1:5350. RFC 6886 3.2.1 (NAT-PMP's address answer) and
        RFC 6887 14.1.1 (PCP's ANNOUNCE): a router that restarted says so there with its new
        epoch. One whose clock ran backwards lost every mapping: all are asked for at once,
        those that failed while it was away too. Believed from the gateway only (RFC 6886
        3.2.1: others are silently discarded); garbage is dropped."""
        if self.gateway and source == self.gateway:
            self._announcement(data, now)

    def _announcement(self, data: bytes, now: float) -> None:
        if not self._slots:
            return
        try:
            epoch, address = _ANNOUNCEMENTS[data[:1]](data)
        except (KeyError, PortMapError):
            return
        self.external_address = address or self.external_address
        if self._epoch.restarted(epoch, now):
            self._remap([s for s in self._slots if s.due is not None], now)  # not those refused for good, or stopped

    def _remap(self, slots: list[_Slot], now: float) -> None:
        self.restarts += 1
        for slot in slots:
            slot.ask(now)

    def _mapped(self, slot: _Slot, external_port: int, lifetime: int, now: float) -> None:
        # The router may give another port than suggested (taken by someone else): keep its word.
        slot.state, slot.external_port, slot.reason, slot.asking = MapState.MAPPED, external_port, "", False
        slot.due = now + max(lifetime, 2) / 2

    def _refused(self, slot: _Slot, reason: str, transient: bool, now: float) -> None:
        slot.state, slot.reason, slot.asking = MapState.FAILED, reason, False
        slot.due = now + RETRY_AFTER_ERROR if transient else None

    @property
    def status(self) -> PortMapStatus:
        ports = [s for s in self._slots if s.transport != _ADDRESS]
        mapped = tuple(Mapping(s.transport, s.internal_port, s.external_port, self.method.value)
                       for s in ports if s.state == MapState.MAPPED)
        if mapped:
            return PortMapStatus(MapState.MAPPED, mapped, self.external_address)
        failed = [s for s in ports if s.state == MapState.FAILED]
        if ports and len(failed) == len(ports):
            return PortMapStatus(MapState.FAILED, reason=failed[0].reason)
        return PortMapStatus(MapState.TRYING)


def _natpmp_announcement(data: bytes) -> tuple[int, str]:
    answer = natpmp.decode_announce(data)
    return answer.epoch, answer.external_address


def _pcp_announcement(data: bytes) -> tuple[int, str]:
    return pcp.decode_announce(data), ""  # RFC 6887 14.1.1: an ANNOUNCE names no address


_PCP_ANNOUNCE = bytes((pcp.VERSION, pcp.RESPONSE_BIT | pcp.OP_ANNOUNCE))
# The first byte is the version: RFC 6887 9, NAT-PMP 0 and PCP 2 share the port.
_ANNOUNCEMENTS: dict[bytes, Callable[[bytes], tuple[int, str]]] = {
    bytes((natpmp.VERSION,)): _natpmp_announcement,
    bytes((pcp.VERSION,)): _pcp_announcement,
}
