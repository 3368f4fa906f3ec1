"""Magnet URIs (BEP 9): parse a ``magnet:`` link into a frozen value, and write one.

API:
    parse_magnet(uri: str) -> Magnet          raises MagnetError with one plain sentence
    format_magnet(info_hash, name="", trackers=(), web_seeds=()) -> str

Understood parameters: ``xt=urn:btih:`` (40 hex or 32 base32 characters; a hybrid link's
extra ``urn:btmh:`` is ignored, a v2-only link is refused), ``dn`` (display name), ``tr``
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
_BASE32_HASH = re.compile(r"[A-Za-z2-7]{32}")
_NUMBERED_NAME = re.compile(r"(.+)\.[0-9]+")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?")
_PORT = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True, slots=True)
class Magnet:
    info_hash: bytes  # 20 bytes, the v1 info-hash
    display_name: str  # "" when the link has no dn
    trackers: tuple[str, ...]
    web_seeds: tuple[str, ...]
    peers: tuple[tuple[str, int], ...]  # (IPv4, IPv6 without brackets, or hostname; port)


def parse_magnet(uri: str) -> Magnet:
    """The magnet link ``uri`` as a Magnet; MagnetError says what is wrong with it."""
    params = _parameters(uri)
    names = params.get("dn", [])
    return Magnet(
        info_hash=_info_hash(params.get("xt", [])),
        display_name=names[0] if names else "",
        trackers=_unique(params.get("tr", [])),
        web_seeds=_unique(params.get("ws", [])),
        peers=tuple(dict.fromkeys(_peer(text) for text in params.get("x.pe", []))),
    )


def format_magnet(
    info_hash: bytes, name: str = "", trackers: Sequence[str] = (), web_seeds: Sequence[str] = ()
) -> str:
    """A magnet link for ``info_hash`` (hex) with an optional name, trackers and web seeds."""
    if len(info_hash) != INFO_HASH_LENGTH:
        raise ValueError(f"an info-hash is {INFO_HASH_LENGTH} bytes, not {len(info_hash)}")
    fields = [("dn", name)] if name else []
    fields += [("tr", url) for url in trackers] + [("ws", url) for url in web_seeds]
    encoded = "".join(f"&{key}={quote(value, safe='')}" for key, value in fields)
    return f"{_PREFIX}xt={_BTIH}{info_hash.hex()}{encoded}"


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


def _info_hash(topics: list[str]) -> bytes:
    hashes = {_decode_hash(topic[len(_BTIH) :]) for topic in topics if _is_urn(topic, _BTIH)}
    if len(hashes) > 1:
        raise MagnetError("the magnet link names more than one torrent")
    if hashes:
        return hashes.pop()
    if any(_is_urn(topic, _BTMH) for topic in topics):
        raise MagnetError("BitTorrent v2-only magnet links are not supported")
    raise MagnetError("the magnet link has no BitTorrent info-hash (xt=urn:btih:...)")


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
