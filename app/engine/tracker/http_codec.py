"""Sans-I/O HTTP tracker protocol (BEP 3, 7, 23, 48): URLs in, bencoded bodies out and back.

Both roles live here, as in h11: the client builds announce and scrape URLs and parses the
answers; the embedded tracker (server.py) parses the query strings and encodes the answers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit, urlunsplit

from app.engine import bencode
from app.engine.errors import BencodeError, TrackerError
from app.engine.tracker import compact
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, AnnounceResponse, ScrapeEntry

DEFAULT_INTERVAL = 1800
MIN_INTERVAL = 60
MAX_INTERVAL = 2 * 60 * 60

MALFORMED = "tracker sent a malformed response"


# Client side -------------------------------------------------------------------------------


def announce_url(announce: str, request: AnnounceRequest) -> str:
    """The GET URL for `request`; a query the announce URL already has (a passkey) is kept."""
    params = [
        ("info_hash", _quote(request.info_hash)),
        ("peer_id", _quote(request.peer_id)),
        ("port", str(request.port)),
        ("uploaded", str(request.uploaded)),
        ("downloaded", str(request.downloaded)),
        ("left", str(request.left)),
        ("compact", "1"),  # BEP 23
        ("numwant", str(request.numwant)),
        ("key", f"{request.key & 0xFFFFFFFF:08X}"),
    ]
    if request.event is not AnnounceEvent.NONE:
        params.append(("event", request.event.value))
    if request.tracker_id is not None:
        params.append(("trackerid", _quote(request.tracker_id)))
    return _with_query(announce, params)


def scrape_url(announce: str, info_hashes: Iterable[bytes] = ()) -> str | None:
    """BEP 48: last path component 'announce...' becomes 'scrape...'; None if there is no scrape."""
    parts = urlsplit(announce)
    head, _, last = parts.path.rpartition("/")
    if not last.startswith("announce"):
        return None
    path = f"{head}/scrape{last.removeprefix('announce')}"
    url = urlunsplit(parts._replace(path=path))
    return _with_query(url, [("info_hash", _quote(ih)) for ih in info_hashes])


def parse_announce_response(body: bytes) -> AnnounceResponse:
    """The tracker's answer; `failure reason` raises TrackerError with the tracker's own words."""
    message = _checked(body)
    interval = clamp_interval(message.get(b"interval")) or DEFAULT_INTERVAL
    return AnnounceResponse(
        interval=interval,
        min_interval=clamp_interval(message.get(b"min interval")),
        peers=tuple(_peers(message)),
        complete=_count(message.get(b"complete")),
        incomplete=_count(message.get(b"incomplete")),
        warning=_text(message.get(b"warning message", b"")),
        tracker_id=_bytes_or_none(message.get(b"tracker id")),
    )


def parse_scrape_response(body: bytes) -> dict[bytes, ScrapeEntry]:
    """BEP 48: `files` maps each 20-byte info-hash to its counts; malformed entries are dropped."""
    files = _checked(body).get(b"files", {})
    if not isinstance(files, dict):
        raise TrackerError(MALFORMED)
    return {
        info_hash: entry
        for info_hash, counts in files.items()
        if len(info_hash) == 20 and (entry := _scrape_entry(counts)) is not None
    }


def failure_reason(body: bytes) -> str | None:
    """The `failure reason` of a body, or None if it has none or is not bencode at all."""
    try:
        message = _decode_dict(body)
    except TrackerError:
        return None
    return _failure(message)


def clamp_interval(value: Any) -> int | None:
    """An interval in seconds within sane bounds: a tracker can neither flood nor forget us."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return max(MIN_INTERVAL, min(MAX_INTERVAL, value))


# Server side -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnnounceQuery:
    """An announce as the embedded tracker receives it."""

    request: AnnounceRequest
    compact: bool
    ip: str | None  # the `ip` parameter, if any


def parse_query(raw_query: str) -> dict[str, list[bytes]]:
    """Percent-decoded parameters as bytes: info_hash and peer_id are binary, not UTF-8."""
    params: dict[str, list[bytes]] = {}
    for pair in filter(None, raw_query.split("&")):
        name, _, value = pair.partition("=")
        key = unquote_to_bytes(name.replace("+", " ")).decode("utf-8", "replace")
        params.setdefault(key, []).append(unquote_to_bytes(value.replace("+", " ")))
    return params


def parse_announce_query(raw_query: str) -> AnnounceQuery:
    params = parse_query(raw_query)
    ip = params.get("ip", [b""])[0].decode("ascii", "replace")
    request = AnnounceRequest(
        info_hash=_exact(params, "info_hash", 20),
        peer_id=_exact(params, "peer_id", 20),
        port=_integer(params, "port", None),
        uploaded=_integer(params, "uploaded", 0),
        downloaded=_integer(params, "downloaded", 0),
        left=_integer(params, "left", 0),
        event=_event(params),
        numwant=_integer(params, "numwant", 50),
        key=_key(params),
        tracker_id=params.get("trackerid", [None])[0],
    )
    if not 0 < request.port < 65536:
        raise TrackerError("invalid port")
    return AnnounceQuery(
        request=request, compact=params.get("compact", [b"0"])[0] == b"1", ip=ip or None
    )


def scrape_info_hashes(raw_query: str) -> list[bytes]:
    return [ih for ih in parse_query(raw_query).get("info_hash", []) if len(ih) == 20]


def encode_announce_response(
    response: AnnounceResponse, *, compact_peers: bool, peer_ids: Sequence[bytes] = ()
) -> bytes:
    """The bencoded answer; compact IPv6 peers go to `peers6` (BEP 7)."""
    message: dict[bytes, Any] = {b"interval": response.interval}
    if response.min_interval is not None:
        message[b"min interval"] = response.min_interval
    if response.complete is not None:
        message[b"complete"] = response.complete
    if response.incomplete is not None:
        message[b"incomplete"] = response.incomplete
    if response.warning:
        message[b"warning message"] = response.warning.encode()
    if response.tracker_id is not None:
        message[b"tracker id"] = response.tracker_id
    message.update(_encoded_peers(response.peers, compact_peers, peer_ids))
    return bencode.encode(message)


def encode_failure(reason: str) -> bytes:
    return bencode.encode({b"failure reason": reason.encode()})


def encode_scrape_response(entries: dict[bytes, ScrapeEntry]) -> bytes:
    files = {
        info_hash: {
            b"complete": e.complete,
            b"incomplete": e.incomplete,
            b"downloaded": e.downloaded,
        }
        for info_hash, e in entries.items()
    }
    return bencode.encode({b"files": files})


# Helpers -----------------------------------------------------------------------------------


def _quote(value: bytes) -> str:
    return quote_from_bytes(value, safe="")


def _with_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = "&".join(f"{name}={value}" for name, value in params)
    joined = "&".join(filter(None, (parts.query, query)))
    return urlunsplit(parts._replace(query=joined))


def _decode_dict(body: bytes) -> dict[bytes, Any]:
    try:
        message = bencode.decode(body, sorted_keys=False)  # some trackers send keys unsorted
    except BencodeError as error:
        raise TrackerError(MALFORMED) from error
    if not isinstance(message, dict):
        raise TrackerError(MALFORMED)
    return message


def _checked(body: bytes) -> dict[bytes, Any]:
    """The decoded body; BEP 3: a `failure reason` means the tracker refused."""
    message = _decode_dict(body)
    reason = _failure(message)
    if reason is not None:
        raise TrackerError(reason)
    return message


def _failure(message: dict[bytes, Any]) -> str | None:
    if b"failure reason" not in message:
        return None
    return _text(message[b"failure reason"]) or "tracker refused the request"


def _peers(message: dict[bytes, Any]) -> list[compact.Peer]:
    peers = message.get(b"peers", b"")
    found = (
        compact.decode_peers(peers, socket.AF_INET)
        if isinstance(peers, bytes)
        else _dict_peers(peers)
    )
    peers6 = message.get(b"peers6", b"")
    if isinstance(peers6, bytes):
        found += compact.decode_peers(peers6, socket.AF_INET6)  # BEP 7
    return found


def _dict_peers(peers: Any) -> list[compact.Peer]:
    """BEP 3's original list of {'peer id', 'ip', 'port'}; host names and bad ports are dropped."""
    if not isinstance(peers, list):
        return []
    found = []
    for entry in peers:
        if not isinstance(entry, dict):
            continue
        ip, port = entry.get(b"ip"), entry.get(b"port")
        if isinstance(ip, bytes) and isinstance(port, int):
            host = ip.decode("ascii", "replace")
            if compact.is_valid_peer(host, port):
                found.append((host, port))
    return found


def _encoded_peers(
    peers: Sequence[compact.Peer], compact_peers: bool, peer_ids: Sequence[bytes]
) -> dict[bytes, Any]:
    if compact_peers:
        encoded = {b"peers": compact.encode_peers(peers, socket.AF_INET)}
        peers6 = compact.encode_peers(peers, socket.AF_INET6)
        return encoded | ({b"peers6": peers6} if peers6 else {})
    ids = list(peer_ids) or [b""] * len(peers)
    return {
        b"peers": [
            {b"ip": host.encode(), b"port": port} | ({b"peer id": pid} if pid else {})
            for (host, port), pid in zip(peers, ids, strict=True)
        ]
    }


def _scrape_entry(counts: Any) -> ScrapeEntry | None:
    if not isinstance(counts, dict):
        return None
    values = [_count(counts.get(k)) for k in (b"complete", b"incomplete", b"downloaded")]
    if values[0] is None or values[1] is None:
        return None
    return ScrapeEntry(complete=values[0], incomplete=values[1], downloaded=values[2] or 0)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _bytes_or_none(value: Any) -> bytes | None:
    return value if isinstance(value, bytes) else None


def _exact(params: dict[str, list[bytes]], name: str, length: int) -> bytes:
    value = params.get(name, [b""])[0]
    if len(value) != length:
        raise TrackerError(f"invalid {name}")
    return value


def _integer(params: dict[str, list[bytes]], name: str, default: int | None) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise TrackerError(f"missing {name}")
        return default
    try:
        return int(raw[0])
    except ValueError:
        raise TrackerError(f"invalid {name}") from None


def _key(params: dict[str, list[bytes]]) -> int:
    try:
        return int(params.get("key", [b"0"])[0], 16) & 0xFFFFFFFF
    except ValueError:
        return 0


def _event(params: dict[str, list[bytes]]) -> AnnounceEvent:
    """Unknown events (BEP 21's 'paused', typos) count as a regular announce, not an error."""
    raw = params.get("event", [b""])[0].decode("ascii", "replace")
    try:
        return AnnounceEvent(raw)
    except ValueError:
        return AnnounceEvent.NONE
