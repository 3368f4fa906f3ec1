"""Which session the window shows: the local engine (the default) or a daemon over RPC.

One interface, two implementations: the bridge talks to an EngineSession and does not know
which. Switching hands the bridge the other session; a remote one is started (and so
checked: reachable, logged in, the certificate trusted) before it replaces anything.
The local session keeps running while a daemon is shown, as its downloads are the user's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, Protocol

from PySide6.QtCore import QObject, Signal

from app.rpc.client import RemoteAddress, RpcClient
from app.rpc.remote_session import RemoteSession
from app.ui.bridge import EngineBridge
from app.ui.engine_session import EngineSession

LOCAL_LABEL: Final = "Local session"


class ClosableSession(EngineSession, Protocol):
    async def close(self) -> None: ...


StartLocal = Callable[[], Awaitable[ClosableSession]]


def remote_session(address: RemoteAddress, on_problem: Callable[[str], None] = lambda sentence: None) -> RemoteSession:
    return RemoteSession(RpcClient(address), on_problem=on_problem)


class SessionSwitch(QObject):
    """Signals:
    switched(str): what the window shows now, in words: "Local session" or "Connected to HOST:PORT".
    problem(str): the daemon shown cannot be polled (why), or can again ("").
    """

    switched = Signal(str)
    problem = Signal(str)

    def __init__(
        self, bridge: EngineBridge, local: ClosableSession | None, start_local: StartLocal | None = None,
        remote: RemoteSession | None = None, parent: QObject | None = None,
    ) -> None:
        """`local`: the session the bridge shows, unless `remote` (started) is given; then
        `start_local` starts the local one when the user asks for it."""
        super().__init__(parent)
        self.bridge = bridge
        self._local = local
        self._start_local = start_local
        self._remote = remote

    @property
    def label(self) -> str:
        return f"Connected to {self._remote.label}" if self._remote else LOCAL_LABEL

    @property
    def remote(self) -> RemoteSession | None:
        return self._remote

    async def connect_to(self, address: RemoteAddress) -> None:
        """Show the daemon at `address`; a RemoteError (and the current session shown) if it cannot be used."""
        session = remote_session(address, self._problem)
        try:
            await session.start()
        except BaseException:
            await session.close()
            raise
        await self._show(session, session)

    async def use_local(self) -> None:
        """Show the local session, started now if the window had none (EngineError if the profile is taken)."""
        if self._local is None:
            assert self._start_local is not None, "a switch without a local session can start one"
            self._local = await self._start_local()
        await self._show(self._local, None)

    async def _show(self, session: EngineSession, remote: RemoteSession | None) -> None:
        previous, self._remote = self._remote, remote
        self.bridge.use_session(session)
        self.problem.emit("")
        self.switched.emit(self.label)
        if previous is not None:
            await previous.close()

    def _problem(self, sentence: str) -> None:
        self.problem.emit(sentence)

    async def close(self) -> None:
        """Stop polling the daemon and close the local session (before the window quits)."""
        for session in (self._remote, self._local):
            if session is not None:
                await session.close()
        self._remote = self._local = None
