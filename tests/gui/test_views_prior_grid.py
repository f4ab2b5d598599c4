"""The manifold over the prior gets cells big enough to see, and the dots let it show."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from latentlab.core import latent
from latentlab.gui.manifold import (MAX_CELLS_PER_SIDE, MIN_CELL_PX, prior_grid_codes, prior_grid_side,
                                    prior_grid_span, view_cells)
from latentlab.gui.views.plane_view import LatentPlaneView
from tests.gui.plane_support import shown_plane


@pytest.mark.parametrize("n", [2, 3, 7, 15, 24])
def test_the_span_is_the_rectangle_the_tiles_cover(n) -> None:
    _codes, (_x0, _y0, w, h) = prior_grid_codes(latent.dims_plane(0, 1, 2), n)
    assert prior_grid_span(n) == pytest.approx(w, rel=1e-5) == pytest.approx(h, rel=1e-5)


@pytest.mark.parametrize("px_per_unit", [5.0, 20.0, 43.0, 80.0, 150.0, 400.0, 5000.0])
def test_cells_are_as_many_as_fit_at_the_smallest_readable_size(px_per_unit) -> None:
    n = prior_grid_side(px_per_unit)
    assert 2 <= n <= MAX_CELLS_PER_SIDE
    cell = prior_grid_span(n) * px_per_unit / n
    if n > 2:
        assert cell >= MIN_CELL_PX
    if n < MAX_CELLS_PER_SIDE:   # one more per side would be too small
        assert prior_grid_span(n + 1) * px_per_unit / (n + 1) < MIN_CELL_PX


@pytest.mark.parametrize("bad", [0.0, -3.0, float("nan"), float("inf")])
def test_a_view_without_a_size_gets_the_smallest_grid(bad) -> None:
    assert prior_grid_side(bad) == 2


@pytest.fixture
def view(qtbot) -> LatentPlaneView:
    # The plane as a new user sees it: a VAE's codes spread over about +-4, a 430 x 340 view.
    return shown_plane(qtbot, (430, 340), points=2000, spread=1.5)


def _show_prior_grid(view: LatentPlaneView) -> int:
    n = prior_grid_side(view.pixels_per_unit())
    _codes, rect = prior_grid_codes(latent.dims_plane(0, 1, 2), n)
    view.set_mosaic(np.zeros((n * 8, n * 8)), rect)
    QApplication.processEvents()
    return n


def test_framed_on_the_prior_the_grid_fills_the_view_with_readable_cells(view) -> None:
    n_cols, n_rows = view_cells(view.width(), view.height())
    _codes, square = prior_grid_codes(latent.dims_plane(0, 1, 2), min(n_cols, n_rows))
    view.frame(square)
    n = _show_prior_grid(view)
    shown = view.mosaic_item().sceneBoundingRect()
    assert shown.width() / n >= MIN_CELL_PX and shown.height() / n >= MIN_CELL_PX
    assert n >= 7   # a real grid, not a few pictures
    assert shown.height() > 0.8 * view.plotItem.vb.sceneBoundingRect().height()
    # The old fixed 15 per side gave cells under 30 pixels here.
    assert shown.width() / 15 < 30


def test_zoomed_out_the_grid_has_fewer_cells_not_smaller_ones(view) -> None:
    n = _show_prior_grid(view)
    shown = view.mosaic_item().sceneBoundingRect()
    assert n < 15
    assert shown.width() / n > 2 * shown.width() / 15


def test_framing_keeps_the_view_through_live_updates(view) -> None:
    view.frame((-1.0, -1.0, 2.0, 2.0))
    before = view.visible_rect()
    xy, _ = view._points.getData()   # noqa: SLF001
    view.update_points(np.c_[xy, _] * 2.0)
    assert view.visible_rect() == pytest.approx(before)
    with pytest.raises(ValueError, match="frame"):
        view.frame((0.0, 0.0, 0.0, 1.0))


def test_the_dots_step_back_while_a_mosaic_shows(view) -> None:
    _show_prior_grid(view)
    assert view._points.opacity() < 0.5   # noqa: SLF001
    view.clear_mosaic()
    assert view._points.opacity() == 1.0   # noqa: SLF001
