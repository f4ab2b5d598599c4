"""The bookmarks panel: named probe positions to come back to.

:class:`BookmarksPanel` (objectName ``"bookmarksPanel"``) lists the controller's
bookmarks. "Add" stores the probe's code (default name "Bookmark N"); double-click a
name (or press F2, or "Rename") to edit it in place; "Go to" moves the probe to the
selected bookmark; "Delete" removes it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from latentlab.core.errors import LatentLabError
from latentlab.gui.views import dialogs
from latentlab.gui.tools.tools_controller import ToolsController


class BookmarksPanel(QWidget):
    """List, add, rename, delete and jump to bookmarks (see module doc)."""

    def __init__(self, controller: ToolsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bookmarksPanel")
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setObjectName("bookmarkList")
        self.list.setEditTriggers(QListWidget.EditTrigger.DoubleClicked | QListWidget.EditTrigger.EditKeyPressed)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.add_button = self._button(row, "Add", self.add, "Bookmark the probe's position")
        self.jump_button = self._button(row, "Go to", self.jump, "Move the probe to the selected bookmark")
        self.rename_button = self._button(row, "Rename", self._edit_current, "Rename the selected bookmark")
        self.delete_button = self._button(row, "Delete", self.delete, "Delete the selected bookmark")
        row.addStretch(1)
        layout.addLayout(row)
        self.list.itemChanged.connect(self._on_item_edited)
        self.list.currentRowChanged.connect(lambda _r: self._update_buttons())
        controller.bookmarksChanged.connect(self._refill)
        self._refill()

    def _button(self, row: QHBoxLayout, text: str, slot: Callable[[], object], tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda: slot())
        row.addWidget(button)
        return button

    def _guard(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except LatentLabError as exc:
            dialogs.show_error(self, "Bookmarks", str(exc))
            return False
        return True

    def add(self, name: str | None = None) -> bool:
        """Bookmark the probe (default name "Bookmark N") and select the new row."""
        def do() -> None:
            index = self.controller.add_bookmark(name)
            self.list.setCurrentRow(index)
        return self._guard(do)

    def jump(self, row: int | None = None) -> bool:
        """Move the probe to bookmark ``row`` (default: the selected one)."""
        row = self.list.currentRow() if row is None else row
        if not 0 <= row < len(self.controller.bookmarks):
            return False
        return self._guard(lambda: self.controller.jump_to_bookmark(row))

    def delete(self, row: int | None = None) -> None:
        """Delete bookmark ``row`` (default: the selected one)."""
        row = self.list.currentRow() if row is None else row
        if 0 <= row < len(self.controller.bookmarks):
            self.controller.remove_bookmark(row)
            self.list.setCurrentRow(min(row, self.list.count() - 1))

    def rename(self, row: int, name: str) -> bool:
        """Rename bookmark ``row``; a blank name shows an error and keeps the old one."""
        ok = self._guard(lambda: self.controller.rename_bookmark(row, name))
        if not ok:
            self._refill()
        return ok

    def _edit_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def _on_item_edited(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        if 0 <= row < len(self.controller.bookmarks) and item.text() != self.controller.bookmarks[row].name:
            self.rename(row, item.text())

    def _refill(self) -> None:
        row = self.list.currentRow()
        self.list.blockSignals(True)
        self.list.clear()
        for b in self.controller.bookmarks:
            item = QListWidgetItem(b.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
        self.list.blockSignals(False)
        if self.list.count():
            self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.list.currentRow() >= 0
        for b in (self.jump_button, self.rename_button, self.delete_button):
            b.setEnabled(has)
