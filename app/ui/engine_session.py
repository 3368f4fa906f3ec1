"""What the window needs from a session: the one interface behind EngineBridge.

Today the engine's own Session (app/engine/session.py) fills it; later a remote session, a
Transmission-RPC client, fills it too, and nothing above the bridge changes. Reads return
frozen snapshots at once (a remote session answers from its last poll); commands are
coroutines that raise EngineError with a sentence the user can read. No Qt here: a session
is not a widget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from app.engine.events import Event
from app.engine.metainfo import Metainfo
from app.engine.rss.rules import Rule
from app.engine.rss.service import RssSnapshot
from app.engine.snapshots import SessionSnapshot, TorrentChanges, TorrentDetails
from app.engine.torrent_options import TorrentOptions


class EngineSession(Protocol):
    # Reading the state

    def snapshot(self) -> SessionSnapshot: ...

    def changes(self, since: int) -> TorrentChanges:
        """The torrents whose snapshot changed after revision `since` (0: all), as of the last
        `snapshot()`: a refresh then costs what changed, not what exists (issue 19)."""
        ...

    def details(self, info_hash: str) -> TorrentDetails | None: ...

    def magnet_uri(self, info_hash: str) -> str: ...

    def add_listener(self, callback: Callable[[Event], None]) -> None: ...

    async def free_space(self, folder: str | Path) -> int | None:
        """Free bytes where `folder` is (None: unknown); never blocks the caller's loop."""
        ...

    # Commands

    async def add_torrent(
        self,
        source: bytes | str | Path | Metainfo,
        save_path: str | Path | None = None,
        *,
        paused: bool = False,
        choose_files: bool = False,
        category: str = "",
    ) -> str: ...

    async def add_peer_address(self, info_hash: str, address: str) -> None:
        """Connect to "192.0.2.7:6881" or "[2001:db8::7]:6881" too."""
        ...

    async def remove(self, info_hash: str, delete_files: bool = False) -> None: ...

    async def pause(self, info_hash: str) -> None: ...

    async def resume(self, info_hash: str) -> None: ...

    async def recheck(self, info_hash: str) -> None: ...

    async def set_file_priorities(self, info_hash: str, priorities: Sequence[int]) -> None: ...

    async def set_options(self, info_hash: str, options: TorrentOptions) -> None: ...

    async def move_storage(self, info_hash: str, new_dir: str | Path) -> None: ...

    async def stream_url(self, info_hash: str, file_index: int) -> str:
        """A 127.0.0.1 URL a media player can play the file from while it downloads."""
        ...

    async def add_web_seed(self, info_hash: str, url: str) -> None:
        """A BEP 19 web seed (http or https), remembered with the torrent."""
        ...

    async def reload_ip_filter(self) -> None:
        """Read the block list file again; EngineError if it cannot be read."""
        ...

    async def add_category(self, name: str, save_path: str = "") -> None:
        """Add a category, or change its save folder ("" : the download folder)."""
        ...

    async def remove_category(self, name: str) -> None: ...

    async def set_category(self, info_hash: str, category: str) -> None:
        """A known category, or "" for none."""
        ...

    async def set_tags(self, info_hash: str, tags: Sequence[str]) -> None:
        """The torrent's whole set of tags."""
        ...

    # Feeds (RSS and Atom) and their download rules

    def rss_snapshot(self) -> RssSnapshot: ...

    async def add_feed(self, url: str) -> None:
        """Follow a feed (http or https); it is read at once."""
        ...

    async def remove_feed(self, url: str) -> None: ...

    async def set_rss_rules(self, rules: Sequence[Rule]) -> None:
        """The whole list of download rules, in the order they are tried."""
        ...

    async def refresh_feeds(self) -> None: ...

    async def set_config(self, **changes: Any) -> None:
        """SessionConfig fields by name, in the engine's units (bytes, seconds)."""
        ...
