"""The Transmission-RPC server over HTTP (RPC spec 2.3): aiohttp around `RpcMethods`, behind
the guards every request passes, in this order (as Transmission checks them):

1. the Host header names us (DNS rebinding, spec 2.3.2)          -> 421 Misdirected Request
2. the user name and password, if set (spec 2.3.3)               -> 401, 429 while throttled
3. the `X-Transmission-Session-Id` token (CSRF, spec 2.3.1)      -> 409 with the right token
4. a body no larger than `max_body`                              -> 413
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from app.rpc.credentials import same_text, verify_password
from app.rpc.guard import HostAllowList, LoginThrottle, basic_credentials
from app.rpc.methods import RpcMethods

log = logging.getLogger(__name__)

RPC_PATHS: Final = ("/transmission/rpc", "/transmission/rpc/")
SESSION_ID_HEADER: Final = "X-Transmission-Session-Id"
MAX_BODY: Final = 16 * 1024 * 1024  # a base64 .torrent of several MB fits; more is refused unread
_REMEMBERED_LOGINS: Final = 16
FAILED_LOGIN_PAUSE: Final = 0.5  # seconds before a failed login is answered (the throttle's window is longer)


@dataclass(frozen=True, slots=True)
class ServerOptions:
    bind: str = "127.0.0.1"
    port: int = 9091
    user: str = ""
    password_hash: str = ""  # "" with user "": no login asked (only allowed on loopback)
    extra_hosts: tuple[str, ...] = ()
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)
    max_body: int = MAX_BODY

    @property
    def login_required(self) -> bool:
        return bool(self.user or self.password_hash)


class RpcServer:
    def __init__(
        self, methods: RpcMethods, options: ServerOptions, session_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.methods = methods
        self.options = options
        self.session_id = session_id
        self.clock = clock
        self.hosts = HostAllowList(options.bind, options.extra_hosts)
        self.throttle = LoginThrottle()
        self._login_key = secrets.token_bytes(32)
        self._logins: dict[bytes, None] = {}  # HMACs of Authorization headers that passed scrypt
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=self.options.max_body)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.bind, self.options.port, ssl_context=self.options.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        scheme = "https" if self.options.ssl_context else "http"
        host = f"[{self.options.bind}]" if ":" in self.options.bind else self.options.bind
        return f"{scheme}://{host}:{self.port}{RPC_PATHS[0]}"

    # one request

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path not in RPC_PATHS:
            return _text(404, f"Piecemeal answers Transmission RPC requests on {RPC_PATHS[0]} only.")
        if not self.hosts.allows(request.headers.get("Host")):  # request.host would invent one if absent
            return _text(421, "Piecemeal's remote control does not answer to this host name. If you reach it by "
                              "this name, add it to 'rpc-host-whitelist' in the daemon's settings.json.")
        refusal = await self._login(request)
        if refusal is not None:
            return refusal
        if not same_text(request.headers.get(SESSION_ID_HEADER, ""), self.session_id):
            return _text(409, f"Send the {SESSION_ID_HEADER} header this answer carries (RPC spec 2.3.1).",
                         {SESSION_ID_HEADER: self.session_id})
        if request.method != "POST":
            return _text(405, "Send RPC requests as POST.")
        return await self._rpc(request)

    async def _rpc(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > self.options.max_body:
            return _text(413, f"The request is larger than {self.options.max_body:,} bytes.")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _text(413, f"The request is larger than {self.options.max_body:,} bytes.")
        response = await self.methods.answer(body)
        log.debug("RPC from %s: %s", request.remote, response["result"])
        return web.Response(
            body=json.dumps(response, ensure_ascii=False).encode("utf-8"),
            content_type="application/json", charset="UTF-8", headers={SESSION_ID_HEADER: self.session_id},
        )

    # logging in (RPC spec 2.3.3)

    async def _login(self, request: web.Request) -> web.Response | None:
        if not self.options.login_required:
            return None
        address = request.remote or ""
        wait = self.throttle.wait(address, self.clock())
        if wait > 0:
            return _text(429, "Too many failed logins from your address: try again later.",
                         {"Retry-After": str(int(wait) + 1)})
        header = request.headers.get("Authorization", "")
        if await self._valid(header):
            self.throttle.succeeded(address)
            return None
        if header:
            delay = self.throttle.failed(address, self.clock())
            log.warning("RPC: failed login from %s", address)
            await asyncio.sleep(min(delay, FAILED_LOGIN_PAUSE))  # this request waits; the others go on
        return _text(401, "Unauthorized: this Piecemeal asks for a user name and password.",
                     {"WWW-Authenticate": 'Basic realm="Transmission"'})

    async def _valid(self, header: str) -> bool:
        credentials = basic_credentials(header)
        if credentials is None:
            return False
        token = hmac.new(self._login_key, header.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        if token in self._logins:  # scrypt costs tens of ms: a header that passed once is remembered
            return True
        user_ok = same_text(credentials.user, self.options.user)
        password_ok = await asyncio.to_thread(verify_password, credentials.password, self.options.password_hash)
        if not (user_ok and password_ok):
            return False
        self._logins[token] = None
        if len(self._logins) > _REMEMBERED_LOGINS:
            del self._logins[next(iter(self._logins))]
        return True


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)
