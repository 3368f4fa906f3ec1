"""Valid inputs for each fuzz target: the starting corpus the fuzzers mutate.

Built from our own encoders so they stay in step with the codecs they feed.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import struct

from app.engine import bencode, merkle
from app.engine.dht import krpc
from app.engine.magnet import format_magnet
from app.engine.tracker import udp_codec
from app.engine.wire import extension
from app.engine.wire import messages as m
from app.engine.wire.codec import encode, encode_handshake, piece_header
from app.engine.transport.utp_codec import Packet, PacketType, encode_packet
from fuzz.targets import ANNOUNCE_REQUEST, UTP_ID, UTP_OUR_SEQ, UTP_PEER_SEQ, utp_peer_packet

_HASH = bytes(range(20))
_ID = b"-PM0100-" + bytes(12)


def _info(multi_file: bool) -> dict[bytes, object]:
    info: dict[bytes, object] = {b"name": b"folder", b"piece length": 16384, b"pieces": bytes(40)}
    if multi_file:
        info[b"files"] = [
            {b"length": 20000, b"path": [b"a", b"b.txt"]},
            {b"length": 100, b"path": [b"c.bin"], b"attr": b"p"},
        ]
    else:
        info[b"length"] = 20100
    return info


def _torrent(multi_file: bool) -> bytes:
    return bencode.encode({
        b"announce": b"http://127.0.0.1:6969/announce",
        b"announce-list": [[b"udp://127.0.0.1:6969"], [b"http://127.0.0.2/announce"]],
        b"comment": b"seed",
        b"info": _info(multi_file),
        b"url-list": [b"http://127.0.0.1/files/"],
    })


def _bencode() -> list[bytes]:
    return [b"i42e", b"4:spam", b"le", b"de", b"l4:spami-7ee", b"d3:cow3:moo4:spaml1:a1:bee", _torrent(False)]


def _v2_torrent(hybrid: bool) -> bytes:
    """BEP 52: two files, one of three 16 KiB pieces (so with a piece layer), one short."""
    big, small = bytes(range(256)) * 160, b"small file"  # 40960 bytes: 3 pieces, the last short
    leaves = merkle.block_hashes(big)
    layer = merkle.piece_layer(leaves, 16384)
    big_root = merkle.root_from_layer(layer, 16384)
    small_root = merkle.file_root(merkle.block_hashes(small))
    info: dict[bytes, object] = {
        b"name": b"v2",
        b"piece length": 16384,
        b"meta version": 2,
        b"file tree": {
            b"big.bin": {b"": {b"length": len(big), b"pieces root": big_root}},
            b"dir": {b"small.txt": {b"": {b"length": len(small), b"pieces root": small_root}}},
        },
    }
    if hybrid:
        pad = -len(big) % 16384
        info[b"files"] = [
            {b"length": len(big), b"path": [b"big.bin"]},
            {b"length": pad, b"path": [b".pad", str(pad).encode()], b"attr": b"p"},
            {b"length": len(small), b"path": [b"dir", b"small.txt"]},
        ]
        whole = big + bytes(pad) + small
        info[b"pieces"] = b"".join(hashlib.sha1(whole[i : i + 16384]).digest() for i in range(0, len(whole), 16384))
    return bencode.encode({b"info": info, b"piece layers": {big_root: b"".join(layer)}})


def _metainfo() -> list[bytes]:
    return [
        _torrent(True), _torrent(False), bencode.encode(_info(True)), _v2_torrent(False), _v2_torrent(True),
    ]


def _magnet() -> list[bytes]:
    hex_link = format_magnet(_HASH, "a name", ["udp://127.0.0.1:6969"], ["http://127.0.0.1/ws"])
    base32 = "magnet:?xt=urn:btih:AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQT&dn=x+y&x.pe=127.0.0.1:6881&x.pe=[::1]:1"
    return [(hex_link + "&x.pe=host.example:80&tr.1=http://a/announce").encode(), base32.encode()]


def _wire() -> list[bytes]:
    messages: list[m.Message] = [
        m.BitfieldMessage(b"\xff\xe0"), m.Unchoke(), m.Interested(), m.Have(3), m.Request(1, 0, 16384),
        m.Cancel(1, 0, 16384), m.Port(6881), m.HaveAll(), m.Reject(2, 16384, 100), m.AllowedFast(4),
        m.Suggest(5), m.Extended(0, bencode.encode({b"m": {b"ut_pex": 2}})), m.KeepAlive(), m.Choke(),
        m.HashRequest(bytes(range(32)), 1, 0, 4, 2), m.HashReject(bytes(32), 0, 8, 8, 0),  # BEP 52
        m.Hashes(bytes(range(32)), 1, 0, 2, 1, bytes(range(64)) * 2),
    ]
    body = b"".join(encode(message) for message in messages) + piece_header(1, 0, 5) + b"hello"
    reserved = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x05])
    return [b"\x01" + encode_handshake(_HASH, _ID, reserved) + body, b"\x00" + body]


def _http_tracker() -> list[bytes]:
    peers = socket.inet_aton("127.0.0.1") + (6881).to_bytes(2, "big")
    peers6 = socket.inet_pton(socket.AF_INET6, "::1") + (6882).to_bytes(2, "big")
    return [
        bencode.encode({b"interval": 1800, b"complete": 3, b"incomplete": 1, b"peers": peers, b"peers6": peers6}),
        bencode.encode({b"interval": 60, b"peers": [{b"ip": b"127.0.0.2", b"port": 1, b"peer id": _ID}]}),
        bencode.encode({b"failure reason": b"unregistered torrent"}),
        bencode.encode({b"files": {_HASH: {b"complete": 1, b"incomplete": 2, b"downloaded": 3}}}),
    ]


def _udp_tracker() -> list[bytes]:
    """A connect reply then an announce reply, with the ids the target's exchange expects."""
    exchange = udp_codec.UdpExchange(rng=random.Random(0))
    connect = udp_codec.decode_packet(exchange.begin(ANNOUNCE_REQUEST, 0.0)).transaction_id
    connected = udp_codec.encode(udp_codec.ConnectReply(connect, 0x1234))
    outcome = exchange.receive(connected, 0.0)
    assert isinstance(outcome, udp_codec.Send)
    announce = udp_codec.decode_packet(outcome.datagram).transaction_id
    reply = udp_codec.encode(udp_codec.AnnounceReply(announce, 900, 2, 1, (("127.0.0.1", 6881),)))
    error = udp_codec.encode(udp_codec.ErrorReply(connect, "go away"))
    return [bytes([len(connected)]) + connected + bytes([len(reply)]) + reply, bytes([len(error)]) + error]


def _extension() -> list[bytes]:
    handshake = extension.ExtensionHandshake(
        m={"ut_metadata": 1, "ut_pex": 2}, v="Piecemeal", p=6881, reqq=500, yourip=bytes(4), metadata_size=20000
    )
    pex = extension.PexMessage(added=(("127.0.0.1", 6881),), added_flags=b"\x10", dropped6=(("::1", 1),))
    return [
        extension.encode_extension_handshake(handshake),
        extension.encode_metadata_message(extension.MetadataRequest(0)),
        extension.encode_metadata_message(extension.MetadataData(1, 20000, bytes(20000 - 16384))),
        extension.encode_metadata_message(extension.MetadataReject(0)),
        extension.encode_pex(pex),
    ]


def _krpc() -> list[bytes]:
    node = krpc.NodeInfo(hashlib.sha1(b"node").digest(), "127.0.0.1", 6881)
    messages: list[krpc.Message] = [
        krpc.Ping(b"aa", _HASH),
        krpc.FindNode(b"ab", _HASH, _HASH, version=b"PM01"),
        krpc.GetPeers(b"ac", _HASH, _HASH, ip=("127.0.0.1", 1)),
        krpc.AnnouncePeer(b"ad", _HASH, _HASH, 6881, b"token", implied_port=True),
        krpc.Response(b"ae", _HASH, nodes=(node,), values=(("127.0.0.2", 2),), token=b"t"),
        krpc.Error(b"af", 201, "A Generic Error Ocurred"),
    ]
    return [krpc.encode(message) for message in messages]


def _utp() -> list[bytes]:
    """Packets the fuzzed connection expects, each after its length: data in and out of order,
    acks with and without a SACK, a FIN, a RESET, a resent SYN."""
    peer, ours = UTP_PEER_SEQ, UTP_OUR_SEQ
    packets = [
        utp_peer_packet(PacketType.DATA, peer + 2, ours, b"in order"),
        utp_peer_packet(PacketType.DATA, peer + 4, ours, b"out of order"),
        utp_peer_packet(PacketType.STATE, peer + 3, ours + 1, sack=b"\x01\x00\x00\x00"),
        utp_peer_packet(PacketType.STATE, peer + 3, ours - 1),
        utp_peer_packet(PacketType.FIN, peer + 5, ours),
        utp_peer_packet(PacketType.RESET, peer + 5, ours),
        encode_packet(Packet(PacketType.SYN, UTP_ID, 1000, 0, 1 << 20, peer, 0)),
    ]
    framed = [bytes([len(packet)]) + packet for packet in packets]
    return [b"".join(framed[:4]), b"".join(framed[:5]), framed[2] * 4, framed[5], framed[6] + framed[0]]


def _portmap() -> list[bytes]:
    """A PCP router's answers (zero nonces, as the target's mapper asks) and a NAT-PMP router's."""
    address = bytes(10) + b"\xff\xff" + bytes((203, 0, 113, 7))
    pcp_answers = [struct.pack("!BBBBII12x", 2, 0x81, 0, 0, 3600, 100)
                   + struct.pack("!12sB3xHH16s", bytes(12), protocol, port, port, address)
                   for protocol, port in ((6, 6881), (17, 6882))]
    natpmp_answers = [struct.pack("!BBHI", 0, 129, 1, 5), struct.pack("!BBHI4B", 0, 128, 0, 6, 203, 0, 113, 7),
                      struct.pack("!BBHIHHI", 0, 130, 0, 7, 6881, 6881, 3600)]
    return [b"".join(bytes([len(d)]) + d for d in answers) for answers in (pcp_answers, natpmp_answers)]


def _portmap_announce() -> list[bytes]:
    """Announcements on 224.0.0.1:5350, each behind a byte whose low bit says "not the gateway":
    PCP's ANNOUNCE of a restart, NAT-PMP's address answer, the same from a stranger."""
    pcp_restart = struct.pack("!BBBBII12x", 2, 0x80, 0, 0, 0, 0)
    natpmp_restart = struct.pack("!BBHI4B", 0, 128, 0, 1, 203, 0, 113, 8)
    framed = [bytes([len(d) + 1, source]) + d for source, d in ((0, pcp_restart), (0, natpmp_restart),
                                                                (1, pcp_restart))]
    return [framed[2] + framed[0], framed[1], b"".join(framed)]


def _rpc_request() -> list[bytes]:
    requests: list[dict[str, object]] = [
        {"method": "torrent-get", "arguments": {"fields": ["id", "name", "pieces"], "ids": [1, "ab" * 20]}, "tag": 5},
        {"method": "torrent-get", "arguments": {"fields": ["id"], "ids": "recently-active", "format": "table"}},
        {"method": "torrent-add", "arguments": {"metainfo": "ZDQ6aW5mb2Vl", "paused": True, "files-unwanted": [1]}},
        {"method": "torrent-set", "arguments": {"ids": 1, "downloadLimit": 50, "downloadLimited": True,
                                                "files-wanted": [], "priority-high": [0, 2]}},
        {"method": "session-set", "arguments": {"speed-limit-down": 100, "seedRatioLimit": 1.5, "peer-port": 6881}},
        {"method": "torrent-remove", "arguments": {"ids": [2], "delete-local-data": 1}},
        {"method": "session-stats"},
    ]
    return [json.dumps(request).encode() for request in requests]


SEEDS: dict[str, list[bytes]] = {
    "bencode": _bencode(),
    "metainfo": _metainfo(),
    "magnet": _magnet(),
    "wire": _wire(),
    "http_tracker": _http_tracker(),
    "udp_tracker": _udp_tracker(),
    "extension": _extension(),
    "krpc": _krpc(),
    "utp": _utp(),
    "portmap": _portmap(),
    "pmp_announce": _portmap_announce(),
    "rpc_request": _rpc_request(),
}
