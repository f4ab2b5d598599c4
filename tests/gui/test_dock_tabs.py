"""The tool tabs under the plane keep whole titles in a small window: never "Lo…" or
"Interpolat…"; tabs that do not fit are reached with the tab bar's arrows."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTabBar


def _tab_bars(window) -> list[QTabBar]:
    return [bar for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
            if bar.isVisible() and bar.count() > 1]


def _assert_whole_titles(window) -> None:
    bars = _tab_bars(window)
    assert bars
    for bar in bars:
        for i in range(bar.count()):
            text = bar.tabText(i)
            assert bar.tabRect(i).width() >= bar.fontMetrics().horizontalAdvance(text), text
        assert bar.elideMode() == Qt.TextElideMode.ElideNone and bar.usesScrollButtons()


def test_tool_tab_titles_are_whole_in_a_small_window(qtbot, opened):
    # 800 x 600: the offscreen platform's font is narrower than a desktop's, which elides at 1024 x 700.
    window, _c = opened(size=(800, 600))
    QApplication.processEvents()
    titles = [bar.tabText(i) for bar in _tab_bars(window) for i in range(bar.count())]
    assert {"Loss", "Interpolation", "Compression", "Stream"} <= set(titles)
    _assert_whole_titles(window)


def test_tabs_made_when_docks_are_moved_keep_whole_titles(qtbot, opened):
    window, _c = opened(size=(800, 600))
    docks = window.docks
    # Move two tools to the right and tab them there: the window makes a new tab bar.
    for key in ("compression", "denoise"):
        window.removeDockWidget(docks[key])
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, docks[key])
        docks[key].show()
    window.tabifyDockWidget(docks["compression"], docks["denoise"])
    QApplication.processEvents()
    assert len(_tab_bars(window)) >= 2
    _assert_whole_titles(window)
