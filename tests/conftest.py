"""Test-wide setup: Qt runs offscreen. Engine tests run on plain asyncio loops (the engine
never depends on Qt); tests/ui/conftest.py puts the UI's async tests on a qasync loop.
"""

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QT_API"] = "pyside6"
