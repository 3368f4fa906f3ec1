"""The asyncio side of MSE/PE: a short-lived protocol that runs the handshake on a fresh
connection (or, accepting, sees that the peer speaks plain BitTorrent) and then hands the
transport to the peer connection, with the RC4 cipher installed in its read and write paths.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from app.engine.errors import RemoteProtocolError
from app.engine.transport.mse import Initiator, Method, Rc4Stream, Responder, looks_plain

log = logging.getLogger(__name__)


class Encryption(enum.StrEnum):
    """The user's choice, as in other clients."""

    ALLOW = "allow"  # accept both; dial with MSE first (offering RC4 and plaintext), plain if that fails
    # (plain first, this session, for a peer that refused MSE: app/engine/transport/mse_memory.py)
    REQUIRE = "require"  # MSE with RC4 only, both ways
    DISABLE = "disable"  # plaintext only; encrypted handshakes are refused


# What we offer when dialing and accept when answering.
METHODS: dict[Encryption, Method] = {
    Encryption.ALLOW: Method.PLAINTEXT | Method.RC4,
    Encryption.REQUIRE: Method.RC4,
}
# Dial encrypted (True) or plain (False), in this order, until one works.
DIAL_ORDER: dict[Encryption, tuple[bool, ...]] = {
    Encryption.ALLOW: (True, False),
    Encryption.REQUIRE: (True,),
    Encryption.DISABLE: (False,),
}


class StreamTaker(Protocol):
    """The peer connection that takes the transport over (app.engine.peer.PeerConnection)."""

    closed: bool

    def take_over(
        self, transport: asyncio.Transport, received: bytes = b"", cipher: Rc4Stream | None = None,
        reached: bytes | None = None,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class StreamStart:
    """How the BitTorrent stream begins once the MSE handshake (or its absence) is settled."""

    cipher: Rc4Stream | None  # RC4 on everything from now on, or None: plaintext
    received: bytes  # the stream's first bytes, already received (and decrypted)
    reached: bytes | None = None  # accepted MSE: the torrent its SKEY named; the handshake must name it too


class _Handover(asyncio.Protocol):
    """Owns the connection until the stream can start; `done` then holds the peer connection."""

    _failure_log: str  # how a failure is logged: the address, then the reason

    def __init__(self, make_peer: Callable[[], StreamTaker], timeout: float) -> None:
        self._make_peer = make_peer
        self._timeout = timeout
        self._timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[StreamTaker] = asyncio.get_running_loop().create_future()

    @property
    def address(self) -> tuple[str, int]:
        """The remote end, as a peer connection names it ("", 0 before the connection is made)."""
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        return (peer[0], peer[1]) if peer else ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._timer = asyncio.get_running_loop().call_later(self._timeout, lambda: self._fail(self._silence()))

    def data_received(self, data: bytes) -> None:
        try:
            self._receive(data)
        except RemoteProtocolError as exc:
            self._fail(str(exc), logging.INFO)  # broke the protocol: the user may want to know who and why

    def eof_received(self) -> bool:
        self._fail("the peer closed the connection during the encrypted handshake")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"the connection broke during the encrypted handshake: {exc}" if exc else
                   "the peer closed the connection during the encrypted handshake")

    def _silence(self) -> str:
        return "the peer went silent during the encrypted handshake"

    def _receive(self, data: bytes) -> None:
        raise NotImplementedError  # the dialing and the accepting ends read differently

    def _send(self, data: bytes) -> None:
        if data and self.transport is not None:
            self.transport.write(data)

    def _hand_over(self, start: StreamStart) -> None:
        assert self.transport is not None
        self._stop_timer()
        peer = self._make_peer()
        peer.take_over(self.transport, start.received, start.cipher, start.reached)  # may turn an accepted peer away
        if not self.done.done():
            self.done.set_result(peer)

    def _fail(self, reason: str, level: int = logging.DEBUG) -> None:
        self._stop_timer()
        if self.done.done():
            return
        peer = self.transport.get_extra_info("peername") if self.transport is not None else None
        log.log(level, self._failure_log, _address(peer), reason)
        if self.transport is not None:
            self.transport.close()
        self.done.set_exception(ConnectionError(reason))
        self.done.exception()  # mark retrieved: an accepted connection has nobody waiting

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _address(peer: tuple[str, int] | None) -> str:
    if not peer:
        return "a peer"
    return f"[{peer[0]}]:{peer[1]}" if ":" in peer[0] else f"{peer[0]}:{peer[1]}"


class DialStream(_Handover):
    """Our outgoing connection: MSE initiator first, then the peer connection."""

    _failure_log = "encrypted handshake with %s failed: %s"  # "allow" dials again in plaintext

    def __init__(self, initiator: Initiator, make_peer: Callable[[], StreamTaker], timeout: float) -> None:
        super().__init__(make_peer, timeout)
        self._initiator = initiator

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._send(self._initiator.data_to_send())

    def _receive(self, data: bytes) -> None:
        self._initiator.receive_data(data)
        self._send(self._initiator.data_to_send())
        result = self._initiator.result
        if result is not None:
            self._hand_over(StreamStart(result.cipher, result.received))


class AcceptStream(_Handover):
    """An accepted connection: plain BitTorrent or MSE, told from its first bytes, as the policy allows."""

    # As the peer connection logs its goodbyes: one format for every connection we close.
    _failure_log = "closing %s (before the BitTorrent handshake): %s"

    def __init__(
        self, policy: Encryption, info_hashes: Callable[[], Iterable[bytes]],
        make_peer: Callable[[], StreamTaker], timeout: float,
        admit: Callable[[AcceptStream], str | None] = lambda stream: None,
    ) -> None:
        super().__init__(make_peer, timeout)
        self._admit = admit
        self._policy = policy
        self._info_hashes = info_hashes
        self._prefix = b""
        self._responder: Responder | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        refusal = self._admit(self)  # why it may not stay (too many, a blocked address), or None
        if refusal is not None:
            self._fail(refusal)

    def _silence(self) -> str:
        return "no handshake" if self._responder is None else super()._silence()

    def _receive(self, data: bytes) -> None:
        if self._responder is None:
            self._prefix += data
            plain = looks_plain(self._prefix)
            if plain is None:
                return
            if plain:
                self._accept_plain()
                return
            self._responder = self._new_responder()
            data = self._prefix
        self._responder.receive_data(data)
        self._send(self._responder.data_to_send())
        result = self._responder.result
        if result is not None:
            self._hand_over(StreamStart(result.cipher, result.received, result.info_hash))

    def _accept_plain(self) -> None:
        if self._policy is Encryption.REQUIRE:
            raise RemoteProtocolError("a plaintext handshake, and encryption is required")
        self._hand_over(StreamStart(None, self._prefix))

    def _new_responder(self) -> Responder:
        if self._policy is Encryption.DISABLE:
            raise RemoteProtocolError("an encrypted handshake, and encryption is disabled")
        return Responder(self._info_hashes, METHODS[self._policy])
