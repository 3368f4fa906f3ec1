"""The peers' debug log is where a session says why it hung up on someone."""

import logging

import pytest


@pytest.fixture
def peer_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="app.engine.peer")
    caplog.set_level(logging.DEBUG, logger="app.engine.transport.mse_transport")  # closed before the handshake
    return caplog
