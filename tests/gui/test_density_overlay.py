"""View ▸ Data Density: the log-density of the data's codes under the plane's dots."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from latentlab.gui.tools.density import GRID, UPSAMPLE, colour, upsample
from tests.gui.controller_support import show_region, tiny_model, wait_for_codes

ITEMS = 200


def _cell_centres(rect, size):
    x0, y0, w, h = rect
    xs = x0 + (np.arange(size) + 0.5) * (w / size)
    ys = y0 + (np.arange(size) + 0.5) * (h / size)
    return xs, ys


def test_the_overlay_shows_the_maps_density_over_the_visible_plane(qtbot, opened):
    window, c = opened(tiny_model(), items=ITEMS)
    wait_for_codes(qtbot, c)
    qtbot.waitUntil(lambda: c.probe_score.map is not None and len(c.probe_score.map) == ITEMS, timeout=10000)
    overlay = c.density
    assert not overlay.item.isVisible()
    window.density_action.trigger()
    qtbot.waitUntil(lambda: overlay.item.isVisible() and overlay.last is not None, timeout=10000)
    grid = overlay.last
    assert grid.shape == (GRID, GRID)
    rect = window.plane.visible_rect()
    xs, ys = _cell_centres(rect, GRID)
    # Row r is at height ys[r] (row 0 at the bottom), column k at xs[k]: the map's own numbers.
    built = c.probe_score.map
    for r, k in [(0, 0), (GRID // 2, GRID // 3), (GRID - 1, GRID - 1)]:
        z = c.scene.plane.origin.numpy() + np.array([xs[k], ys[r]]) @ c.scene.plane.basis.numpy()
        assert grid[r, k] == pytest.approx(float(built.log_density(z[None])[0]), rel=1e-6, abs=1e-6)
    # The image covers exactly the visible plane.
    r = overlay.item.mapRectToParent(overlay.item.boundingRect())
    assert (r.left(), r.top(), r.width(), r.height()) == pytest.approx(rect, rel=1e-6, abs=1e-9)
    # Row r of the grid is drawn at height ys[r]: row 0 at the bottom of the view, as computed.
    from PySide6.QtCore import QPointF

    fine_x, fine_y = _cell_centres(rect, GRID * UPSAMPLE)
    for row, col in [(0, 0), (GRID * UPSAMPLE - 1, 5)]:
        at = overlay.item.mapToParent(QPointF(col + 0.5, row + 0.5))
        assert (at.x(), at.y()) == pytest.approx((fine_x[col], fine_y[row]), rel=1e-6, abs=1e-9)
    # The densest cell is drawn in the brightest colour, the least dense in a darker one.
    shown = overlay.item.image.astype(np.int64).sum(axis=2)
    peak = np.unravel_index(int(np.argmax(grid)), grid.shape)
    low = np.unravel_index(int(np.argmin(grid)), grid.shape)
    centre = UPSAMPLE // 2
    assert shown[peak[0] * UPSAMPLE + centre, peak[1] * UPSAMPLE + centre] >= shown.max() - 3   # rounding
    assert shown[low[0] * UPSAMPLE + centre, low[1] * UPSAMPLE + centre] < shown.max()
    # Dense where the codes are, empty far from them: the brightest cell holds codes.
    r, k = np.unravel_index(int(np.argmax(grid)), grid.shape)
    cell_w, cell_h = rect[2] / GRID, rect[3] / GRID
    xy = c.scene.xy
    near = (np.abs(xy[:, 0] - xs[k]) < 3 * cell_w) & (np.abs(xy[:, 1] - ys[r]) < 3 * cell_h)
    assert near.any()
    # A pan far away recomputes for the new view, where the data is not: all far below the old peak.
    old_peak = float(grid.max())
    show_region(window, half=3.0)
    window.plane.plotItem.vb.setRange(xRange=(40, 46), yRange=(40, 46), padding=0)
    window.viewChanged.emit()
    qtbot.waitUntil(lambda: overlay.last is not None and overlay.last is not grid, timeout=10000)
    assert float(overlay.last.max()) < old_peak - 5
    # Off again: the image goes.
    window.density_action.trigger()
    QApplication.processEvents()
    assert not overlay.item.isVisible() and overlay.last is None


def test_upsampling_keeps_the_extent_and_interpolates():
    grid = np.array([[0.0, 4.0], [8.0, 12.0]])
    fine = upsample(grid, 2)
    assert fine.shape == (4, 4)
    # Corner pixels hold the edge values; inner ones lie between their neighbours.
    assert fine[0, 0] == 0.0 and fine[-1, -1] == 12.0
    assert fine[1, 1] == pytest.approx(3.0) and fine[0, 1] == pytest.approx(1.0)
    with_hole = upsample(np.array([[0.0, -np.inf]]), 2)
    assert np.isfinite(with_hole).all()


def test_colours_run_from_empty_to_dense():
    grid = np.array([[-100.0, -6.0, 0.0, -np.inf]])
    rgb = colour(grid)
    assert rgb.shape == (1, 4, 3) and rgb.dtype == np.uint8
    # Brighter with density; more than 12 nats below the top (or -inf) is the empty colour.
    assert rgb[0, 0].sum() < rgb[0, 1].sum() < rgb[0, 2].sum()
    assert tuple(rgb[0, 0]) == tuple(rgb[0, 3]) == (21, 23, 28)

