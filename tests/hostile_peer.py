"""Scripted misbehaving peers for tests: real TCP peers on 127.0.0.x speaking the wire protocol badly.

GarbageSeed answers every request with random bytes. ScriptedPeer is one raw connection a
test drives by hand (it connects to a session, or a ScriptedListener hands it a connection
the session made); the test sends whatever bytes it likes and watches the session hang up.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

from app.engine.bitfield import Bitfield
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder, encode, encode_handshake, piece_header

HOSTILE_HOST = "127.0.0.5"  # bans and limits are per IP: keep offenders apart from honest peers


def random_peer_id() -> bytes:
    return b"-XX0001-" + os.urandom(6).hex().encode()


class GarbageSeed:
    """Claims every piece, unchokes everyone and answers every request with random bytes."""

    def __init__(self, info_hash: bytes, num_pieces: int) -> None:
        self.info_hash = info_hash
        self.num_pieces = num_pieces
        self.connections = 0
        self.blocks_sent = 0
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1") -> int:
        self._server = await asyncio.start_server(self._serve, host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        decoder = WireDecoder()
        writer.write(encode_handshake(self.info_hash, random_peer_id()))
        writer.write(encode(m.BitfieldMessage(Bitfield.full(self.num_pieces).to_bytes())))
        writer.write(encode(m.Unchoke()))
        try:
            while data := await reader.read(65536):
                decoder.feed(data)
                for event in decoder.events():
                    if isinstance(event, m.Request):
                        writer.write(piece_header(event.index, event.begin, event.length))
                        writer.write(os.urandom(event.length))
                        self.blocks_sent += 1
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


class ScriptedPeer:
    """One raw connection to a Piecemeal session, driven step by step by a test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, *, host: str = "127.0.0.1", source: str = HOSTILE_HOST) -> ScriptedPeer:
        """Connect to the session listening on host:port, from the address `source`."""
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        return cls(reader, writer)

    def send(self, *items: m.Message | bytes) -> None:
        for item in items:
            self.writer.write(item if isinstance(item, bytes) else encode(item))

    def send_handshake(self, info_hash: bytes, peer_id: bytes | None = None, reserved: bytes = bytes(8)) -> None:
        self.writer.write(encode_handshake(info_hash, peer_id or random_peer_id(), reserved))

    async def read_handshake(self, timeout: float = 10.0) -> m.Handshake:
        """The session's handshake (whatever follows it stays unread)."""
        data = await asyncio.wait_for(self.reader.readexactly(m.HANDSHAKE_LENGTH), timeout)
        decoder = WireDecoder()
        decoder.feed(data)
        handshake = next(iter(decoder.events()))
        assert isinstance(handshake, m.Handshake)
        return handshake

    async def dribble(self, data: bytes, interval: float) -> None:
        """Send `data` one byte at a time, `interval` seconds apart, until it is all sent or refused."""
        for byte in data:
            if self.writer.is_closing():
                return
            self.writer.write(bytes([byte]))
            try:
                await self.writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(interval)

    async def wait_closed(self, timeout: float = 10.0) -> bool:
        """Read and drop until the session hangs up; False if it has not within `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    def close(self) -> None:
        self.writer.close()


Script = Callable[[ScriptedPeer], Awaitable[None]]


class ScriptedListener:
    """Accepts the connections a session makes to it and runs `script` on each of them."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.hung_up = 0  # connections the session closed before the script ended
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str = HOSTILE_HOST) -> int:
        self._server = await asyncio.start_server(self._accept, host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        peer = ScriptedPeer(reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.script(peer)
            if await peer.wait_closed():
                self.hung_up += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hung_up += 1
        finally:
            self._tasks.discard(task)
            peer.close()
