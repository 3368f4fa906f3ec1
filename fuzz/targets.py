"""Fuzz targets: one function per parser that faces the network or a file, bytes in.

Each target hands the bytes to the parser, accepts the EngineError subclass that parser
documents, and lets anything else escape: an escaping exception is a finding, and so is
a `Finding` raised by the checks made on whatever did parse (a strictly decoded bencode
value re-encodes to the same bytes, a parsed torrent's paths stay inside the save folder,
a byte stream decodes the same however it is cut, the decoder's buffer stays bounded).
The long harness (`python -m fuzz.run`) and the property tests in tests/fuzz share them.
"""

from __future__ import annotations

import dataclasses
import ntpath
import posixpath
import random
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

from app.engine import bencode
from app.engine.dht import krpc
from app.engine.errors import BencodeError, MagnetError, MetainfoError, RemoteProtocolError, TrackerError
from app.engine.magnet import format_magnet, parse_magnet
from app.engine.portmap import natpmp, pcp
from app.engine.portmap.errors import PortMapError
from app.engine.portmap.pmp_mapper import PmpMapper
from app.engine.metainfo import MAX_COMPONENT_BYTES, Metainfo, parse_info, parse_metainfo, safe_component
from app.engine.tracker import http_codec, udp_codec
from app.engine.transport import utp
from app.engine.transport.utp_codec import Packet, PacketType, encode_packet
from app.engine.tracker.types import AnnounceRequest
from app.engine.wire import extension
from app.engine.wire.codec import INITIAL_BUFFER, WireDecoder
from app.engine.wire.messages import Piece
from app.rpc import request as rpc_request
from app.rpc.methods import chosen_priorities
from app.rpc.settings import SettingsError, checked
from app.rpc.torrent_ids import parse_ids

Target = Callable[[bytes], None]

MAX_CHUNK = 17  # the wire target cuts its stream into pieces of 1..MAX_CHUNK bytes
_POSIX_ROOT = "/save"
_WINDOWS_ROOT = "C:\\save"


class Finding(AssertionError):
    """A parser accepted input and then broke a promise about what it returns."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise Finding(message)


# bencode ------------------------------------------------------------------------------------


def bencode_target(data: bytes) -> None:
    """Strict decoding refuses with BencodeError only; what it accepts is canonical."""
    try:
        value = bencode.decode(data)
    except BencodeError:
        pass
    else:
        _check(bencode.encode(value) == data, "a strictly decoded value re-encodes differently")
    for lenient in (_decode_unsorted, bencode.decode_torrent, bencode.decode_prefix, bencode.decode_info):
        try:
            lenient(data)
        except BencodeError:
            pass


def _decode_unsorted(data: bytes) -> Any:
    return bencode.decode(data, sorted_keys=False)


# metainfo -----------------------------------------------------------------------------------


def metainfo_target(data: bytes) -> None:
    """A .torrent (or a bare info dictionary) parses to safe paths or gives a MetainfoError."""
    for parse in (parse_metainfo, parse_info):
        try:
            metainfo = parse(data)
        except MetainfoError:
            continue
        check_metainfo(metainfo)


def check_metainfo(metainfo: Metainfo) -> None:
    """Every path is made of safe components and stays inside the save folder on any OS."""
    _check(metainfo.num_pieces * metainfo.piece_length >= metainfo.total_length, "too few pieces")
    if metainfo.format != "v1":
        check_v2(metainfo)
    for entry in metainfo.files:
        _check(len(entry.path) >= 1, "a file has an empty path")
        for component in entry.path:
            check_component(component)
        _check(_inside(posixpath, _POSIX_ROOT, entry.path), f"{entry.path} leaves the folder")
        _check(_inside(ntpath, _WINDOWS_ROOT, entry.path), f"{entry.path} leaves the folder")


def check_v2(metainfo: Metainfo) -> None:
    """BEP 52: every non-empty file has a root and starts a piece; every layer fits its file."""
    for entry in metainfo.files:
        if entry.length and not entry.padding:
            _check(len(entry.pieces_root) == 32, f"{entry.path} has no pieces root")
            _check(entry.offset % metainfo.piece_length == 0, f"{entry.path} does not start a piece")
            layer = metainfo.piece_layers.get(entry.pieces_root)
            pieces = -(-entry.length // metainfo.piece_length)
            _check(layer is None or len(layer) == 32 * pieces, f"{entry.path} has a layer of the wrong size")


def check_component(component: str) -> None:
    _check(component not in ("", ".", ".."), f"path component {component!r} names nothing")
    _check(safe_component(component) == component, f"path component {component!r} is not safe")
    _check(not any(sep in component for sep in "/\\\0:"), f"{component!r} holds a separator")
    _check(len(component.encode("utf-8")) <= MAX_COMPONENT_BYTES, f"{component!r} is too long")


def _inside(flavour: Any, root: str, path: tuple[str, ...]) -> bool:
    joined = flavour.normpath(flavour.join(root, *path))
    return bool(joined.startswith(root + flavour.sep))


# magnet -------------------------------------------------------------------------------------


def magnet_target(data: bytes) -> None:
    """A magnet link parses or gives a MagnetError; what parses survives format and parse."""
    try:
        magnet = parse_magnet(data.decode("utf-8", "replace"))
    except MagnetError:
        return
    _check(len(magnet.info_hash) == 20, "the info-hash is not 20 bytes")
    again = parse_magnet(
        format_magnet(magnet.info_hash, magnet.display_name, magnet.trackers, magnet.web_seeds)
    )
    _check(again == dataclasses.replace(magnet, peers=()), "a formatted magnet link parses differently")


# peer wire ----------------------------------------------------------------------------------


def wire_target(data: bytes) -> None:
    """The first byte picks the mode (handshake first or not) and seeds where the rest is cut.

    Decoding the whole stream at once and in pieces of 1..MAX_CHUNK bytes must give the same
    messages and, if any, the same RemoteProtocolError at the same place.
    """
    if not data:
        return
    expect_handshake = bool(data[0] & 1)
    stream = data[1:]
    rng = random.Random(data[0])
    sizes = _chunk_sizes(len(stream), rng)
    whole = decode_stream(stream, [len(stream)], expect_handshake=expect_handshake)
    cut = decode_stream(stream, sizes, expect_handshake=expect_handshake)
    _check(whole == cut, f"the stream decodes differently when cut: {whole} != {cut}")


def _chunk_sizes(total: int, rng: random.Random) -> list[int]:
    sizes = []
    while total > 0:
        size = min(total, rng.randint(1, MAX_CHUNK))
        sizes.append(size)
        total -= size
    return sizes


def decode_stream(
    stream: bytes, sizes: list[int], *, expect_handshake: bool = True, max_message: int | None = None
) -> tuple[list[Any], str | None]:
    """Events decoded from `stream` fed in pieces of `sizes`, and the error that ended it.

    Piece data is copied at once (it is a view into the decoder's buffer); after each feed
    the decoder's buffer must stay within `buffer_bound`.
    """
    decoder = WireDecoder(expect_handshake=expect_handshake)
    if max_message is not None:
        decoder.max_message = max_message
    events: list[Any] = []
    position = 0
    try:
        for size in sizes:
            decoder.feed(stream[position : position + size])
            position += size
            events.extend(_copied(event) for event in decoder.events())
            _check(decoder.buffer_size <= buffer_bound(decoder, size), "the receive buffer grew")
    except RemoteProtocolError as error:
        return events, str(error)
    return events, None


def buffer_bound(decoder: WireDecoder, feed_size: int) -> int:
    """The most a decoder may hold: twice its largest message and one feed, or its start size."""
    return max(INITIAL_BUFFER, 2 * (decoder.max_message + 4 + feed_size))


def _copied(event: Any) -> Any:
    return Piece(event.index, event.begin, bytes(event.data)) if isinstance(event, Piece) else event


# trackers -----------------------------------------------------------------------------------


def http_tracker_target(data: bytes) -> None:
    """An HTTP tracker's body: an answer, or a TrackerError; `failure_reason` never raises."""
    for parse in (http_codec.parse_announce_response, http_codec.parse_scrape_response):
        try:
            parse(data)
        except TrackerError:
            pass
    http_codec.failure_reason(data)


ANNOUNCE_REQUEST = AnnounceRequest(info_hash=bytes(20), peer_id=bytes(20), port=6881, uploaded=0, downloaded=0, left=1)


def udp_tracker_target(data: bytes) -> None:
    """Datagrams for both roles decode or give a TrackerError; a client exchange survives them.

    The exchange is seeded so its first transaction id is fixed: a fuzzer can find it. The
    input is a sequence of datagrams, each preceded by its length in one byte.
    """
    for decode in (_reply_v4, _reply_v6, udp_codec.decode_packet):
        try:
            decode(data)
        except TrackerError:
            pass
    exchange = udp_codec.UdpExchange(rng=random.Random(0))
    exchange.begin(ANNOUNCE_REQUEST, 0.0)
    for datagram in datagrams(data):
        try:
            outcome = exchange.receive(datagram, 0.0)
        except TrackerError:
            return
        if isinstance(outcome, udp_codec.Answered):
            return


def datagrams(data: bytes) -> Iterator[bytes]:
    while data:
        size, data = data[0], data[1:]
        yield data[:size]
        data = data[size:]


def _reply_v4(data: bytes) -> Any:
    return udp_codec.decode_reply(data, socket.AF_INET)


def _reply_v6(data: bytes) -> Any:
    return udp_codec.decode_reply(data, socket.AF_INET6)


# extension messages -------------------------------------------------------------------------


def extension_target(data: bytes) -> None:
    """BEP 10 handshake, BEP 9 ut_metadata and BEP 11 ut_pex payloads: only RemoteProtocolError."""
    for parse in (extension.parse_extension_handshake, extension.parse_pex, _metadata):
        try:
            parse(data)
        except RemoteProtocolError:
            pass


def _metadata(data: bytes) -> None:
    message = extension.parse_metadata_message(data)
    if isinstance(message, extension.MetadataData):
        assembler = extension.MetadataAssembler(bytes(20), message.total_size)
        assembler.add_piece(message.piece, message.data)


# KRPC ---------------------------------------------------------------------------------------


def krpc_target(data: bytes) -> None:
    """A DHT datagram decodes to a message that encodes and decodes back, or gives a KrpcError."""
    try:
        message = krpc.decode(data)
    except krpc.KrpcError:
        return
    _check(krpc.decode(krpc.encode(message)) == message, "a KRPC message changes when re-encoded")


# uTP ----------------------------------------------------------------------------------------

UTP_ID = 0x1234  # the fuzzed connection was dialled with this id: it receives on UTP_ID + 1
UTP_OUR_SEQ = 1000
UTP_PEER_SEQ = 65530  # near the wrap, so edits of seq_nr and ack_nr cross it
UTP_NOW = 1.0


def utp_peer_packet(kind: PacketType, seq: int, ack: int, payload: bytes = b"", sack: bytes = b"") -> bytes:
    """A packet from the fuzzed connection's peer, with the ids and numbers it expects."""
    return encode_packet(Packet(kind, UTP_ID + 1, 5000, 3000, 1 << 20, seq & 0xFFFF, ack, sack, payload))


def established_utp() -> utp.UtpConnection:
    """An accepted connection with data received and data of its own in flight."""
    syn = Packet(PacketType.SYN, UTP_ID, 1000, 0, 1 << 20, UTP_PEER_SEQ, 0)
    connection = utp.UtpConnection.incoming(syn, UTP_OUR_SEQ, UTP_NOW)
    connection.receive_datagram(utp_peer_packet(PacketType.DATA, UTP_PEER_SEQ + 1, UTP_OUR_SEQ - 1, b"hi"), UTP_NOW)
    connection.send(bytes(50_000))
    connection.datagrams_to_send(UTP_NOW)
    connection.events()
    return connection


def utp_target(data: bytes) -> None:
    """Datagrams (each after its length in one byte) fed to an established connection, with time
    moving on and the timers run: nothing but our own errors escapes, memory stays bounded, and
    nothing happens after Closed."""
    connection = established_utp()
    now = UTP_NOW
    closed = False
    for datagram in datagrams(data):
        now += 0.05
        connection.receive_datagram(datagram, now)
        timer = connection.next_timer()
        if timer is not None and timer <= now:
            connection.timeout(now)
        sent = connection.datagrams_to_send(now)
        events = connection.events()
        _check(not (closed and events), f"events after Closed: {events}")
        closed = closed or any(isinstance(event, utp.Closed) for event in events)
        check_utp_bounds(connection, sent)


def check_utp_bounds(connection: utp.UtpConnection, sent: list[bytes]) -> None:
    _check(0 <= connection.receive_window <= utp.RECEIVE_BUFFER, "the receive window left its range")
    _check(connection.bytes_in_flight <= utp.MAX_WINDOW + utp.MAX_PAYLOAD, "more in flight than the window")
    _check(len(sent) <= utp.MAX_WINDOW // utp.MAX_PAYLOAD + 2, f"{len(sent)} datagrams at once")
    _check(all(len(datagram) <= utp.PACKET_SIZE + 2 + 128 for datagram in sent), "a datagram too large")


# NAT-PMP and PCP ----------------------------------------------------------------------------

PORTMAP_PORTS = {"TCP": 6881, "UDP": 6882}


def portmap_target(data: bytes) -> None:
    """A gateway's datagrams: each decodes or gives a PortMapError; a mapper fed them (nonces
    all zero, so that a fuzzer can match them) maps only the ports it asked for, to real ports,
    and asks at most once per slot and tick."""
    for decode in (natpmp.decode, pcp.decode):
        try:
            decode(data)
        except PortMapError:
            pass
    mapper = PmpMapper("10.0.0.5", dict(PORTMAP_PORTS), nonce=bytes)
    mapper.start(0.0)
    for tick, datagram in enumerate(datagrams(data)):
        mapper.handle_timer(float(tick))
        _check(len(mapper.datagrams_to_send()) <= 3, "a mapper sends more than one request per slot")
        mapper.receive(datagram, float(tick))
    for mapping in mapper.status.mappings:
        _check(PORTMAP_PORTS.get(mapping.transport) == mapping.internal_port, f"unasked mapping {mapping}")
        _check(0 < mapping.external_port < 65536, f"mapped to port {mapping.external_port}")


PORTMAP_GATEWAY = "10.0.0.1"


def _mapped_pmp_mapper() -> PmpMapper:
    """Both ports mapped through PCP at time 0, by a router whose epoch then said 100 s."""
    mapper = PmpMapper("10.0.0.5", dict(PORTMAP_PORTS), gateway=PORTMAP_GATEWAY, nonce=bytes)
    mapper.start(0.0)
    mapper.handle_timer(0.0)
    mapper.datagrams_to_send()
    address = bytes(10) + b"\xff\xff" + bytes((203, 0, 113, 7))
    for protocol, port in ((6, 6881), (17, 6882)):
        mapper.receive(struct.pack("!BBBBII12x", 2, 0x81, 0, 0, 3600, 100)
                       + struct.pack("!12sB3xHH16s", bytes(12), protocol, port, port, address), 0.0)
    _check(len(mapper.status.mappings) == 2, "the fuzz target's mapper did not map")
    return mapper


def portmap_announce_target(data: bytes) -> None:
    """Datagrams heard on 224.0.0.1:5350, each from the gateway or from a stranger (the low bit
    of its first byte): each decodes or gives a PortMapError; a stranger's never make the
    mapper remap; it asks at most once per slot and tick; once stopped, it sends nothing."""
    for decode in (natpmp.decode_announce, pcp.decode_announce):
        try:
            decode(data)
        except PortMapError:
            pass
    mapper = _mapped_pmp_mapper()
    for tick, framed in enumerate(datagrams(data), start=1):
        gateway = not framed[:1] or framed[0] % 2 == 0
        restarts = mapper.restarts
        mapper.announced(framed[1:], PORTMAP_GATEWAY if gateway else "10.0.0.66", float(tick))
        _check(gateway or mapper.restarts == restarts, "a stranger's announcement made the mapper remap")
        mapper.handle_timer(float(tick))
        _check(len(mapper.datagrams_to_send()) <= 2, "a mapper sends more than one request per slot")
    mapper.stop()
    mapper.datagrams_to_send()
    mapper.announced(struct.pack("!BBBBII12x", 2, 0x80, 0, 0, 0, 0), PORTMAP_GATEWAY, 1e6)
    mapper.handle_timer(1e6)
    _check(mapper.datagrams_to_send() == [], "a stopped mapper remapped on an announcement")
# Transmission RPC ---------------------------------------------------------------------------

_RPC_GETTERS = (
    rpc_request.get_bool, rpc_request.get_number, rpc_request.get_int, rpc_request.get_str,
    rpc_request.get_strings, rpc_request.get_indices,
)


def rpc_request_target(data: bytes) -> None:
    """An RPC request parses to a method and an arguments object, or gives an RpcError; every
    check the methods make of its arguments returns a value of its type or an RpcError."""
    try:
        request = rpc_request.parse_request(data)
    except rpc_request.RpcError:
        return
    _check(isinstance(request.method, str) and bool(request.method), "a request parsed without a method")
    _check(isinstance(request.arguments, dict), "a request parsed with arguments that are not an object")
    args = request.arguments
    for check in (_rpc_ids, _rpc_getters, _rpc_file_choice, _rpc_settings):
        try:
            check(args)
        except rpc_request.RpcError:
            pass


def _rpc_ids(args: dict[str, Any]) -> None:
    query = parse_ids(args.get("ids"))
    _check(all(isinstance(n, int) and n >= 0 for n in query.numbers), "an id parsed to something else")


def _rpc_getters(args: dict[str, Any]) -> None:
    for key in args:
        for getter in _RPC_GETTERS:
            try:
                getter(args, key)
            except rpc_request.RpcError:
                pass


def _rpc_file_choice(args: dict[str, Any]) -> None:
    priorities = chosen_priorities([1, 1, 1, 1], args)
    _check(len(priorities) == 4 and set(priorities) <= {0, 1, 2}, "file choices changed the number of files")


def _rpc_settings(args: dict[str, Any]) -> None:
    for key, value in args.items():
        try:
            checked(key, value)
        except SettingsError:
            pass


TARGETS: dict[str, Target] = {
    "bencode": bencode_target,
    "metainfo": metainfo_target,
    "magnet": magnet_target,
    "wire": wire_target,
    "http_tracker": http_tracker_target,
    "udp_tracker": udp_tracker_target,
    "extension": extension_target,
    "krpc": krpc_target,
    "utp": utp_target,
    "portmap": portmap_target,
    "pmp_announce": portmap_announce_target,
    "rpc_request": rpc_request_target,
}
