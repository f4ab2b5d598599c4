"""BookmarksPanel: add under a default name, rename in place, jump, delete."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from latentlab.gui.tools import BookmarksPanel, bookmarks
from tests.gui.test_tools_support import FakeHost


def test_add_rename_jump_delete(qtbot, monkeypatch) -> None:
    host = FakeHost()
    panel = BookmarksPanel(host.controller())
    qtbot.addWidget(panel)
    assert panel.objectName() == "bookmarksPanel"
    assert not panel.jump_button.isEnabled()
    host.z = host.codes_[1].copy()
    panel.add_button.click()
    host.z = host.codes_[2].copy()
    panel.add_button.click()
    assert [panel.list.item(k).text() for k in range(2)] == ["Bookmark 1", "Bookmark 2"]
    assert panel.list.currentRow() == 1
    panel.list.setCurrentRow(0)
    panel.jump_button.click()
    np.testing.assert_array_equal(host.z, host.codes_[1])
    panel.list.item(0).setText("a round one")   # what editing in place does
    assert panel.controller.bookmarks[0].name == "a round one"
    shown: list[str] = []
    monkeypatch.setattr(bookmarks.dialogs, "show_error", lambda _p, _t, msg: shown.append(msg))
    panel.list.item(1).setText("  ")
    assert shown and panel.controller.bookmarks[1].name == "Bookmark 2"
    assert panel.list.item(1).text() == "Bookmark 2"
    panel.list.setCurrentRow(0)
    panel.delete_button.click()
    assert [b.name for b in panel.controller.bookmarks] == ["Bookmark 2"]
    assert panel.list.count() == 1 and panel.list.currentRow() == 0


def test_double_click_starts_editing_the_name(qtbot) -> None:
    host = FakeHost()
    panel = BookmarksPanel(host.controller())
    qtbot.addWidget(panel)
    panel.show()
    panel.add()
    item = panel.list.item(0)
    rect = panel.list.visualItemRect(item)
    # A real double-click is a press, a release, then the double-click event.
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.list.state() == panel.list.State.EditingState


def test_add_without_a_model_shows_an_error(qtbot, monkeypatch) -> None:
    host = FakeHost()
    host.z = None
    panel = BookmarksPanel(host.controller())
    qtbot.addWidget(panel)
    shown: list[str] = []
    monkeypatch.setattr(bookmarks.dialogs, "show_error", lambda _p, _t, msg: shown.append(msg))
    assert panel.add() is False
    assert shown and panel.list.count() == 0
