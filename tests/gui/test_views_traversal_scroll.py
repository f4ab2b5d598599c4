"""The traversal panel in the window's scroll area shows one set of scroll bars, not nested ones."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QScrollArea, QScrollBar

from latentlab.gui.tools import TraversalPanel
from latentlab.gui.tools.traversal import STEPS
from tests.gui.test_tools_support import FakeHost


def _shown(qtbot, dim: int, width: int, height: int) -> tuple[QScrollArea, TraversalPanel]:
    panel = TraversalPanel(FakeHost(dim=dim).controller())
    area = QScrollArea()   # what the window wraps every tool panel in
    area.setWidgetResizable(True)
    area.setWidget(panel)
    qtbot.addWidget(area)
    area.resize(width, height)
    area.show()
    qtbot.waitExposed(area)
    qtbot.waitUntil(lambda: panel.rows[0].strip.count() == STEPS, timeout=3000)
    QApplication.processEvents()
    return area, panel


def _visible_bars(area: QScrollArea) -> list[QScrollBar]:
    return [b for b in area.findChildren(QScrollBar) if b.isVisible()]


def test_many_rows_scroll_with_the_window_area_only(qtbot) -> None:
    area, panel = _shown(qtbot, dim=20, width=460, height=200)
    bars = _visible_bars(area)
    assert bars == [area.verticalScrollBar()]
    # No scroll area inside the panel: rows are reached with the one bar.
    assert not [w for w in panel.findChildren(QAbstractScrollArea) if w.verticalScrollBar().isVisible()]
    bar = area.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: not panel.rows[-1].stale, timeout=3000)


def test_a_narrow_dock_gets_one_horizontal_bar_not_one_per_row(qtbot) -> None:
    area, panel = _shown(qtbot, dim=4, width=260, height=400)
    horizontal = [b for b in _visible_bars(area) if b.orientation() == Qt.Orientation.Horizontal]
    assert horizontal == [area.horizontalScrollBar()]
    for row in panel.rows:   # every frame of a strip is on the strip, none behind a bar
        assert row.strip.width() >= row.strip.canvas().width()


def test_a_few_rows_need_no_scroll_bar_at_all(qtbot) -> None:
    area, panel = _shown(qtbot, dim=2, width=520, height=300)
    assert _visible_bars(area) == []
    assert np.all([not r.stale for r in panel.rows])
