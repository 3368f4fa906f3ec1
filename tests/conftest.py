"""Test-wide setup: Qt runs offscreen. Engine tests run on plain asyncio loops (the engine
never depends on Qt); tests/ui/conftest.py puts the UI's async tests on a qasync loop.
"""

import os

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_API"] = "pyside6"


def pytest_addoption(parser):
    parser.addoption(
        "--peer-crypto", choices=("allowed", "required"), default="allowed",
        help="interop tests with real clients: allow plain text (default) or require MSE encryption",
    )


@pytest.fixture
def peer_crypto(request):
    return request.config.getoption("--peer-crypto")
