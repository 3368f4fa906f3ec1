"""The Peers tab: one row per connected peer of the selected torrent, keyed by address."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt

from app.engine.snapshots import PeerSnapshot
from app.ui import formatting
from app.ui.models.keyed_table import Column, KeyedTableModel

# qBittorrent's flag letters, spelled out for the tooltip.
FLAG_MEANINGS: dict[str, str] = {
    "D": "downloading from the peer",
    "d": "we want to download, the peer is choking us",
    "U": "uploading to the peer",
    "u": "the peer wants data, we are choking it",
    "K": "the peer is unchoking us but we are not interested",
    "?": "we unchoked the peer but it is not interested",
    "I": "incoming connection",
    "E": "encrypted connection (RC4)",
    "X": "peer from peer exchange",
    "H": "peer from the DHT",
    "P": "µTP connection",
    "S": "the peer is snubbed",
    "O": "optimistic unchoke",
}

_COLUMNS: tuple[Column[PeerSnapshot], ...] = (
    Column("Address", lambda p: p.address, lambda p: p.address),
    Column("Client", lambda p: _client_text(p), lambda p: p.client.casefold()),
    Column("Flags", lambda p: p.flags, lambda p: p.flags),
    Column(
        "Progress",
        lambda p: formatting.percent(p.progress),
        lambda p: p.progress,
        progress=lambda p: p.progress,
    ),
    Column("Down", lambda p: formatting.rate(p.down_rate), lambda p: p.down_rate, numeric=True),
    Column("Up", lambda p: formatting.rate(p.up_rate), lambda p: p.up_rate, numeric=True),
    Column(
        "Downloaded", lambda p: formatting.size(p.downloaded), lambda p: p.downloaded, numeric=True
    ),
    Column("Uploaded", lambda p: formatting.size(p.uploaded), lambda p: p.uploaded, numeric=True),
    Column("Connection", lambda p: p.transport, lambda p: p.transport),
)

FLAGS_COLUMN = 2


def _client_text(peer: PeerSnapshot) -> str:
    """A web seed's row says why it is backed off or dropped, where the eye already is."""
    return f"{peer.client} — {peer.note}" if peer.note else peer.client


def describe_flags(flags: str) -> str:
    return "\n".join(
        f"{letter}: {FLAG_MEANINGS[letter]}" for letter in flags if letter in FLAG_MEANINGS
    )


class PeerModel(KeyedTableModel[PeerSnapshot]):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(_COLUMNS, lambda p: p.address, parent)
        self._roles[Qt.ItemDataRole.ToolTipRole] = self._tooltip

    @staticmethod
    def _tooltip(peer: PeerSnapshot, column: int) -> str | None:
        if column == FLAGS_COLUMN:
            return describe_flags(peer.flags) or None
        if peer.is_web_seed:  # its address is a URL, often too long to show
            taken = f"took over {peer.taken_over} blocks from slow peers" if peer.taken_over else ""
            return "\n".join(filter(None, (peer.address, peer.note, taken)))
        direction = "incoming connection" if peer.incoming else "outgoing connection"
        return f"{direction}, encrypted" if peer.encrypted else direction
