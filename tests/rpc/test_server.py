"""app/rpc/server.py in-process on loopback with a fake clock: the failed-login throttle and
the order of the guards, deterministically."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from app.engine.session import Session
from app.rpc.credentials import hash_password
from app.rpc.guard import FIRST_DELAY
from app.rpc.methods import DaemonContext, RpcMethods
from app.rpc.server import SESSION_ID_HEADER, RpcServer, ServerOptions
from app.rpc.settings import defaults
from tests.swarm_helpers import loopback_config

LIST = json.dumps({"method": "torrent-get", "arguments": {"fields": ["id"]}})


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    server: RpcServer
    clock: FakeClock
    http: aiohttp.ClientSession

    async def post(self, user: str, password: str, **headers: str) -> aiohttp.ClientResponse:
        auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        headers = {SESSION_ID_HEADER: "sid", "Authorization": auth, **headers}
        async with self.http.post(self.server.url, data=LIST, headers=headers) as response:
            await response.read()
            return response


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    session = Session(loopback_config(download_dir=tmp_path))
    await session.start()
    methods = RpcMethods(session, defaults() | {"download-dir": str(tmp_path)},
                         DaemonContext("sid", str(tmp_path), lambda changes: None, lambda: None))
    clock = FakeClock()
    options = ServerOptions(port=0, user="ann", password_hash=hash_password("pw", n=2**10))
    server = RpcServer(methods, options, "sid", clock=clock)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield Rig(server, clock, http)
    finally:
        await server.close()
        await session.close()


async def test_a_failed_login_makes_that_address_wait_before_trying_again(rig: Rig) -> None:
    assert (await rig.post("ann", "guess")).status == 401
    throttled = await rig.post("ann", "pw")
    assert throttled.status == 429 and throttled.headers["Retry-After"] == str(int(FIRST_DELAY) + 1)
    rig.clock.now += FIRST_DELAY
    assert (await rig.post("ann", "pw")).status == 200


async def test_failures_in_a_row_wait_longer_each_time(rig: Rig) -> None:
    assert (await rig.post("ann", "guess")).status == 401
    rig.clock.now += FIRST_DELAY
    assert (await rig.post("eve", "pw")).status == 401
    rig.clock.now += FIRST_DELAY
    assert (await rig.post("ann", "pw")).status == 429
    rig.clock.now += FIRST_DELAY
    assert (await rig.post("ann", "pw")).status == 200


async def test_the_login_is_checked_before_the_session_id(rig: Rig) -> None:
    assert (await rig.post("ann", "guess", **{SESSION_ID_HEADER: "wrong"})).status == 401
    rig.clock.now += FIRST_DELAY
    response = await rig.post("ann", "pw", **{SESSION_ID_HEADER: "wrong"})
    assert response.status == 409 and response.headers[SESSION_ID_HEADER] == "sid"


async def test_only_the_rpc_path_is_served(rig: Rig) -> None:
    async with rig.http.get(rig.server.url.replace("/transmission/rpc", "/etc/passwd")) as response:
        assert response.status == 404 and "Traceback" not in await response.text()


async def test_a_request_without_a_host_header_is_refused(rig: Rig) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", rig.server.port)
    writer.write(b"POST /transmission/rpc HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)
    writer.close()
    assert status_line.split()[1] == b"421"
