"""The probe cannot be lost: drags stay in view, Reset View frames it, its label never hides."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from latentlab.gui.views.plane_view import LatentPlaneView
from tests.gui.plane_support import no_mouse_rate_limit, shown_plane  # noqa: F401 (a fixture)

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


@pytest.fixture(autouse=True)
def _no_mouse_rate_limit(no_mouse_rate_limit) -> None:
    pass


@pytest.fixture
def view(qtbot) -> LatentPlaneView:
    widget = shown_plane(qtbot, points=500)
    widget.plotItem.vb.setRange(xRange=(-5, 5), yRange=(-5, 5), padding=0)
    QApplication.processEvents()
    return widget


def _to_px(view: LatentPlaneView, x: float, y: float) -> QPoint:
    return view.mapFromScene(view.plotItem.vb.mapViewToScene(QPointF(x, y)))


def _send(view: LatentPlaneView, kind: QEvent.Type, pos: QPoint, button, buttons) -> None:
    event = QMouseEvent(kind, QPointF(pos), QPointF(view.viewport().mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def _drag(view: LatentPlaneView, path: list[QPoint]) -> None:
    _send(view, QEvent.Type.MouseMove, path[0], NONE, NONE)
    _send(view, QEvent.Type.MouseButtonPress, path[0], LEFT, LEFT)
    for pos in path[1:]:
        _send(view, QEvent.Type.MouseMove, pos, NONE, LEFT)
    _send(view, QEvent.Type.MouseButtonRelease, path[-1], LEFT, NONE)


def _inside_view(view: LatentPlaneView, x: float, y: float) -> bool:
    x0, y0, w, h = view.visible_rect()
    return x0 < x < x0 + w and y0 < y < y0 + h


def _steps(start: QPoint, end: QPoint, n: int = 12) -> list[QPoint]:
    return [start + (end - start) * (k / n) for k in range(n + 1)]


@pytest.mark.parametrize("where", ["left axis", "bottom axis", "past the corner", "past the right edge"])
def test_a_dragged_probe_stays_in_view_and_can_be_grabbed_again(view, where) -> None:
    view.set_probe(0.0, 0.0)
    start = _to_px(view, 0.0, 0.0)
    vb = view.mapFromScene(view.plotItem.vb.sceneBoundingRect()).boundingRect()
    end = {"left axis": QPoint(vb.left() - 20, start.y()),
           "bottom axis": QPoint(start.x(), vb.bottom() + 25),
           "past the corner": QPoint(-40, view.height() + 40),
           "past the right edge": QPoint(view.width() + 60, start.y())}[where]
    released = []
    view.probeReleased.connect(lambda x, y: released.append((x, y)))
    _drag(view, _steps(start, end))
    x, y = view.probe_position()
    assert _inside_view(view, x, y), (x, y, view.visible_rect())
    assert released and released[-1] == pytest.approx((x, y))
    # Grab it where it now is and bring it back to the middle.
    _drag(view, _steps(_to_px(view, x, y), _to_px(view, 1.0, 1.0)))
    assert view.probe_position() == pytest.approx((1.0, 1.0), abs=3 * max(view.plotItem.vb.viewPixelSize()))


def test_set_probe_from_code_is_not_limited_to_the_view(view) -> None:
    view.set_probe(40.0, -30.0)   # a code far out (a traversal slider, a bookmark)
    assert view.probe_position() == (40.0, -30.0)


def test_reset_view_frames_the_points_and_a_far_away_probe(view) -> None:
    view.set_probe(40.0, -30.0)
    view.reset_view()
    x0, y0, w, h = view.visible_rect()
    assert _inside_view(view, 40.0, -30.0)
    xy = view._points.getData()   # noqa: SLF001
    assert x0 <= xy[0].min() and x0 + w >= xy[0].max() and y0 <= xy[1].min() and y0 + h >= xy[1].max()
    # With the probe among the points, Reset View frames just the points.
    view.set_probe(0.0, 0.0)
    view.reset_view()
    assert view.visible_rect()[2] < 0.5 * w


def test_reset_view_after_the_user_zoomed_far_in(view) -> None:
    view.set_probe(3.0, 3.0)
    view.plotItem.vb.setRange(xRange=(-0.1, 0.1), yRange=(-0.1, 0.1), padding=0)
    assert not _inside_view(view, 3.0, 3.0)
    view.reset_view()
    assert _inside_view(view, 3.0, 3.0)


def test_the_legend_is_beside_the_plane_not_on_it(view) -> None:
    legend = view.plotItem.legend.sceneBoundingRect()
    plane = view.plotItem.vb.sceneBoundingRect()
    assert legend.width() > 20 and legend.height() > 100   # ten classes are listed
    assert not legend.intersects(plane)
    assert legend.left() >= plane.right() - 1


@pytest.mark.parametrize(("fx", "fy"), [(0.98, 0.98), (0.98, 0.02), (0.02, 0.98), (0.02, 0.02), (0.5, 0.5),
                                        (0.9, 0.5), (0.5, 0.97)])
def test_the_probe_label_stays_inside_the_plane_and_off_the_legend(view, fx, fy) -> None:
    x0, y0, w, h = view.visible_rect()
    view.set_probe(x0 + fx * w, y0 + fy * h)
    label = view.probe_label_rect()
    assert view.plotItem.vb.sceneBoundingRect().contains(label), (fx, fy)
    assert not label.intersects(view.plotItem.legend.sceneBoundingRect())


def test_the_label_moves_back_beside_the_probe_when_there_is_room(view) -> None:
    x0, y0, w, h = view.visible_rect()
    view.set_probe(x0 + 0.98 * w, 0.0)
    probe = view.plotItem.vb.mapViewToScene(QPointF(*view.probe_position()))
    assert view.probe_label_rect().right() < probe.x()    # to the left, near the right edge
    view.set_probe(0.0, 0.0)
    probe = view.plotItem.vb.mapViewToScene(QPointF(0.0, 0.0))
    assert view.probe_label_rect().left() > probe.x()     # back to the right
