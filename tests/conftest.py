"""Test-wide setup: Qt runs offscreen. Engine tests run on plain asyncio loops (the engine
never depends on Qt); tests/ui/conftest.py puts the UI's async tests on a qasync loop.

Hypothesis runs without its 200 ms deadline per example: the properties here do real work
(parsing, hashing, SQLite), which a loaded two-core CI machine can make slow but not wrong.
"""

import os

import pytest
from hypothesis import settings

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_API"] = "pyside6"

settings.register_profile("piecemeal", deadline=None)
settings.load_profile("piecemeal")


def pytest_addoption(parser):
    parser.addoption(
        "--peer-crypto", choices=("allowed", "required"), default="allowed",
        help="interop tests with real clients: allow plain text (default) or require MSE encryption",
    )


@pytest.fixture
def peer_crypto(request):
    return request.config.getoption("--peer-crypto")
