"""The sequence view: pen strokes broken where the pen is up, signals one curve each, steady ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage

from latentlab.core import inference
from latentlab.core.errors import LatentLabError
from latentlab.core.render import OutputSpec, output_spec
from latentlab.gui.views import theme
from latentlab.gui.views.sequence_view import SequenceView
from tests.toy_sequence import GAP, toy_families, toy_model

STROKES = OutputSpec("sequence", (5, 3), ("x", "y", "pen"))
SIGNALS = OutputSpec("sequence", (6, 2), ("left", "right"))


@pytest.fixture(autouse=True)
def _toy_families():
    with toy_families():
        yield


@pytest.fixture
def view(qtbot) -> SequenceView:
    widget = SequenceView()
    qtbot.addWidget(widget)
    widget.resize(320, 320)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _shot(widget: SequenceView) -> QImage:
    image = widget.grab().toImage()
    assert image.width() == widget.width()  # offscreen: device pixel ratio 1
    return image


def _pixel(widget: SequenceView, image: QImage, x: float, y: float) -> int:
    """The brightest lightness within a pixel of data point (x, y) (lines are anti-aliased)."""
    box = widget.getPlotItem().getViewBox()
    p = widget.mapFromScene(box.mapViewToScene(QPointF(x, y)))
    return max(image.pixelColor(p.x() + dx, p.y() + dy).lightness() for dx in (-1, 0, 1) for dy in (-1, 0, 1))


def _is_ink(lightness: int) -> bool:
    # The stroke colour is light on the dark canvas.
    return lightness > 150


def test_strokes_are_broken_where_the_pen_is_up(view, qtbot) -> None:
    # Top edge drawn, then the pen lifts at the centre, then the bottom edge drawn.
    seq = np.array([[0, 0, 1], [4, 0, 1], [2, 2, 0], [0, 4, 1], [4, 4, 1]], np.float32)
    view.set_output(seq, STROKES)
    view.getPlotItem().getViewBox().prepareForPaint()
    image = _shot(view)
    assert _is_ink(_pixel(view, image, 2, 0)) and _is_ink(_pixel(view, image, 2, 4))
    # The two pen-up segments (to and from the centre) are not drawn.
    assert not _is_ink(_pixel(view, image, 3, 1)) and not _is_ink(_pixel(view, image, 1, 3))
    assert not _is_ink(_pixel(view, image, 2, 2))
    seq[2, 2] = 1.0  # pen down at the centre: the diagonal appears
    view.set_output(seq, STROKES)
    image = _shot(view)
    assert _is_ink(_pixel(view, image, 3, 1)) and _is_ink(_pixel(view, image, 2, 2))


def test_strokes_keep_equal_aspect_and_y_grows_downwards(view) -> None:
    view.set_output(np.array([[0, 0, 1], [10, 0, 1], [10, 1, 1], [0, 1, 1], [0, 0, 1]], np.float32), STROKES)
    box = view.getPlotItem().getViewBox()
    sx, sy = box.viewPixelSize()
    assert sx == pytest.approx(sy, rel=1e-3)
    assert box.yInverted()
    top = box.mapViewToScene(QPointF(0, 0)).y()
    bottom = box.mapViewToScene(QPointF(0, 1)).y()
    assert top < bottom


def test_a_lone_pen_down_point_is_a_dot(view) -> None:
    seq = np.array([[0, 0, 1], [1, 0, 1], [2, 2, 0], [3, 3, 1], [4, 4, 0]], np.float32)
    view.set_output(seq, STROKES)
    xs, ys = view.dots().getData()
    assert xs.tolist() == [3.0] and ys.tolist() == [3.0]


def test_ranges_stay_fixed_while_outputs_fit_and_grow_when_they_do_not(view) -> None:
    model = toy_model("toy-strokes")
    spec = output_spec(model.config)
    big, small, huge = inference.decode(model, torch.tensor([[1.0, 1.0], [-1.0, -1.0], [4.0, 4.0]]))
    view.set_output(big.numpy(), spec)
    first = view.view_range()
    view.set_output(small.numpy(), spec)
    assert view.view_range() == pytest.approx(first)  # no jump to the smaller drawing
    view.set_output(huge.numpy(), spec)
    grown = view.view_range()
    assert grown[1] - grown[0] > first[1] - first[0]
    view.reset_range()
    assert view.view_range()[1] - view.view_range()[0] == pytest.approx(grown[1] - grown[0])
    view.set_output(small.numpy(), spec)
    view.reset_range()
    assert view.view_range()[1] - view.view_range()[0] < first[1] - first[0]
    view.set_extent((-5, 5, -5, 5))
    view.set_output(big.numpy(), spec)
    x0, x1, y0, y1 = view.view_range()
    assert x0 < -5 and x1 > 5 and y0 < -5 and y1 > 5 and x1 - x0 < 12


def test_signals_draw_one_curve_per_channel_in_distinct_colours(view) -> None:
    model = toy_model("toy-signals")
    spec = output_spec(model.config)
    out = inference.decode(model, torch.tensor([0.8, -0.3]))[0].numpy()
    view.set_output(out, spec)
    curves = view.curves()
    assert len(curves) == 2
    for k, curve in enumerate(curves):
        x, y = curve.getData()
        assert np.array_equal(x, np.arange(24)) and np.allclose(y, out[:, k])
    colours = {curve.opts["pen"].color().name() for curve in curves}
    assert len(colours) == 2
    assert [QColor(*c).name() for c in theme.label_colors(2)] == [c.opts["pen"].color().name() for c in curves]
    legend = view.getPlotItem().getViewBox().childItems()
    names = [label.text for item in legend if hasattr(item, "items") for _, label in item.items]
    assert names == ["sine", "cosine"]
    assert not view.getPlotItem().getViewBox().yInverted()
    # The steps fill the width; the values' range holds zero.
    x0, x1, y0, y1 = view.view_range()
    assert x0 < 0 < 23 < x1 and y0 < min(0.0, out.min()) and y1 > max(0.0, out.max())


def test_items_are_made_once_per_spec_so_redraws_only_set_data(view) -> None:
    model = toy_model("toy-signals")
    spec = output_spec(model.config)
    outs = inference.decode(model, torch.randn(5, 2))
    view.set_output(outs[0].numpy(), spec)
    first = view.curves()
    for out in outs[1:]:
        view.set_output(out.numpy(), spec)
    assert all(a is b for a, b in zip(first, view.curves()))
    view.set_output(np.zeros((5, 3), np.float32), STROKES)
    assert len(view.curves()) == 1 and view.curves()[0] not in first
    assert view.getPlotItem().getViewBox().yInverted()


def test_clear_shows_the_message_and_empties_the_curves(view) -> None:
    model = toy_model("toy-strokes")
    view.set_output(inference.decode(model, torch.zeros(2))[0].numpy(), output_spec(model.config))
    assert view.current_output() is not None and view.message() == ""
    view.set_caption("z = (0, 0)")
    view.clear("Train or load a model")
    assert view.current_output() is None and view.message() == "Train or load a model"
    assert view.caption() == "z = (0, 0)"
    view.set_caption("")
    assert view.caption() == ""
    x, _ = view.curves()[0].getData()
    assert x is None or len(x) == 0
    # The pen gap of the toy strokes is kept as data: drawing it again restores the curve.
    out = inference.decode(model, torch.zeros(2))[0].numpy()
    view.set_output(out, output_spec(model.config))
    connect = view.curves()[0].opts["connect"]
    assert not connect[GAP[0]] and connect[0]


def test_wrong_shapes_and_image_specs_are_refused(view) -> None:
    with pytest.raises(LatentLabError, match=r"\[T, 3\]"):
        view.set_output(np.zeros((4, 2)), STROKES)
    with pytest.raises(LatentLabError, match="decoded view"):
        view.set_output(np.zeros((1, 4, 4)), OutputSpec("image", (1, 4, 4)))
    with pytest.raises(LatentLabError, match="x0 < x1"):
        view.set_extent((1, 0, 0, 1))
    assert view.current_output() is None
