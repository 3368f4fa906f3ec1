"""Our peer id and the names of the clients behind other peers' ids (BEP 20).

Versions are shown as libtorrent shows them: each version character is one number
(0-9, then A-Z for 10-35, a-z for 36-61) and a zero fourth number is left out, so
``-LT2110-`` is "libtorrent 2.1.1" and ``-TR4040-`` is "Transmission 4.0.4".
"""

from __future__ import annotations

import re
import secrets
import string

CLIENT_CODE = b"PM"
CLIENT_VERSION = (0, 1, 0)
_RANDOM_ALPHABET = (string.ascii_letters + string.digits).encode()
_DIGIT_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SHADOW_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase + ".-"

# BEP 20 Azureus style: '-' + two-letter client code + four version characters + '-'.
_AZUREUS = re.compile(rb"-([A-Za-z0-9]{2})([0-9A-Za-z]{4})-")
# Mainline style: a letter, then numbers separated by '-', e.g. M7-2-2-- or M7-10-3-.
_MAINLINE = re.compile(rb"([MQ])([0-9]{1,3})-([0-9]{1,3})-([0-9]{1,3})-")
# Shadow style: a letter, version characters, '-' padding, e.g. S58B----- or T03I--.
_SHADOW = re.compile(rb"([AOQRSTU])([0-9A-Za-z.]{3,5})-")

_AZUREUS_CLIENTS = {
    "A2": "aria2",
    "AG": "Ares",
    "AR": "Arctic Torrent",
    "AZ": "Azureus",
    "BC": "BitComet",
    "BI": "BiglyBT",
    "BT": "BitTorrent",
    "BW": "BitWombat",
    "CD": "Enhanced CTorrent",
    "DE": "Deluge",
    "FD": "Free Download Manager",
    "FW": "FrostWire",
    "FX": "Freebox BitTorrent",
    "HL": "Halite",
    "KG": "KGet",
    "KT": "KTorrent",
    "LT": "libtorrent",
    "lt": "rTorrent",
    "LW": "Limewire",
    "MO": "Mono Torrent",
    "PI": "PicoTorrent",
    "PM": "Piecemeal",
    "qB": "qBittorrent",
    "SD": "Xunlei",
    "SZ": "Shareaza",
    "TL": "Tribler",
    "TR": "Transmission",
    "TT": "TuoTu",
    "TX": "Tixati",
    "UM": "µTorrent Mac",
    "UT": "µTorrent",
    "UW": "µTorrent Web",
    "VG": "Vagaa",
    "WD": "WebTorrent Desktop",
    "WW": "WebTorrent",
    "XL": "Xunlei",
    "ZT": "ZipTorrent",
}
_MAINLINE_CLIENTS = {"M": "Mainline", "Q": "Queen Bee"}
_SHADOW_CLIENTS = {
    "A": "ABC",
    "O": "Osprey Permaseed",
    "Q": "BTQueue",
    "R": "Tribler",
    "S": "Shadow",
    "T": "BitTornado",
    "U": "UPnP NAT Bit Torrent",
}
# Clients that follow no style, by the fixed bytes their ids start with.
_PREFIX_CLIENTS = {
    b"AZ2500BT": "BitTyrant",
    b"exbc": "BitComet",
    b"FUTB": "FuTorrent",
    b"-ML": "MLDonkey",
    b"-BOW": "BitsOnWheels",
    b"OP": "Opera",
    b"XBT": "XBT",
}


def make_peer_id() -> bytes:
    """A fresh 20-byte id: ``-PM0100-`` then 12 random letters and digits (BEP 20)."""
    version = "".join(_DIGIT_ALPHABET[part] for part in CLIENT_VERSION).ljust(4, "0")
    prefix = b"-" + CLIENT_CODE + version.encode() + b"-"
    return prefix + bytes(secrets.choice(_RANDOM_ALPHABET) for _ in range(20 - len(prefix)))


def client_name(peer_id: bytes) -> str:
    """The client's name and version as far as the id tells; never raises."""
    peer_id = bytes(peer_id)
    for identify in _IDENTIFIERS:
        name = identify(peer_id)
        if name:
            return name
    return _unknown(peer_id)


def _by_prefix(peer_id: bytes) -> str:
    for prefix, name in _PREFIX_CLIENTS.items():
        if peer_id.startswith(prefix):
            return name
    return ""


def _azureus(peer_id: bytes) -> str:
    match = _AZUREUS.match(peer_id)
    if match is None or match.group(1).decode() not in _AZUREUS_CLIENTS:
        return ""
    numbers = [_DIGIT_ALPHABET.index(chr(byte)) for byte in match.group(2)]
    if numbers[3] == 0:
        numbers.pop()
    return f"{_AZUREUS_CLIENTS[match.group(1).decode()]} {'.'.join(map(str, numbers))}"


def _mainline(peer_id: bytes) -> str:
    match = _MAINLINE.match(peer_id)
    if match is None:
        return ""
    client, *numbers = (group.decode() for group in match.groups())
    return f"{_MAINLINE_CLIENTS[client]} {'.'.join(str(int(number)) for number in numbers)}"


def _shadow(peer_id: bytes) -> str:
    match = _SHADOW.match(peer_id)
    if match is None:
        return ""
    numbers = [_SHADOW_ALPHABET.index(chr(byte)) for byte in match.group(2)]
    return f"{_SHADOW_CLIENTS[match.group(1).decode()]} {'.'.join(map(str, numbers))}"


def _unknown(peer_id: bytes) -> str:
    shown = "".join(chr(byte) if 0x20 <= byte < 0x7F else "." for byte in peer_id[:8])
    return f"Unknown [{shown}]" if shown.strip(".") else "Unknown"


_IDENTIFIERS = (_by_prefix, _azureus, _mainline, _shadow)
