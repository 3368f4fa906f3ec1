"""Scripted misbehaving peers for tests: a real TCP peer speaking the wire protocol badly."""

from __future__ import annotations

import asyncio
import os

from app.engine.bitfield import Bitfield
from app.engine.wire import messages as m
from app.engine.wire.codec import WireDecoder, encode, encode_handshake, piece_header


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
        writer.write(encode_handshake(self.info_hash, b"-XX0001-" + os.urandom(6).hex().encode()))
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
