import pytest
from PySide6.QtWidgets import QApplication


@pytest.fixture(autouse=True)
def _application(qapp: QApplication) -> QApplication:
    """Icons and pixmaps need a QApplication, even in tests that never show a widget."""
    return qapp
