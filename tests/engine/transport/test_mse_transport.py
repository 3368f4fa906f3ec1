"""The asyncio MSE adapter on loopback sockets: hand-over to the stream, policies, a silent peer."""

from __future__ import annotations

import asyncio
import logging

import pytest

from app.engine.transport.mse import Initiator, Method, Rc4Stream
from app.engine.transport.mse_transport import AcceptStream, DialStream, Encryption
from app.engine.wire.codec import encode_handshake

INFO_HASH = bytes(range(20))
HANDSHAKE = encode_handshake(INFO_HASH, b"-PM0100-abcdefghijkl")
WAIT = 10.0  # seconds before a test gives up with a message


class Stream(asyncio.Protocol):
    """Stands in for the peer connection: records what it receives, decrypted."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.cipher: Rc4Stream | None = None
        self.reached: bytes | None = None
        self.encrypted = False
        self.closed = False
        self.greeting = greeting
        self.received = bytearray()
        self.got = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def take_over(
        self, transport: asyncio.Transport, received: bytes = b"", cipher: Rc4Stream | None = None,
        reached: bytes | None = None,
    ) -> None:
        """As the peer connection does: the cipher, then the transport, then the bytes read so far."""
        self.cipher = cipher
        self.reached = reached
        self.encrypted = cipher is not None
        transport.set_protocol(self)
        self.connection_made(transport)
        if received:
            self.receive_decrypted(received)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.greeting:
            transport.write(self.greeting if self.cipher is None else self.cipher.encrypt(self.greeting))

    def receive_decrypted(self, data: bytes) -> None:
        self.received += data
        self.got.set()

    def data_received(self, data: bytes) -> None:
        self.receive_decrypted(data if self.cipher is None else self.cipher.decrypt(data))

    async def wait_for(self, size: int) -> bytes:
        async with asyncio.timeout(WAIT):
            while len(self.received) < size:
                self.got.clear()
                await self.got.wait()
        return bytes(self.received)


async def serve(policy: Encryption, accepted: list[AcceptStream], peer: Stream) -> asyncio.Server:
    def factory() -> AcceptStream:
        stream = AcceptStream(policy, lambda: [INFO_HASH], lambda: peer, timeout=WAIT)
        accepted.append(stream)
        return stream

    return await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)


async def dial(port: int, methods: Method, peer: Stream, timeout: float = WAIT) -> DialStream:
    loop = asyncio.get_running_loop()
    stream = DialStream(Initiator(INFO_HASH, methods), lambda: peer, timeout)
    await loop.create_connection(lambda: stream, "127.0.0.1", port)
    return stream


@pytest.mark.parametrize(("policy", "methods", "rc4"), [
    (Encryption.ALLOW, Method.RC4, True),
    (Encryption.REQUIRE, Method.RC4 | Method.PLAINTEXT, True),
    (Encryption.ALLOW, Method.RC4 | Method.PLAINTEXT, False),
    (Encryption.ALLOW, Method.PLAINTEXT, False),
])
async def test_both_ends_hand_the_stream_over(policy: Encryption, methods: Method, rc4: bool) -> None:
    ours, theirs, accepted = Stream(HANDSHAKE), Stream(b"x" * 100_000), []
    server = await serve(policy, accepted, theirs)
    try:
        dialer = await dial(server.sockets[0].getsockname()[1], methods, ours)
        async with asyncio.timeout(WAIT):
            assert await dialer.done is ours
        assert await theirs.wait_for(len(HANDSHAKE)) == HANDSHAKE
        assert await ours.wait_for(100_000) == b"x" * 100_000
        assert ours.encrypted is theirs.encrypted is rc4
        assert theirs.reached == INFO_HASH and ours.reached is None  # the accepting end checks it
    finally:
        server.close()
        for peer in (ours, theirs):
            if peer.transport is not None:
                peer.transport.close()


async def test_a_plain_handshake_is_handed_over_as_it_came() -> None:
    theirs, accepted = Stream(), []
    server = await serve(Encryption.ALLOW, accepted, theirs)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(HANDSHAKE[:5])
        await writer.drain()
        writer.write(HANDSHAKE[5:])
        assert await theirs.wait_for(len(HANDSHAKE)) == HANDSHAKE
        assert not theirs.encrypted and theirs.reached is None
        writer.close()
    finally:
        server.close()


@pytest.mark.parametrize(("policy", "first_bytes", "reason"), [
    (Encryption.REQUIRE, HANDSHAKE, "a plaintext handshake, and encryption is required"),
    (Encryption.DISABLE, bytes(96), "an encrypted handshake, and encryption is disabled"),
    (Encryption.ALLOW, bytes(range(256)) * 3, "garbage instead of an encrypted handshake"),
])
async def test_refusals_are_logged_with_the_reason(
    policy: Encryption, first_bytes: bytes, reason: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.engine.transport.mse_transport")
    accepted: list[AcceptStream] = []
    server = await serve(policy, accepted, Stream())
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        writer.write(first_bytes)
        async with asyncio.timeout(WAIT):
            while await reader.read(65536):  # the responder may answer Ya before it gives up
                pass
            with pytest.raises(ConnectionError, match=reason):
                await accepted[0].done
        writer.close()
    finally:
        server.close()
    assert reason in caplog.text


async def test_a_peer_that_goes_silent() -> None:
    silent: list[asyncio.StreamWriter] = []

    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    try:
        dialer = await dial(server.sockets[0].getsockname()[1], Method.RC4, Stream(), timeout=0.2)
        async with asyncio.timeout(WAIT):
            with pytest.raises(ConnectionError, match="went silent"):
                await dialer.done
        assert dialer.transport is not None and dialer.transport.is_closing()
    finally:
        for writer in silent:
            writer.close()
        server.close()


async def test_a_peer_that_hangs_up() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(96)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        dialer = await dial(server.sockets[0].getsockname()[1], Method.RC4, Stream())
        async with asyncio.timeout(WAIT):
            with pytest.raises(ConnectionError, match="closed the connection during the encrypted handshake"):
                await dialer.done
    finally:
        server.close()
