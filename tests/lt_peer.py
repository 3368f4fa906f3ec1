"""A real libtorrent peer on loopback for interop tests and benchmarks (no DHT/LSD/UPnP/NAT-PMP)."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import libtorrent as lt

_QUIET = {
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_incoming_utp": False,
    "enable_outgoing_utp": False,
    "allow_multiple_connections_per_ip": True,
    "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification,
}

UTP_ONLY = {  # libtorrent with TCP switched off both ways: uTP (BEP 29) or nothing
    "enable_incoming_tcp": False,
    "enable_outgoing_tcp": False,
    "enable_incoming_utp": True,
    "enable_outgoing_utp": True,
}


# libtorrent 2.x: no flag makes a hybrid torrent (v1 + v2, BEP 52 upgrade path).
_FORMAT_FLAGS = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only, "hybrid": 0}


def make_torrent(content: Path, *, piece_size: int, trackers: list[str] = (), format: str = "v1") -> bytes:
    """A torrent of `content` (a file or a folder) made by libtorrent itself: v1, v2 or hybrid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fs = lt.file_storage()
        lt.add_files(fs, str(content))
        t = lt.create_torrent(fs, piece_size, flags=_FORMAT_FLAGS[format])
    for tier, url in enumerate(trackers):
        t.add_tracker(url, tier)
    lt.set_piece_hashes(t, str(content.parent))
    return lt.bencode(t.generate())


class LtPeer:
    """One libtorrent session listening on `host` (127.0.0.x or ::1)."""

    def __init__(self, host: str = "127.0.0.2", **settings: object) -> None:
        listen = f"[{host}]:0" if ":" in host else f"{host}:0"
        pack = dict(_QUIET, listen_interfaces=listen, outgoing_interfaces=host, **settings)
        self.session = lt.session(pack)
        self.host = host
        self.handles: list[lt.torrent_handle] = []

    @property
    def port(self) -> int:
        return self.session.listen_port()

    def add(self, torrent: bytes, save_path: Path, *, seed_mode: bool = False) -> lt.torrent_handle:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(lt.bdecode(torrent))
        params.save_path = str(save_path)
        if seed_mode:
            params.flags |= lt.torrent_flags.seed_mode
        handle = self.session.add_torrent(params)
        self.handles.append(handle)
        return handle

    def wait_seeding(self, handle: lt.torrent_handle, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if handle.status().is_seeding:
                return
            time.sleep(0.05)
        raise TimeoutError(f"libtorrent did not finish: {handle.status().state} {handle.status().progress:.1%}")

    def close(self) -> None:
        for handle in self.handles:
            self.session.remove_torrent(handle)
        self.session.pause()
        del self.session


def random_tree(root: Path, sizes: dict[str, int]) -> Path:
    """Files of random bytes under root; returns root."""
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            remaining = size
            while remaining:
                chunk = min(remaining, 1 << 22)
                f.write(os.urandom(chunk))
                remaining -= chunk
    return root


def throttle_loopback(peer: LtPeer, upload_bytes_per_second: int, download_bytes_per_second: int = 0) -> None:
    """libtorrent exempts local peers from rate limits; put loopback in the global class."""
    peer_filter = lt.ip_filter()
    peer_filter.add_rule("127.0.0.0", "127.255.255.255", 1 << lt.session.global_peer_class_id)
    peer.session.set_peer_class_filter(peer_filter)
    peer.session.apply_settings({"upload_rate_limit": upload_bytes_per_second,
                                 "download_rate_limit": download_bytes_per_second})
