"""The local HTTP server a media player reads a downloading file from.

Bound to 127.0.0.1 only and answering loopback clients only; every file gets a random
token in its URL (/stream/<token>/<name>), so other local programs cannot guess it.
A Range request waits, piece by piece, for the pieces it needs, which are made
time-critical first: a seek in the player is a new request that moves the hurry there.
"""

from __future__ import annotations

import ipaddress
import logging
import mimetypes
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

from app.engine.errors import EngineError
from app.engine.streaming import ByteRange, RangeNotSatisfiable, critical_window, parse_range, piece_range, piece_slice

if TYPE_CHECKING:
    from app.engine.torrent import Torrent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Stream:
    info_hash: bytes
    file_index: int


class StreamServer:
    """Serves files of running torrents to local players, one token per file."""

    def __init__(self, find: Callable[[bytes], Torrent | None]) -> None:
        self._find = find
        self._streams: dict[str, _Stream] = {}
        self._tokens: dict[_Stream, str] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/stream/{token}/{name}", self._serve)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # loopback only: nothing outside this computer reaches it
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, torrent: Torrent, file_index: int) -> str:
        """The URL a player opens for file `file_index` (the same one each time it is asked)."""
        stream = _Stream(torrent.info_hash, file_index)
        token = self._tokens.get(stream)
        if token is None:
            token = self._tokens[stream] = secrets.token_urlsafe(24)
            self._streams[token] = stream
        name = torrent.metainfo.files[file_index].path[-1]
        return f"http://127.0.0.1:{self.port}/stream/{token}/{quote(name)}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        if not _loopback(request.remote):
            raise web.HTTPForbidden(text="only this computer may read streams")
        stream = self._streams.get(request.match_info["token"])
        torrent = self._find(stream.info_hash) if stream is not None else None
        if stream is None or torrent is None or not torrent.has_metadata:
            raise web.HTTPNotFound(text="no such stream")
        size = torrent.metainfo.files[stream.file_index].length
        try:
            wanted = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable as exc:
            raise web.HTTPRequestRangeNotSatisfiable(text=str(exc), headers={"Content-Range": f"bytes */{size}"})
        response = web.StreamResponse(status=206 if wanted.partial else 200, headers=_headers(wanted, size, request))
        await response.prepare(request)
        try:
            await _send(torrent, stream.file_index, wanted, response)  # cancelled if the player hangs up
        except (ConnectionResetError, EngineError) as exc:
            log.info("stream of %s ended early: %s", torrent.name, exc)  # the player seeked or quit
        return response


def _headers(wanted: ByteRange, size: int, request: web.Request) -> dict[str, str]:
    kind = mimetypes.guess_type(request.match_info["name"])[0] or "application/octet-stream"
    headers = {"Content-Type": kind, "Content-Length": str(wanted.length), "Accept-Ranges": "bytes"}
    if wanted.partial:
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end - 1}/{size}"
    return headers


async def _send(torrent: Torrent, file_index: int, wanted: ByteRange, response: web.StreamResponse) -> None:
    """Each needed piece in turn: hurry it and those after it, wait until verified, write its bytes."""
    layout = torrent.layout
    window: tuple[int, ...] = ()
    try:
        for piece in piece_range(layout, file_index, wanted.start, wanted.end):
            position = max(wanted.start, piece * layout.piece_length - layout.file_offsets[file_index])
            window = tuple(p for p in critical_window(layout, file_index, position, wanted.end) if p not in torrent.picker.have)
            torrent.picker.set_critical(window)
            await torrent.piece_ready(piece)
            offset, length = piece_slice(layout, file_index, piece, wanted.start, wanted.end)
            await response.write(bytes(await torrent.read_block(piece, offset, length)))
        await response.write_eof()
    finally:
        if torrent.picker.critical == window:  # no newer request (a seek) took over
            torrent.picker.set_critical(())


def _loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False
