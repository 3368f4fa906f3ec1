"""Custom item data roles shared by the models and the delegates."""

from PySide6.QtCore import Qt

ITEM_ROLE = Qt.ItemDataRole.UserRole + 1  # the snapshot itself
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # a raw value that sorts right (bytes, not "1.2 MiB")
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 3  # 0.0 .. 1.0, drawn as a bar by ProgressDelegate
