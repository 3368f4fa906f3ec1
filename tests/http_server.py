"""Small HTTP servers for tests: an aiohttp application on a free port of a loopback address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[[Handler], Awaitable[str]]


@asynccontextmanager
async def serving(app: web.Application, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serves `app` on a free port of `host` (an IPv4 address); gives its base URL, "http://host:port/"."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, 0).start()
        yield f"http://{host}:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def handler_servers() -> AsyncIterator[Serve]:
    """`serve(handler)` starts one more server answering every GET with `handler`; gives its base URL.
    All of them stop at the end."""
    async with AsyncExitStack() as servers:

        async def serve(handler: Handler) -> str:
            app = web.Application()
            app.router.add_route("GET", "/{path:.*}", handler)
            return await servers.enter_async_context(serving(app))

        yield serve
