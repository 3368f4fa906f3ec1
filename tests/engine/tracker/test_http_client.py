import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from app.engine.errors import TrackerError
from app.engine.tracker import http_codec
from app.engine.tracker.http_client import HttpTrackerClient
from app.engine.tracker.server import TrackerServer
from app.engine.tracker.types import AnnounceEvent, AnnounceRequest, ScrapeEntry
from tests.http_server import Handler, Serve, handler_servers

INFO_HASH = bytes(range(100, 120))


def request(
    n: int, event: AnnounceEvent = AnnounceEvent.STARTED, left: int = 1000
) -> AnnounceRequest:
    return AnnounceRequest(INFO_HASH, b"-PM0001-%012d" % n, 7000 + n, 0, 0, left, event)


@pytest.fixture
async def client() -> AsyncIterator[HttpTrackerClient]:
    http = HttpTrackerClient(timeout=2.0)
    yield http
    await http.close()


@pytest.fixture
async def web_server() -> AsyncIterator[Serve]:
    """Serves one handler on 127.0.0.1 for every path; gives back its announce URL."""
    async with handler_servers() as serve:

        async def announce_url(handler: Handler) -> str:
            return await serve(handler) + "announce"

        yield announce_url


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_two_announcers_see_each_other(
    client: HttpTrackerClient, tracker_server: TrackerServer
) -> None:
    first = await client.announce(tracker_server.http_url, request(1))
    assert first.peers == () and (first.complete, first.incomplete) == (0, 1)
    assert first.interval == 1800
    second = await client.announce(tracker_server.http_url, request(2, left=0))
    assert second.peers == (("127.0.0.1", 7001),)
    assert (second.complete, second.incomplete) == (1, 1)
    again = await client.announce(tracker_server.http_url, request(1, AnnounceEvent.NONE))
    assert again.peers == (("127.0.0.1", 7002),)


async def test_stopped_removes_and_scrape_counts(
    client: HttpTrackerClient, tracker_server: TrackerServer
) -> None:
    url = tracker_server.http_url
    await client.announce(url, request(1))
    await client.announce(url, request(2, left=0))
    await client.announce(url, request(1, AnnounceEvent.COMPLETED, left=0))
    assert await client.scrape(url, [INFO_HASH]) == {INFO_HASH: ScrapeEntry(2, 0, 1)}
    await client.announce(url, request(2, AnnounceEvent.STOPPED, left=0))
    assert (await client.announce(url, request(1, AnnounceEvent.NONE, left=0))).peers == ()
    assert await client.scrape(url, [INFO_HASH]) == {INFO_HASH: ScrapeEntry(1, 0, 1)}


async def test_refused_connection(client: HttpTrackerClient) -> None:
    with pytest.raises(TrackerError, match="^connection refused$"):
        await client.announce(f"http://127.0.0.1:{free_tcp_port()}/announce", request(1))


async def test_http_status_in_plain_words(client: HttpTrackerClient, web_server: Serve) -> None:
    async def not_found(_: web.Request) -> web.Response:
        return web.Response(status=404, text="nothing here")

    with pytest.raises(TrackerError, match="^HTTP 404 Not Found$"):
        await client.announce(await web_server(not_found), request(1))


async def test_bencoded_refusal_with_an_error_status(
    client: HttpTrackerClient, web_server: Serve
) -> None:
    async def refuse(_: web.Request) -> web.Response:
        return web.Response(status=403, body=http_codec.encode_failure("passkey not found"))

    with pytest.raises(TrackerError, match="^passkey not found$"):
        await client.announce(await web_server(refuse), request(1))


async def test_too_large_body_is_refused(web_server: Serve) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length to check up front
        await response.prepare(request)
        for _ in range(8):
            await response.write(b"x" * 1024)
        return response

    http = HttpTrackerClient(max_body=4096)
    try:
        with pytest.raises(TrackerError, match="^tracker response too large$"):
            await http.announce(await web_server(huge), request(1))
    finally:
        await http.close()


async def test_redirect_loop_is_cut_short(client: HttpTrackerClient, web_server: Serve) -> None:
    hits = []

    async def loop(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(f"/announce{len(hits)}")

    with pytest.raises(TrackerError, match="^too many redirects$"):
        await client.announce(await web_server(loop), request(1))
    assert len(hits) == 6  # the first request and five redirects


async def test_slow_tracker_times_out(web_server: Serve) -> None:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    http = HttpTrackerClient(timeout=0.2)
    try:
        with pytest.raises(TrackerError, match="^timed out$"):
            await http.announce(await web_server(slow), request(1))
    finally:
        await http.close()


async def test_shared_session_is_not_closed(tracker_server: TrackerServer) -> None:
    async with aiohttp.ClientSession() as session:
        http = HttpTrackerClient(session)
        await http.announce(tracker_server.http_url, request(1))
        await http.close()
        assert not session.closed


async def test_scrape_needs_a_bep_48_url(client: HttpTrackerClient) -> None:
    with pytest.raises(TrackerError, match="^tracker does not support scrape$"):
        await client.scrape("http://127.0.0.1:1/tracker", [INFO_HASH])
