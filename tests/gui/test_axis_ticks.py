"""The plots' axes never try to lay out more ticks than a screen could show, nor resize in a loop."""

from __future__ import annotations

import math

import pyqtgraph as pg
import pytest

from latentlab.gui.views import theme
from latentlab.gui.views.theme import FlatGridAxis


@pytest.fixture
def axes(qtbot):
    plain = pg.AxisItem("bottom")
    plain.setStyle(maxTickLevel=1, maxTextLevel=1)   # two levels of ticks, as ours draws
    return FlatGridAxis("bottom"), plain


def test_a_real_axis_gets_pyqtgraphs_own_ticks(axes) -> None:
    ours, plain = axes
    for low, high, size in ((0.0, 10.0, 500.0), (-3.2, 7.9, 1200.0), (1e6, 1e6 + 1e-3, 800.0), (0.0, 1.0, 4000.0)):
        assert ours.tickValues(low, high, size) == plain.tickValues(low, high, size)
        assert ours.tickValues(low, high, size)   # and there are some


def test_the_grid_has_major_and_minor_lines_but_not_pyqtgraphs_finest_level(axes) -> None:
    # The finest level (a tenth of the major spacing) is nearly invisible in a flat grid, and
    # laying it out and measuring its labels took about a third of a pan frame.
    ours, _plain = axes
    finest = pg.AxisItem("bottom")
    assert len(finest.tickValues(0.0, 10.0, 500.0)) == 3
    levels = ours.tickValues(0.0, 10.0, 500.0)
    assert [spacing for spacing, _ in levels] == [spacing for spacing, _ in finest.tickValues(0.0, 10.0, 500.0)][:2]


def test_an_absurd_axis_gets_no_ticks_instead_of_a_stall(axes, caplog) -> None:
    ours, plain = axes
    # pyqtgraph would lay out and compare tens of thousands of ticks for this (seconds).
    assert ours.tickValues(0.0, 10.0, 1e9) == []
    assert ours.tickValues(0.0, 10.0, theme.MAX_AXIS_PX + 1) == []
    assert ours.tickValues(0.0, math.inf, 500.0) == []
    assert ours.tickValues(0.0, 10.0, math.nan) == []
    assert ours.tickValues(0.0, 10.0, 0.0) == []
    # Said once in the log, not at every paint.
    assert sum("no ticks" in r.getMessage() for r in caplog.records) == 1


def test_the_label_space_grows_but_never_shrinks(qtbot) -> None:
    # A shrinking label space could feed back through the plane's locked aspect (narrower
    # axis, other range, wider labels, wider axis, ...) and relayout for ever.
    for orientation, size in (("left", "textWidth"), ("bottom", "textHeight")):
        axis = FlatGridAxis(orientation)
        axis._updateMaxTextSize(60)
        assert getattr(axis, size) == 60
        axis._updateMaxTextSize(20)     # shorter labels: the space stays
        assert getattr(axis, size) == 60
        axis._updateMaxTextSize(75)     # longer ones: it grows
        assert getattr(axis, size) == 75
