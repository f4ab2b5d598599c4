"""The plane's dots: reused while panning and zooming, re-rendered when they change, rasterised when many."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from latentlab.gui.views import point_raster, theme
from latentlab.gui.views.point_raster import argb32, rasterize_dots
from tests.gui.plane_support import shown_plane


def test_rasterized_dots_have_their_size_and_the_later_point_covers_the_earlier() -> None:
    x = np.array([5.0, 6.0, 20.0, -50.0])
    y = np.array([5.0, 5.0, 3.0, 2.0])  # the last one is far off the image and is dropped
    argb = np.array([1, 2, 3, 4], dtype=np.uint32)
    img = rasterize_dots(x, y, argb, 30, 10, 4)
    assert img.shape == (10, 30)
    # Dot 3 (centre 20, 3) covers 4 × 4 pixels: columns 18-21, rows 1-4.
    assert (img[1:5, 18:22] == 3).all() and (img == 3).sum() == 16
    # Dot 2 lies over dot 1 where they overlap; dot 1 keeps only its first column.
    assert (img[3:7, 4:8] == 2).all() and (img[3:7, 3] == 1).all() and (img == 1).sum() == 4
    assert (img == 4).sum() == 0
    assert (img[8:, :] == 0).all()  # transparent where there is no dot


def test_a_dot_half_off_the_edge_shows_its_inside_half() -> None:
    img = rasterize_dots(np.array([0.0]), np.array([0.0]), np.array([7], dtype=np.uint32), 10, 10, 4)
    assert (img[:2, :2] == 7).all() and (img == 7).sum() == 4


def test_argb32_is_premultiplied_in_qimage_order() -> None:
    value = argb32(np.array([[255, 0, 0, 128], [10, 20, 30, 255]], dtype=np.uint8))
    assert int(value[0]) == (128 << 24) | (128 << 16)
    assert int(value[1]) == (255 << 24) | (10 << 16) | (20 << 8) | 30


def _ink(view) -> np.ndarray:
    """Where the plane's picture differs from its background, as a boolean pixel mask."""
    shot = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(shot.constBits(), dtype=np.uint8).reshape(shot.height(), shot.bytesPerLine() // 4, 4)
    bg = QColor(theme.BACKGROUND)
    return np.abs(arr[..., :3].astype(int) - [bg.blue(), bg.green(), bg.red()]).sum(axis=2) > 30


def _grown(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            out |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return out


def _by_hand(vb, change) -> None:
    """A view change as the ViewBox's drag and wheel handlers make it."""
    change()
    vb.sigRangeChangedManually.emit(vb.state["mouseEnabled"])
    QApplication.processEvents()


def _settled_plane(qtbot):
    """A plane with 2,000 points whose layout has settled and whose dots are rendered."""
    view = shown_plane(qtbot, points=2000, spread=1.0)
    qtbot.wait(point_raster.SETTLE_MS + 50)
    view.grab()
    return view


def test_panning_reuses_the_rendering_and_shows_what_a_fresh_one_would(qtbot) -> None:
    view = _settled_plane(qtbot)
    points = view._points
    before = points.renders
    vb = view.plotItem.vb
    width = vb.viewRect().width()
    for _ in range(5):
        _by_hand(vb, lambda: vb.translateBy(x=width / 40))
        view.grab()
    # The pans were blits of the last rendering; at most one crisp render follows, when the
    # first manual change also rescaled the view (an aspect-locked ViewBox drops its padding).
    qtbot.wait(point_raster.SETTLE_MS + 50)
    moved = _ink(view)
    assert points.renders <= before + 1
    drawn = points.renders
    points.invalidate_rendering()
    fresh = _ink(view)
    assert points.renders == drawn + 1
    # The same picture up to the sub-pixel placement of a blit: every inked pixel of one lies
    # within a pixel of the other's ink, and there is as much ink.
    assert abs(int(moved.sum()) - int(fresh.sum())) < 0.05 * fresh.sum()
    assert (moved & ~_grown(fresh)).sum() < 0.01 * moved.sum()
    assert (fresh & ~_grown(moved)).sum() < 0.01 * fresh.sum()


def test_a_zoom_scales_the_rendering_and_renders_crisp_once_the_gesture_pauses(qtbot) -> None:
    view = _settled_plane(qtbot)
    points = view._points
    before = points.renders
    vb = view.plotItem.vb
    for _ in range(3):
        _by_hand(vb, lambda: vb.scaleBy((0.9, 0.9)))
        view.grab()
    assert points.renders == before
    qtbot.waitUntil(lambda: points.renders > before, timeout=point_raster.SETTLE_MS * 10)
    view.grab()
    assert points.renders == before + 1


def test_a_zoom_too_far_for_the_rendering_renders_at_once(qtbot) -> None:
    view = _settled_plane(qtbot)
    points = view._points
    before = points.renders
    vb = view.plotItem.vb
    _by_hand(vb, lambda: vb.scaleBy((1 / (2 * point_raster.MAX_SCALE_DRIFT),) * 2))
    view.grab()
    assert points.renders == before + 1


def test_a_zoom_that_no_person_made_renders_crisp_at_once(qtbot) -> None:
    view = _settled_plane(qtbot)
    points = view._points
    before = points.renders
    view.plotItem.vb.scaleBy((0.9, 0.9))  # e.g. a reset or a layout: no manual range change
    QApplication.processEvents()
    view.grab()
    assert points.renders == before + 1


def _pixel(view, x: float, y: float) -> tuple[int, int]:
    p = view.viewport().mapTo(view, view.mapFromScene(view.plotItem.vb.mapViewToScene(QPointF(x, y))))
    return p.y(), p.x()


def test_hiding_a_class_is_never_hidden_behind_an_old_rendering(qtbot) -> None:
    view = _settled_plane(qtbot)
    view.set_points(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([0, 1]), ["a", "b"])
    QApplication.processEvents()
    left, right = _pixel(view, -1.0, 0.0), _pixel(view, 1.0, 0.0)
    ink = _ink(view)
    assert ink[left] and ink[right]
    view.set_class_visible(1, False)
    QApplication.processEvents()
    ink = _ink(view)
    assert ink[left] and not ink[right]


@pytest.mark.parametrize("count", [point_raster.RASTER_MIN_POINTS + 5_000])
def test_many_points_are_rasterised_in_their_class_colours(qtbot, count, monkeypatch) -> None:
    from latentlab.gui.views import plane_items

    calls: list[int] = []

    def spy(x, *args, **kwargs):
        calls.append(len(x))
        return rasterize_dots(x, *args, **kwargs)

    monkeypatch.setattr(plane_items, "rasterize_dots", spy)
    view = shown_plane(qtbot)
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], count // 2)
    xy = np.concatenate([rng.normal(size=(count // 2, 2)) * 0.2 - [2.0, 0.0],
                         rng.normal(size=(count // 2, 2)) * 0.2 + [2.0, 0.0]])
    view.set_points(xy, labels, ["left", "right"])
    QApplication.processEvents()
    shot = view.grab().toImage()
    colours = theme.label_colors(2)

    def hue_near(x: float, k: int) -> bool:
        row, col = _pixel(view, x, 0.0)
        c = shot.pixelColor(col, row)
        want = QColor(*colours[k])
        return min(abs(c.hueF() - want.hueF()), 1 - abs(c.hueF() - want.hueF())) < 0.05

    assert hue_near(-2.0, 0) and hue_near(2.0, 1)
    assert calls and calls[-1] == count  # numpy drew them, not one Qt fragment per dot
