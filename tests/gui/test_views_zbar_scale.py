"""The z bar chart shows its scale and marks what it cannot draw."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor

from latentlab.gui.views import theme
from latentlab.gui.views.zbar import ZBarChart, half_range_for


@pytest.fixture
def chart(qtbot) -> ZBarChart:
    widget = ZBarChart()
    qtbot.addWidget(widget)
    widget.resize(300, 90)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


BACK = theme.qcolor(theme.BACKGROUND)


def _differs(color: QColor, other: QColor, by: int = 40) -> bool:
    return abs(color.red() - other.red()) + abs(color.green() - other.green()) + \
        abs(color.blue() - other.blue()) > by


@pytest.mark.parametrize(("values", "ticks"), [
    ([0.4, -1.3], ("3", "0", "−3")),
    ([3.0, -2.0], ("3", "0", "−3")),
    ([7.0, 1.0], ("10", "0", "−10")),
    ([-42.0], ("50", "0", "−50")),
    ([150.0, 0.0], ("200", "0", "−200")),
])
def test_the_scale_names_its_range(chart, values, ticks) -> None:
    chart.set_z(np.array(values))
    assert chart.tick_labels() == ticks


def test_every_finite_value_fits_the_scale() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        z = rng.normal(size=rng.integers(1, 50)) * 10 ** rng.uniform(-2, 4)
        r = half_range_for(z)
        assert r >= np.abs(z).max() and r >= 3.0
        assert r <= max(3.0, 2.5 * np.abs(z).max())   # and is not far too big


def test_the_scale_is_drawn_left_of_the_bars(chart) -> None:
    chart.set_z(np.array([1.0, -1.0]))
    shot = chart.grab().toImage()
    plot_left = int(chart.bar_rect(0).left())
    assert plot_left > 8   # room was made for the numbers
    top = int(chart.bar_rect(0).top())
    ink = [shot.pixelColor(x, y) for x in range(0, plot_left - 2) for y in range(max(0, top - 6), top + 6)]
    assert any(_differs(c, BACK) for c in ink)   # the top number is painted


def test_a_bar_reaches_as_far_as_its_value_on_the_scale(chart) -> None:
    chart.set_z(np.array([7.0]))   # on a +-10 scale: 70 % of the way up
    shot = chart.grab().toImage()
    slot = chart.bar_rect(0)
    x, zero, half = int(slot.center().x()), slot.center().y(), slot.height() / 2
    bar = theme.qcolor(theme.BAR_COLOR)
    assert not _differs(shot.pixelColor(x, int(zero - 0.6 * half)), bar, 10)
    assert not _differs(shot.pixelColor(x, int(zero - 0.8 * half)), BACK, 10)


def test_values_that_cannot_be_drawn_are_marked_and_named(chart) -> None:
    chart.set_z(np.array([np.nan, np.inf, -np.inf, 1.0]))
    assert chart.marked() == [0, 1, 2]
    assert "NaN" in chart.bar_tooltip(0)
    assert "+∞" in chart.bar_tooltip(1) and "−∞" in chart.bar_tooltip(2)
    assert chart.bar_tooltip(3) == "z[3] = 1.000"
    assert chart.tick_labels() == ("3", "0", "−3")   # the finite values set the scale
    shot = chart.grab().toImage()
    red = theme.qcolor("#ff5c5c")
    for index, dy in ((0, 0), (1, 0.85), (2, -0.85)):   # a cross at zero, arrows at the edges
        slot = chart.bar_rect(index)
        y = int(slot.center().y() - dy * slot.height() / 2)
        near = [shot.pixelColor(int(slot.center().x()) + dx, y + ddy) for dx in range(-2, 3) for ddy in range(-2, 3)]
        assert any(not _differs(c, red, 60) for c in near), index
