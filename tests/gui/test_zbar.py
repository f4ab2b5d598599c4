"""The probe's z bar chart: any D from 1 to 256, signs, highlighted plane axes."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage

from latentlab.gui.views import theme
from latentlab.gui.views.zbar import ZBarChart


@pytest.fixture
def chart(qtbot) -> ZBarChart:
    widget = ZBarChart()
    qtbot.addWidget(widget)
    widget.resize(400, 120)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _rgb(color: QColor) -> tuple[int, int, int]:
    return color.red(), color.green(), color.blue()


def _colour_in_bar(shot: QImage, chart: ZBarChart, index: int, dy: int) -> tuple[int, int, int]:
    """Colour at the middle of bar ``index``, ``dy`` pixels above (+) / below (-) zero."""
    slot = chart.bar_rect(index)
    x = int(slot.left() + slot.width() / 2 - 0.5)
    y = int(slot.center().y()) - dy
    return _rgb(shot.pixelColor(x, y))


BAR = _rgb(theme.qcolor(theme.BAR_COLOR))
ACCENT = _rgb(theme.qcolor(theme.BAR_HIGHLIGHT_COLOR))
BACK = _rgb(theme.qcolor(theme.BACKGROUND))


@pytest.mark.parametrize("dims", [1, 2, 7, 64, 256])
def test_accepts_every_dimension_from_1_to_256(chart, dims) -> None:
    z = np.linspace(2.0, -2.0, dims)
    chart.set_z(z)
    assert np.array_equal(chart.z(), z)
    shot = chart.grab().toImage()
    # The first bar is +2: drawn above the zero line, nothing below it.
    assert _colour_in_bar(shot, chart, 0, 10) == BAR
    assert _colour_in_bar(shot, chart, 0, -10) == BACK
    if dims > 1:  # the last is -2: the other way round
        assert _colour_in_bar(shot, chart, dims - 1, -10) == BAR
        assert _colour_in_bar(shot, chart, dims - 1, 10) == BACK


@pytest.mark.parametrize("size", [0, 257])
def test_rejects_empty_or_too_long_vectors(chart, size) -> None:
    with pytest.raises(ValueError, match="1..256"):
        chart.set_z(np.zeros(size))


def test_negative_values_hang_below_zero_and_scale_with_magnitude(chart) -> None:
    chart.set_z(np.array([-1.0, 3.0, 0.0]))
    shot = chart.grab().toImage()
    assert _colour_in_bar(shot, chart, 0, -5) == BAR and _colour_in_bar(shot, chart, 0, 5) == BACK
    half = chart.bar_rect(0).height() / 2
    # z = 3 reaches the top of the +-3 scale; z = -1 only a third of the way down.
    assert _colour_in_bar(shot, chart, 1, int(half * 0.9)) == BAR
    assert _colour_in_bar(shot, chart, 0, -int(half * 0.5)) == BACK


def test_highlighted_dims_use_the_accent_colour(chart) -> None:
    chart.set_z(np.ones(4))
    chart.set_highlight((1, 3))
    assert chart.highlight() == (1, 3)
    shot = chart.grab().toImage()
    colours = [_colour_in_bar(shot, chart, i, 5) for i in range(4)]
    assert colours == [BAR, ACCENT, BAR, ACCENT]
    chart.set_highlight(())
    shot = chart.grab().toImage()
    assert [_colour_in_bar(shot, chart, i, 5) for i in range(4)] == [BAR] * 4


def test_non_finite_values_draw_nothing(chart) -> None:
    chart.set_z(np.array([np.nan, np.inf, 1.0]))
    shot = chart.grab().toImage()
    assert _colour_in_bar(shot, chart, 0, 5) == BACK
    assert _colour_in_bar(shot, chart, 1, 5) == BACK
    assert _colour_in_bar(shot, chart, 2, 5) == BAR
