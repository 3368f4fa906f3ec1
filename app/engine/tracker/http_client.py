"""The aiohttp side of HTTP(S) trackers: GET the codec's URL, hand the body back to the codec.

Every failure leaves as a TrackerError in a few plain words ("connection refused", "timed out",
"HTTP 404 Not Found"): that text ends up in the trackers tab and the status column.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

import aiohttp
from yarl import URL

from app.engine.errors import TrackerError
from app.engine.tracker import http_codec
from app.engine.tracker.types import AnnounceRequest, AnnounceResponse, ScrapeEntry

TIMEOUT = 30.0  # seconds, for connecting and for the whole request
MAX_BODY = 2 * 1024 * 1024  # a tracker answer is a few KiB; more is a broken or hostile tracker
MAX_REDIRECTS = 5
USER_AGENT = "Piecemeal/0.1"

# Checked in order: the first matching class names the failure. Timeouts come first, as
# TimeoutError is an OSError and aiohttp's timeouts are connection errors too.
_PLAIN_WORDS: tuple[tuple[type[BaseException], str], ...] = (
    (TimeoutError, "timed out"),
    (aiohttp.ClientConnectorDNSError, "host not found"),
    (aiohttp.ClientConnectorCertificateError, "invalid TLS certificate"),
    (aiohttp.ClientSSLError, "TLS error"),
    (aiohttp.TooManyRedirects, "too many redirects"),
    (aiohttp.RedirectClientError, "redirected to an invalid address"),
    (aiohttp.InvalidURL, "invalid tracker URL"),
    (aiohttp.NonHttpUrlClientError, "invalid tracker URL"),
    (aiohttp.ServerDisconnectedError, "connection closed by the tracker"),
    (aiohttp.ClientPayloadError, "incomplete response from the tracker"),
    (aiohttp.ClientResponseError, "invalid HTTP response"),
)
_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
}


class HttpTrackerClient:
    """Announces and scrapes over HTTP(S) with one shared aiohttp session, passed in or owned."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = TIMEOUT,
        max_body: int = MAX_BODY,
    ) -> None:
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=timeout)
        self._max_body = max_body

    async def announce(self, url: str, request: AnnounceRequest) -> AnnounceResponse:
        return http_codec.parse_announce_response(
            await self._get(http_codec.announce_url(url, request))
        )

    async def scrape(self, url: str, info_hashes: Sequence[bytes]) -> dict[bytes, ScrapeEntry]:
        """BEP 48 scrape; raises TrackerError if the announce URL has no scrape counterpart."""
        target = http_codec.scrape_url(url, info_hashes)
        if target is None:
            raise TrackerError("tracker does not support scrape")
        return http_codec.parse_scrape_response(await self._get(target))

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _get(self, url: str) -> bytes:
        try:
            async with self._client().get(
                URL(url, encoded=True),  # the codec already percent-encoded the binary hashes
                timeout=self._timeout,
                max_redirects=MAX_REDIRECTS + 1,  # aiohttp counts the redirect it refuses
                headers={"User-Agent": USER_AGENT},
            ) as response:
                body = await self._read(response)
        except (aiohttp.ClientError, OSError) as error:
            raise TrackerError(plain_words(error)) from error
        if response.status != 200:
            # Some trackers explain a refusal in a bencoded body sent with a 4xx status.
            reason = http_codec.failure_reason(body)
            raise TrackerError(reason or f"HTTP {response.status} {response.reason or ''}".rstrip())
        return body

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, refused beyond `max_body` (counted after decompression, against gzip bombs)."""
        if response.content_length is not None and response.content_length > self._max_body:
            raise TrackerError("tracker response too large")
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self._max_body:
                raise TrackerError("tracker response too large")
        return bytes(body)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def plain_words(error: BaseException) -> str:
    for kind, words in _PLAIN_WORDS:
        if isinstance(error, kind):
            return words
    os_error = getattr(error, "os_error", error)
    if isinstance(os_error, OSError):
        return (
            _ERRNO_WORDS.get(os_error.errno or 0) or (os_error.strerror or "network error").lower()
        )
    return "network error"
