"""A Transmission-RPC client over HTTP(S) with aiohttp (RPC spec 2.3): the session-id
handshake, basic auth and TLS pinned to a certificate's fingerprint.

`RpcClient.call(method, **arguments)` returns the response's `arguments` or raises
`RemoteError` with one sentence a user can read: the daemon is not there, the password is
wrong, the certificate is not the one trusted, the daemon refused the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from app.engine.errors import EngineError

RPC_PATH: Final = "/transmission/rpc"
SESSION_ID_HEADER: Final = "X-Transmission-Session-Id"
_REACHABLE: Final = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # a daemon on every address answers on loopback
TIMEOUT: Final = 30.0  # seconds for one request: a torrent-add of a large .torrent included


class RemoteError(EngineError):
    """The daemon could not be reached or refused what was asked; the message says why."""


class UntrustedCertificate(RemoteError):
    """The daemon's certificate is not trusted: not the one pinned (`fingerprint` is the one it
    showed), or, with no pin, not signed by a CA this machine trusts (`fingerprint` is "")."""

    def __init__(self, message: str, fingerprint: str = "") -> None:
        super().__init__(message)
        self.fingerprint = fingerprint


@dataclass(frozen=True, slots=True)
class RemoteAddress:
    """Where a daemon is and how to log in; `fingerprint`: the SHA-256 of the certificate
    trusted on first use ("AB:CD:..."), "" to verify it against the system's CAs (or `ca_file`)."""

    host: str
    port: int
    user: str = ""
    password: str = ""
    tls: bool = False
    fingerprint: str = ""
    ca_file: str = ""

    @classmethod
    def from_url(cls, url: str) -> RemoteAddress:
        """The daemon at an RPC URL such as it logs ("http://127.0.0.1:9091/transmission/rpc")."""
        parts = urlsplit(url)
        host = _REACHABLE.get(parts.hostname or "", parts.hostname or "127.0.0.1")
        tls = parts.scheme == "https"
        return cls(host=host, port=parts.port or (443 if tls else 80), tls=tls)

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.label}{RPC_PATH}"


def fingerprint_text(digest: bytes) -> str:
    """A SHA-256 digest as `openssl x509 -fingerprint -sha256` (and the daemon's log) show it."""
    return ":".join(f"{b:02X}" for b in digest)


async def peer_fingerprint(host: str, port: int, timeout: float = TIMEOUT) -> str:
    """The fingerprint of the certificate the server at host:port shows, checked against nothing:
    what the user is asked to trust on first use."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout)
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        raise RemoteError(f"Could not reach {host}:{port} over HTTPS: {_reason(exc)}.") from None
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    return fingerprint_text(hashlib.sha256(der).digest())


class RpcClient:
    def __init__(self, address: RemoteAddress, timeout: float = TIMEOUT) -> None:
        self.address = address
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session_id = ""
        self._http: aiohttp.ClientSession | None = None
        self._ssl = _ssl_for(address)
        # RPC spec 2.3.3: HTTP basic auth, sent with every request
        self._auth = {"Authorization": aiohttp.encode_basic_auth(address.user, address.password)} if address.user else {}

    async def call(self, method: str, **arguments: Any) -> dict[str, Any]:
        body = json.dumps({"method": method, "arguments": arguments}).encode("utf-8")
        status, text = await self._post(body)
        if status == 409:  # RPC spec 2.3.1: the answer carries the token to send
            status, text = await self._post(body)
        return _arguments(self.address, status, text)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _post(self, body: bytes) -> tuple[int, str]:
        http = self._client()
        headers = {SESSION_ID_HEADER: self._session_id, "Content-Type": "application/json", **self._auth}
        try:
            async with http.post(self.address.url, data=body, headers=headers, ssl=self._ssl) as response:
                self._session_id = response.headers.get(SESSION_ID_HEADER, self._session_id)
                return response.status, await response.text(errors="replace")
        except aiohttp.ServerFingerprintMismatch as exc:
            raise _mismatch(self.address, fingerprint_text(exc.got)) from None
        except aiohttp.ClientConnectorCertificateError as exc:
            reason = getattr(exc.certificate_error, "verify_message", "") or str(exc.certificate_error)
            raise UntrustedCertificate(f"The certificate of {self.address.label} is not trusted here ({reason}).") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise RemoteError(f"Could not reach the daemon at {self.address.label}: {_reason(exc)}.") from None

    def _client(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        return self._http


def _ssl_for(address: RemoteAddress) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
    if not address.tls:
        return True
    if address.fingerprint:
        return aiohttp.Fingerprint(bytes.fromhex(address.fingerprint.replace(":", "")))
    try:
        return ssl.create_default_context(cafile=address.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise RemoteError(f"Could not use the CA certificate {address.ca_file}: {_reason(exc)}.") from None


def _mismatch(address: RemoteAddress, got: str) -> UntrustedCertificate:
    return UntrustedCertificate(
        f"The certificate of {address.label} is not the one trusted before: it may be another machine "
        f"pretending to be the daemon, or the daemon made a new certificate. It shows {got}.", got)


_STATUS_WORDS: Final[dict[int, Callable[[RemoteAddress], str]]] = {
    401: lambda a: f"The daemon at {a.label} did not accept the user name and password.",
    403: lambda a: f"The daemon at {a.label} does not take requests from this machine.",
    404: lambda a: f"{a.label} answers, but not as a Transmission-RPC daemon (no {RPC_PATH}).",
    409: lambda a: f"The daemon at {a.label} kept refusing the session token.",
    421: lambda a: f"The daemon at {a.label} does not answer to the name '{a.host}': "
                   "add it to rpc-host-whitelist in its settings.json.",
    429: lambda a: f"Too many failed logins at {a.label}: wait a minute, then try again.",
}


def _arguments(address: RemoteAddress, status: int, text: str) -> dict[str, Any]:
    if status != 200:
        words = _STATUS_WORDS.get(status)
        raise RemoteError(words(address) if words else f"The daemon at {address.label} answered HTTP {status}.")
    try:
        response = json.loads(text)
    except ValueError:
        raise RemoteError(f"The daemon at {address.label} did not answer in JSON.") from None
    if not isinstance(response, dict) or not isinstance(response.get("arguments", {}), dict):
        raise RemoteError(f"The daemon at {address.label} sent an answer that is not an RPC response.")
    result = response.get("result")
    if result != "success":
        raise RemoteError(f"The daemon could not do it: {result}.")
    return response.get("arguments", {})


def _reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        exc = exc.os_error
    for kind, words in _REASONS.items():
        if isinstance(exc, kind):
            return words
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


_REASONS: Final[dict[type[BaseException], str]] = {
    ConnectionRefusedError: "nothing answers on that port (is the daemon running?)",
    socket.gaierror: "the host name is not known",
    TimeoutError: "no answer in time",
    asyncio.TimeoutError: "no answer in time",
    aiohttp.ServerDisconnectedError: "it closed the connection (does it use HTTPS?)",
    ssl.SSLError: "the HTTPS handshake failed (does the daemon use HTTPS?)",
    aiohttp.ClientOSError: "the connection broke",
}
