"""The interpolation panel shows every control in a low dock, and its strip grows with the dock."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QScrollArea, QScrollBar, QWidget

from latentlab.gui.tools import InterpolationPanel
from tests.gui.test_tools_support import FakeHost


def _docked(qtbot, width: int, height: int) -> tuple[QScrollArea, InterpolationPanel]:
    host = FakeHost()
    panel = InterpolationPanel(host.controller())
    for k in range(2):
        host.z = host.codes_[k].copy()
        panel.add_probe_button.click()
    area = QScrollArea()   # what the window wraps every tool panel in
    area.setWidgetResizable(True)
    area.setWidget(panel)
    qtbot.addWidget(area)
    area.resize(width, height)
    area.show()
    qtbot.waitExposed(area)
    QApplication.processEvents()
    return area, panel


def _controls(panel: InterpolationPanel) -> list[QWidget]:
    return [panel.waypoint_list, panel.add_selected_button, panel.add_probe_button, panel.add_files_button,
            panel.remove_button, panel.up_button, panel.down_button, panel.clear_button, panel.steps_spin,
            panel.method_combo, panel.play_button, panel.fps_spin, panel.strip, panel.scrubber,
            panel.loop_check, panel.pingpong_check, panel.export_button]


@pytest.mark.parametrize(("width", "height"), [(640, 155), (1000, 155), (640, 400)])
def test_every_control_is_in_sight_without_scrolling(qtbot, width, height) -> None:
    # 155 pixels: what a dock about 180 pixels tall leaves under its title bar.
    area, panel = _docked(qtbot, width, height)
    # The only bar allowed is the strip's own, for frames past its right end.
    assert [b for b in area.findChildren(QScrollBar) if b.isVisible() and not panel.strip.isAncestorOf(b)] == []
    viewport = area.viewport().rect()
    for widget in _controls(panel):
        top_left = widget.mapTo(area.viewport(), widget.rect().topLeft())
        assert viewport.contains(QRect(top_left, widget.size())), widget.objectName() or type(widget).__name__
        assert widget.height() >= widget.minimumSizeHint().height()


def test_the_strip_grows_with_the_dock(qtbot) -> None:
    _area, low = _docked(qtbot, 800, 155)
    _area, tall = _docked(qtbot, 800, 320)
    assert tall.strip.thumb_size() > low.strip.thumb_size() >= 40
    assert tall.strip.thumbnail_rect(0).height() == tall.strip.thumb_size()


def test_exports_are_one_menu_enabled_with_frames(qtbot) -> None:
    host = FakeHost()
    panel = InterpolationPanel(host.controller())
    qtbot.addWidget(panel)
    assert not panel.export_button.isEnabled()
    assert [a.text() for a in panel.export_button.menu().actions()] == ["Strip PNG…", "GIF…", "APNG…", "MP4…", "Codes…"]
    for k in range(2):
        host.z = host.codes_[k].copy()
        panel.add_probe_button.click()
    assert panel.export_button.isEnabled() and panel.export_gif_action.isEnabled()
