"""The engine's Session and the thin client's RemoteSession are each one EngineSession: the
bridge may rely on every method it lists, whichever it talks to."""

import inspect

import pytest

from app.engine.session import Session
from app.rpc.remote_session import RemoteSession
from app.ui.engine_session import EngineSession

MEMBERS = sorted(
    name for name, value in vars(EngineSession).items()
    if inspect.isfunction(value) and not name.startswith("_")
)


def _shape(function: object) -> list[tuple[str, object, bool]]:
    """Parameter names, kinds and whether each has a default: what a caller relies on."""
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    ]


def test_the_protocol_lists_what_the_window_needs():
    assert {"snapshot", "details", "add_torrent", "set_options", "free_space", "set_config"} <= set(MEMBERS)


@pytest.mark.parametrize("implementation", [Session, RemoteSession])
@pytest.mark.parametrize("name", MEMBERS)
def test_each_session_has_it_with_the_same_shape(implementation, name):
    wanted, given = getattr(EngineSession, name), getattr(implementation, name)
    assert inspect.iscoroutinefunction(given) == inspect.iscoroutinefunction(wanted)
    assert _shape(given) == _shape(wanted)
