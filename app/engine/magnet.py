"""Magnet URIs (BEP 9): parse a ``magnet:`` link into a frozen value, and write one.

API:
    parse_magnet(uri: str) -> Magnet          raises MagnetError with one plain sentence
    format_magnet(info_hash, name="", trackers=(), web_seeds=(), info_hash_v2=None) -> str

Understood parameters: ``xt=urn:btih:`` (40 hex or 32 base32 characters) and
``xt=urn:btmh:1220<64 hex>`` (BEP 52: a SHA-256 multihash, the v2 info-hash; a hybrid
link carries both, a v2-only link only this one), ``dn`` (display name), ``tr``
(trackers, any number, any scheme: the tracker layer says which it can use), ``ws`` (web
seeds, BEP 19) and ``x.pe`` (peer hints: ``1.2.3.4:6881``, ``[::1]:6881``,
``host.example:6881``). Values are percent-decoded with ``+`` as a space, as libtorrent
does; BEP 9's numbered names (``xt.1``, ``tr.2``) count as the plain ones; repeated
trackers, web seeds and peers are kept once, in order; other parameters are ignored.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

from app.engine.errors import MagnetError

INFO_HASH_LENGTH = 20
_PREFIX = "magnet:?"
_BTIH = "urn:btih:"
_BTMH = "urn:btmh:"  # BEP 52 multihash: a v2 info-hash
_HEX_HASH = re.compile(r"[0-9A-Fa-f]{40}")
# BEP 52 via the multihash format: 0x12 is SHA2-256, 0x20 its 32-byte length.
_SHA256_MULTIHASH = re.compile(r"1220([0-9A-Fa-f]{64})")
_BASE32_HASH = re.compile(r"[A-Za-z2-7]{32}")
_NUMBERED_NAME = re.compile(r"(.+)\.[0-9]+")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_PORT = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True, slots=True)
class Magnet:
    info_hash: bytes  # 20 bytes: the v1 info-hash, or the v2 one truncated (BEP 52) if v2-only
    display_name: str  # "" when the link has no dn
    trackers: tuple[str, ...]
    web_seeds: tuple[str, ...]
    peers: tuple[tuple[str, int], ...]  # (IPv4, IPv6 without brackets, or hostname; port)
    info_hash_v2: bytes | None = None  # 32 bytes, from urn:btmh

    @property
    def v2_only(self) -> bool:
        return self.info_hash_v2 is not None and self.info_hash == self.info_hash_v2[:INFO_HASH_LENGTH]


def parse_magnet(uri: str) -> Magnet:
    """The magnet link ``uri`` as a Magnet; MagnetError says what is wrong with it."""
    params = _parameters(uri)
    names = params.get("dn", [])
    topics = params.get("xt", [])
    v2 = _info_hash_v2(topics)
    return Magnet(
        info_hash=_info_hash(topics, v2),
        display_name=names[0] if names else "",
        trackers=_unique(params.get("tr", [])),
        web_seeds=_unique(params.get("ws", [])),
        peers=tuple(dict.fromkeys(_peer(text) for text in params.get("x.pe", []))),
        info_hash_v2=v2,
    )


def format_magnet(
    info_hash: bytes,
    name: str = "",
    trackers: Sequence[str] = (),
    web_seeds: Sequence[str] = (),
    info_hash_v2: bytes | None = None,
) -> str:
    """A magnet link for ``info_hash`` with an optional name, trackers and web seeds.

    With ``info_hash_v2`` the link carries ``urn:btmh`` too (hybrid), or only it when
    ``info_hash`` is the v2 hash truncated (v2-only), as libtorrent writes them.
    """
    if len(info_hash) != INFO_HASH_LENGTH:
        raise ValueError(f"an info-hash is {INFO_HASH_LENGTH} bytes, not {len(info_hash)}")
    topics = [] if info_hash_v2 and info_hash == info_hash_v2[:INFO_HASH_LENGTH] else [_BTIH + info_hash.hex()]
    topics += [f"{_BTMH}1220{info_hash_v2.hex()}"] if info_hash_v2 else []
    fields = [("dn", name)] if name else []
    fields += [("tr", url) for url in trackers] + [("ws", url) for url in web_seeds]
    encoded = "".join(f"&{key}={quote(value, safe='')}" for key, value in fields)
    return _PREFIX + "&".join(f"xt={topic}" for topic in topics) + encoded


def _parameters(uri: str) -> dict[str, list[str]]:
    """Decoded parameter values by lower-case name, in the order they appear."""
    uri = uri.strip()
    if uri[: len(_PREFIX)].lower() != _PREFIX:
        raise MagnetError("this is not a magnet link: it must start with 'magnet:?'")
    params: dict[str, list[str]] = {}
    for field in uri[len(_PREFIX) :].split("&"):
        name, _, value = field.partition("=")
        name = name.lower()
        numbered = _NUMBERED_NAME.fullmatch(name)
        if numbered is not None:
            name = numbered.group(1)
        value = unquote_plus(value, errors="replace").strip()
        if value:
            params.setdefault(name, []).append(value)
    return params


def _info_hash(topics: list[str], v2: bytes | None) -> bytes:
    hashes = {_decode_hash(topic[len(_BTIH) :]) for topic in topics if _is_urn(topic, _BTIH)}
    if len(hashes) > 1:
        raise MagnetError("the magnet link names more than one torrent")
    if hashes:
        return hashes.pop()
    if v2 is not None:
        return v2[:INFO_HASH_LENGTH]  # BEP 52: "truncated to 20 bytes" where an id is needed
    raise MagnetError("the magnet link has no BitTorrent info-hash (xt=urn:btih:... or urn:btmh:...)")


def _info_hash_v2(topics: list[str]) -> bytes | None:
    texts = [topic[len(_BTMH) :] for topic in topics if _is_urn(topic, _BTMH)]
    hashes = {_decode_multihash(text) for text in texts}
    if len(hashes) > 1:
        raise MagnetError("the magnet link names more than one v2 torrent")
    return hashes.pop() if hashes else None


def _decode_multihash(text: str) -> bytes:
    found = _SHA256_MULTIHASH.fullmatch(text)
    if found is None:
        raise MagnetError("the magnet link's v2 info-hash is not '1220' and 64 hexadecimal digits")
    return bytes.fromhex(found.group(1))


def _is_urn(topic: str, urn: str) -> bool:
    return topic[: len(urn)].lower() == urn


def _decode_hash(text: str) -> bytes:
    # BEP 9: "the info-hash hex encoded, for a total of 40 characters. For compatability with
    # existing links in the wild, clients should also support the 32 character base32 encoded
    # info-hash."
    if _HEX_HASH.fullmatch(text):
        return bytes.fromhex(text)
    if _BASE32_HASH.fullmatch(text):
        return base64.b32decode(text.upper())  # 32 digits of 5 bits: exactly 20 bytes
    raise MagnetError("the magnet link's info-hash is neither 40 hexadecimal nor 32 base32 digits")


def _peer(text: str) -> tuple[str, int]:
    """A peer hint ``host:port``: IPv4, bracketed IPv6 or a hostname, then a port 1..65535."""
    host, colon, port = text.rpartition(":")
    checked = _host_checker(host)(host) if colon else None
    if checked is None or not _PORT.fullmatch(port) or not 0 < int(port) < 65536:
        raise MagnetError(f"the magnet link's peer address {text!r} is not host:port")
    return checked, int(port)


def _host_checker(host: str) -> Callable[[str], str | None]:
    if host.startswith("["):
        return _bracketed_ipv6
    if host.replace(".", "").isdigit():
        return _ipv4
    return _hostname


def _bracketed_ipv6(host: str) -> str | None:
    if not host.endswith("]"):
        return None
    try:
        return str(ipaddress.IPv6Address(host[1:-1]))
    except ValueError:
        return None


def _ipv4(host: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        return None


def _hostname(host: str) -> str | None:
    return host if len(host) <= 253 and _HOSTNAME.fullmatch(host) else None


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))
