"""Sans-I/O peer wire codec (BEP 3): bytes in, message values out; values in, bytes out.

The decoder owns one receive buffer and never resizes it while a message view may be
alive: it compacts by copying the unread tail to the front (same size, no reallocation)
and grows (or, after a small read, shrinks) by switching to a new buffer, which leaves
views into the old one valid. Compaction happens only in `get_buffer`/`feed`, never while
`events()` is read, so a `Piece.data` view (or a `take_blocks` one) is valid until the next
`get_buffer`/`feed` call, which is all the consumer needs to copy it once.

A download is mostly runs of piece messages and an upload runs of requests: `take_blocks`
and `take_requests` hand those over without a parser call or message object per block.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from app.engine.errors import RemoteProtocolError
from app.engine.wire.messages import (
    HANDSHAKE_LENGTH,
    PROTOCOL,
    AllowedFast,
    BitfieldMessage,
    Cancel,
    Choke,
    Event,
    Extended,
    Handshake,
    HashReject,
    Hashes,
    HashRequest,
    Have,
    HaveAll,
    HaveNone,
    Interested,
    KeepAlive,
    Message,
    MessageId,
    NotInterested,
    Piece,
    Port,
    Reject,
    Request,
    Suggest,
    Unchoke,
)

BLOCK_SIZE = 16 * 1024
MAX_ACCEPTED_BLOCK = 128 * 1024  # the largest block a peer may request or send
INITIAL_BUFFER = 256 * 1024
MIN_READ = 64 * 1024  # room kept free for one read from the socket
# The room grows while reads fill it, up to this: a fast peer costs fewer loop wake-ups per GiB.
MAX_READ = 1024 * 1024

_U32 = struct.Struct(">I")
_U32_U8 = struct.Struct(">IB")
_THREE_U32 = struct.Struct(">III")
_TWO_U32 = struct.Struct(">II")
_PIECE_HEADER = struct.Struct(">IBII")  # BEP 3: length, id, index, begin in front of a block
_PIECE_HEADER_SIZE = _PIECE_HEADER.size
_PIECE_ID = int(MessageId.PIECE)  # a plain int: compared once per received block
_REQUEST_HEADER = struct.Struct(">IBIII")  # BEP 3: a whole request message
_REQUEST_HEADER_SIZE = _REQUEST_HEADER.size
_REQUEST_ID = int(MessageId.REQUEST)
_INDEX_MESSAGE = struct.Struct(">IBI")  # BEP 3: a whole have (length 5, id, index)

KEEP_ALIVE = KeepAlive()
_SINGLETONS: dict[int, Message] = {
    MessageId.CHOKE: Choke(),
    MessageId.UNCHOKE: Unchoke(),
    MessageId.INTERESTED: Interested(),
    MessageId.NOT_INTERESTED: NotInterested(),
    MessageId.HAVE_ALL: HaveAll(),
    MessageId.HAVE_NONE: HaveNone(),
}


def _fixed(length: int) -> Callable[[memoryview], None]:
    def check(payload: memoryview) -> None:
        if len(payload) != length:
            raise RemoteProtocolError(f"message payload is {len(payload)} bytes, expected {length}")

    return check


def _index(cls: type[Have] | type[Suggest] | type[AllowedFast]) -> Callable[[memoryview], Message]:
    check = _fixed(4)

    def parse(payload: memoryview) -> Message:
        check(payload)
        return cls(_U32.unpack_from(payload)[0])

    return parse


def _triple(cls: type[Request] | type[Cancel] | type[Reject]) -> Callable[[memoryview], Message]:
    check = _fixed(12)

    def parse(payload: memoryview) -> Message:
        check(payload)
        index, begin, length = _THREE_U32.unpack_from(payload)
        if length == 0 or length > MAX_ACCEPTED_BLOCK:
            raise RemoteProtocolError(f"block length {length} is out of bounds")
        return cls(index, begin, length)

    return parse


def _singleton(message: Message) -> Callable[[memoryview], Message]:
    check = _fixed(0)

    def parse(payload: memoryview) -> Message:
        check(payload)
        return message

    return parse


def _parse_piece(payload: memoryview) -> Message:
    if len(payload) < 9:
        raise RemoteProtocolError("piece message is too short")
    index, begin = _TWO_U32.unpack_from(payload)
    return Piece(index, begin, payload[8:])


def _parse_port(payload: memoryview) -> Message:
    _fixed(2)(payload)
    return Port(struct.unpack_from(">H", payload)[0])


def _parse_extended(payload: memoryview) -> Message:
    if len(payload) < 1:
        raise RemoteProtocolError("extended message has no id")
    return Extended(payload[0], bytes(payload[1:]))


_HASH_HEADER = struct.Struct(">32sIIII")  # BEP 52: pieces root, base layer, index, length, proof layers


def _hash_header(payload: memoryview) -> tuple[bytes, int, int, int, int]:
    if len(payload) < _HASH_HEADER.size:
        raise RemoteProtocolError("hash message is too short")
    fields: tuple[bytes, int, int, int, int] = _HASH_HEADER.unpack_from(payload)
    return fields


def _parse_hash_request(cls: type[HashRequest] | type[HashReject]) -> Callable[[memoryview], Message]:
    def parse(payload: memoryview) -> Message:
        _fixed(_HASH_HEADER.size)(payload)
        return cls(*_hash_header(payload))

    return parse


def _parse_hashes(payload: memoryview) -> Message:
    header = _hash_header(payload)
    hashes = bytes(payload[_HASH_HEADER.size :])
    if not hashes or len(hashes) % 32:
        raise RemoteProtocolError("a hashes message must carry whole 32-byte hashes")
    return Hashes(*header, hashes)


def _encode_hash_fields(message_id: int) -> Callable[[Message], bytes]:
    def encode(m: Message) -> bytes:
        assert isinstance(m, HashRequest | Hashes | HashReject)
        header = _HASH_HEADER.pack(m.pieces_root, m.base_layer, m.index, m.length, m.proof_layers)
        return _frame(message_id, header + (m.hashes if isinstance(m, Hashes) else b""))

    return encode


_PARSERS: dict[int, Callable[[memoryview], Message]] = {
    MessageId.HAVE: _index(Have),
    MessageId.BITFIELD: lambda payload: BitfieldMessage(bytes(payload)),
    MessageId.REQUEST: _triple(Request),
    MessageId.PIECE: _parse_piece,
    MessageId.CANCEL: _triple(Cancel),
    MessageId.PORT: _parse_port,
    MessageId.SUGGEST: _index(Suggest),
    MessageId.REJECT: _triple(Reject),
    MessageId.ALLOWED_FAST: _index(AllowedFast),
    MessageId.EXTENDED: _parse_extended,
    MessageId.HASH_REQUEST: _parse_hash_request(HashRequest),
    MessageId.HASHES: _parse_hashes,
    MessageId.HASH_REJECT: _parse_hash_request(HashReject),
    **{mid: _singleton(msg) for mid, msg in _SINGLETONS.items()},
}


class WireDecoder:
    """Turns a byte stream from one peer into a handshake followed by messages."""

    def __init__(self, *, max_message: int = MAX_ACCEPTED_BLOCK + 13, expect_handshake: bool = True):
        self.max_message = max_message  # raised by the owner once the bitfield size is known
        self._buf = bytearray(INITIAL_BUFFER)
        self._start = 0  # first unread byte
        self._end = 0  # one past the last received byte
        self._missing = 0  # bytes still to come of a partly received message
        self._read_size = MIN_READ  # room offered for the next read
        self._handshake_pending = expect_handshake

    @property
    def buffer_size(self) -> int:
        """Bytes held for receiving: at most about twice max_message plus MAX_READ."""
        return len(self._buf)

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Writable space for the next received bytes (asyncio.BufferedProtocol)."""
        self._make_room(max(sizehint, self._read_size, self._missing))  # room for the rest of a message
        return memoryview(self._buf)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        if self._end == len(self._buf):  # the read took all the room: the peer sends faster than we read
            self._read_size = min(2 * self._read_size, MAX_READ)
        elif nbytes < self._read_size // 8:  # it slowed down (or stopped): give the room back now
            self._read_size = MIN_READ
            if len(self._buf) > INITIAL_BUFFER and self._end - self._start <= INITIAL_BUFFER:
                self._switch(bytearray(INITIAL_BUFFER))

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes (for callers without a BufferedProtocol, and tests)."""
        self._make_room(len(data))
        self._buf[self._end : self._end + len(data)] = data
        self._end += len(data)

    def events(self) -> Iterator[Event]:
        """Every complete handshake/message received so far, in order."""
        while (event := self.next_event()) is not None:
            yield event

    def next_event(self) -> Event | None:
        """The next complete handshake/message, or None until more bytes arrive."""
        if self._handshake_pending:
            return self._next_handshake()
        return self._next_message()

    def take_blocks(self) -> list[tuple[int, int, memoryview]]:
        """(index, begin, data) of the complete piece messages at the front, taken off the stream.

        The hot path of a download: one unpack per block and no message object. Anything
        else (another message, a piece not yet whole or malformed) stops the run and is
        left for `next_event`, which raises on the malformed ones.
        """
        blocks: list[tuple[int, int, memoryview]] = []
        if self._handshake_pending:
            return blocks
        buf, start, end, limit = self._buf, self._start, self._end, self.max_message
        view, unpack = memoryview(buf), _PIECE_HEADER.unpack_from
        while end - start >= _PIECE_HEADER_SIZE:
            length, message_id, index, begin = unpack(buf, start)
            if message_id != _PIECE_ID or not 9 < length <= limit or end - start < 4 + length:
                break
            blocks.append((index, begin, view[start + _PIECE_HEADER_SIZE : start + 4 + length]))
            start += 4 + length
        self._start = start
        return blocks

    def take_requests(self) -> list[Request]:
        """The complete, well-formed request messages at the front, taken off the stream.

        The hot path of an upload, as `take_blocks` is of a download: no parser per message.
        """
        requests: list[Request] = []
        if self._handshake_pending:
            return requests
        buf, start, end, unpack = self._buf, self._start, self._end, _REQUEST_HEADER.unpack_from
        while end - start >= _REQUEST_HEADER_SIZE:
            length, message_id, index, begin, size = unpack(buf, start)
            if length != 13 or message_id != _REQUEST_ID or not 0 < size <= MAX_ACCEPTED_BLOCK:
                break  # another message, or a bad request: next_event says which
            requests.append(Request(index, begin, size))
            start += _REQUEST_HEADER_SIZE
        self._start = start
        return requests

    def _next_handshake(self) -> Handshake | None:
        if self._end - self._start < HANDSHAKE_LENGTH:
            if self._end > self._start and self._buf[self._start] != len(PROTOCOL):
                raise RemoteProtocolError("not a BitTorrent handshake")
            return None
        view = self._buf[self._start : self._start + HANDSHAKE_LENGTH]
        if view[0] != len(PROTOCOL) or view[1:20] != PROTOCOL:
            raise RemoteProtocolError("not a BitTorrent handshake")
        self._start += HANDSHAKE_LENGTH
        self._handshake_pending = False
        return Handshake(bytes(view[20:28]), bytes(view[28:48]), bytes(view[48:68]))

    def _next_message(self) -> Message | None:
        self._missing = 0
        while self._end - self._start >= 4:
            start = self._start
            (length,) = _U32.unpack_from(self._buf, start)
            if length == 0:
                self._start = start + 4
                return KEEP_ALIVE
            if length > self.max_message:
                raise RemoteProtocolError(
                    f"message of {length} bytes exceeds the {self.max_message}-byte limit"
                )
            if self._end - start < 4 + length:
                self._missing = start + 4 + length - self._end  # get_buffer makes room for it
                return None
            self._start = start + 4 + length
            parser = _PARSERS.get(self._buf[start + 4])
            if parser is not None:  # BEP 3: messages with unknown ids are ignored
                return parser(memoryview(self._buf)[start + 5 : start + 4 + length])
        return None

    def _make_room(self, needed: int) -> None:
        """Ensure `needed` bytes fit after the unread data, without resizing a live buffer.

        A buffer grown for a large message goes back to the initial size once that message
        has been read: a peer cannot keep megabytes of ours per connection.
        """
        unread = self._end - self._start
        wanted = unread + needed
        if wanted > len(self._buf):
            self._switch(bytearray(wanted + wanted // 4))  # headroom: the next read's unread tail may be longer
        elif len(self._buf) > INITIAL_BUFFER and wanted <= INITIAL_BUFFER:
            self._switch(bytearray(INITIAL_BUFFER))
        elif self._start and (self._end + needed > len(self._buf) or unread == 0):
            self._buf[:unread] = self._buf[self._start : self._end]
            self._start, self._end = 0, unread

    def _switch(self, buffer: bytearray) -> None:
        """Move the unread bytes to `buffer`; views into the old buffer stay valid."""
        unread = self._end - self._start
        buffer[:unread] = self._buf[self._start : self._end]
        self._buf, self._start, self._end = buffer, 0, unread


def encode_handshake(info_hash: bytes, peer_id: bytes, reserved: bytes = bytes(8)) -> bytes:
    return bytes([len(PROTOCOL)]) + PROTOCOL + reserved + info_hash + peer_id


def _frame(message_id: int, payload: bytes = b"") -> bytes:
    return _U32_U8.pack(len(payload) + 1, message_id) + payload


def _encode_triple(message_id: int) -> Callable[[Message], bytes]:
    return lambda m: _frame(message_id, _THREE_U32.pack(m.index, m.begin, m.length))  # type: ignore[union-attr]


def _encode_index(message_id: int) -> Callable[[Message], bytes]:
    return lambda m: _frame(message_id, _U32.pack(m.index))  # type: ignore[union-attr]


_ENCODERS: dict[type, Callable[[Message], bytes]] = {
    KeepAlive: lambda m: bytes(4),
    Choke: lambda m: _frame(MessageId.CHOKE),
    Unchoke: lambda m: _frame(MessageId.UNCHOKE),
    Interested: lambda m: _frame(MessageId.INTERESTED),
    NotInterested: lambda m: _frame(MessageId.NOT_INTERESTED),
    HaveAll: lambda m: _frame(MessageId.HAVE_ALL),
    HaveNone: lambda m: _frame(MessageId.HAVE_NONE),
    Have: _encode_index(MessageId.HAVE),
    Suggest: _encode_index(MessageId.SUGGEST),
    AllowedFast: _encode_index(MessageId.ALLOWED_FAST),
    BitfieldMessage: lambda m: _frame(MessageId.BITFIELD, m.data),  # type: ignore[union-attr]
    Request: _encode_triple(MessageId.REQUEST),
    Cancel: _encode_triple(MessageId.CANCEL),
    Reject: _encode_triple(MessageId.REJECT),
    Piece: lambda m: piece_header(m.index, m.begin, len(m.data)) + bytes(m.data),  # type: ignore[union-attr]
    Port: lambda m: _frame(MessageId.PORT, struct.pack(">H", m.port)),  # type: ignore[union-attr]
    Extended: lambda m: _frame(MessageId.EXTENDED, bytes([m.ext_id]) + m.payload),  # type: ignore[union-attr]
    HashRequest: _encode_hash_fields(MessageId.HASH_REQUEST),
    Hashes: _encode_hash_fields(MessageId.HASHES),
    HashReject: _encode_hash_fields(MessageId.HASH_REJECT),
}


def encode(message: Message) -> bytes:
    return _ENCODERS[type(message)](message)




def encode_request(index: int, begin: int, length: int) -> bytes:
    """The hot-path form of `encode(Request(...))`."""
    return _REQUEST_HEADER.pack(13, MessageId.REQUEST, index, begin, length)


def encode_have(index: int) -> bytes:
    """The hot-path form of `encode(Have(index))`: every verified piece sends one to every peer."""
    return _INDEX_MESSAGE.pack(5, MessageId.HAVE, index)


def encode_cancel(index: int, begin: int, length: int) -> bytes:
    """The hot-path form of `encode(Cancel(...))`: the endgame cancels blocks by the dozen."""
    return _REQUEST_HEADER.pack(13, MessageId.CANCEL, index, begin, length)


def piece_header(index: int, begin: int, length: int) -> bytes:
    """The 13 bytes before a block's data; the data itself is written without copying."""
    return _PIECE_HEADER.pack(9 + length, MessageId.PIECE, index, begin)
