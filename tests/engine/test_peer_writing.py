"""PeerConnection's writing side on a real loopback socket whose other end does not read."""

from __future__ import annotations

import asyncio

from app.engine.peer import WRITE_BUFFER_HIGH, PeerConnection


class _NoTorrents:
    peer_id = b"-PM0000-" + b"0" * 12

    def torrent_for(self, info_hash: bytes) -> None:
        return None


async def test_many_blocks_at_once_pause_serving_until_the_socket_drains() -> None:
    readers: list[asyncio.StreamReader] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        readers.append(reader)  # a peer that takes nothing for now

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, peer = await asyncio.get_running_loop().create_connection(
        lambda: PeerConnection(_NoTorrents(), None, ("127.0.0.1", port)), "127.0.0.1", port
    )
    try:
        block = memoryview(bytes(16 * 1024))
        for _ in range(3 * WRITE_BUFFER_HIGH // len(block) // 16):
            peer._write_chunks([block] * 16)  # what _serve hands over: a batch of blocks
        assert transport.get_write_buffer_size() > WRITE_BUFFER_HIGH
        assert not peer._write_ok.is_set()  # writelines() alone would never have said so
        while not readers:
            await asyncio.sleep(0.01)
        async with asyncio.timeout(10):
            while not peer._write_ok.is_set():
                await readers[0].read(1 << 20)  # the peer reads: we may write again
    finally:
        transport.close()
        server.close()
