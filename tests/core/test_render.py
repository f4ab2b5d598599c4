"""Rendering decoded outputs to pixels: images as they are, pen strokes drawn, signals plotted."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentlab.core import inference, render
from latentlab.core.errors import LatentLabError
from latentlab.core.models import ModelConfig
from latentlab.core.render import (
    SIGNAL_COLORS,
    ZERO_LINE_COLOR,
    OutputSpec,
    as_images,
    output_extent,
    output_spec,
    render_batch,
)
from tests.toy_sequence import toy_families, toy_model

STROKES = OutputSpec("sequence", (4, 3), ("x", "y", "pen"))
UNIT = (0.0, 1.0, 0.0, 1.0)


@pytest.fixture(autouse=True)
def _toy_families():
    with toy_families():
        yield


def _ink(px: np.ndarray, level: int = 128) -> np.ndarray:
    """Pixels darker than ``level`` (ink on the white page)."""
    return px < level


def _strokes(points: list[tuple[float, float, float]]) -> np.ndarray:
    return np.array(points, dtype=np.float32)


# -------------------------------------------------------------------------- specs
def test_spec_recognises_strokes_by_feature_names_and_the_rest_as_signals() -> None:
    assert STROKES.style == "strokes" and STROKES.channels == 1
    assert OutputSpec("sequence", (5, 4), ("pen", "pressure", "y", "x")).style == "strokes"
    assert OutputSpec("sequence", (5, 3), ("dx", "dy", "pen")).style == "strokes"
    signals = OutputSpec("sequence", (5, 3), ("x", "y", "z"))  # no pen: a 3-channel signal
    assert signals.style == "signals" and signals.channels == 3
    assert OutputSpec("sequence", (5, 2)).features == ("f0", "f1")
    assert OutputSpec("image", (3, 8, 8)).style == "image" and OutputSpec("image", (3, 8, 8)).channels == 3


@pytest.mark.parametrize("kind, shape, features, message", [
    ("audio", (5, 2), (), "unknown output kind"),
    ("image", (2, 8, 8), (), "1 or 3 channels"),
    ("image", (1, 8, 8), ("a",), "no feature names"),
    ("sequence", (5, 2, 1), (), r"\(T, F\)"),
    ("sequence", (5, 2), ("a",), "needs 2 feature names"),
    ("sequence", (5, 2), ("a", "a"), "must differ"),
])
def test_bad_specs_are_refused(kind, shape, features, message) -> None:
    with pytest.raises(LatentLabError, match=message):
        OutputSpec(kind, shape, features)


def test_output_spec_of_an_image_model_and_a_sequence_model() -> None:
    spec = output_spec(ModelConfig(input_shape=(3, 16, 12)))
    assert spec == OutputSpec("image", (3, 16, 12))
    toy = output_spec(toy_model("toy-signals").config)
    assert toy.kind == "sequence" and toy.features == ("sine", "cosine") and toy.shape == (24, 2)


# ------------------------------------------------------------------------- images
def test_images_render_as_their_pixels_and_resize_by_nearest_neighbour() -> None:
    img = torch.tensor([[[0.0, 1.0], [1.0, 0.5]]])
    spec = OutputSpec("image", (1, 2, 2))
    assert render.render(img, spec).tolist() == [[0, 255], [255, 128]]
    big = render.render(img, spec, size=8)
    assert big.tolist() == np.kron([[0, 255], [255, 128]], np.ones((4, 4), int)).tolist()
    rgb = render.render(torch.rand(1, 3, 5, 6), OutputSpec("image", (3, 5, 6)))
    assert rgb.shape == (5, 6, 3) and rgb.dtype == np.uint8


def test_images_must_match_the_spec() -> None:
    with pytest.raises(LatentLabError, match="expected images"):
        render_batch(torch.rand(2, 1, 5, 5), OutputSpec("image", (1, 4, 4)))


# ------------------------------------------------------------------------ strokes
def test_a_horizontal_stroke_lights_the_expected_row() -> None:
    line = _strokes([(0.0, 0.5, 1.0), (1.0, 0.5, 1.0)])
    px = render.render(line, OutputSpec("sequence", (2, 3), ("x", "y", "pen")), size=40, extent=UNIT)
    assert px.shape == (40, 40) and px.dtype == np.uint8
    rows, cols = np.nonzero(_ink(px))
    # Margins of 8% (3.2 px); y = 0.5 falls on the canvas's middle, x spans the drawable width.
    assert set(rows.tolist()) <= {19, 20}
    assert cols.min() <= 4 and cols.max() >= 35
    assert px[:15].min() == 255 and px[25:].min() == 255  # nothing else is drawn
    # Anti-aliased: the edges of the 1-px line fall between ink and page.
    assert ((px > 0) & (px < 255)).any()


def test_y_grows_downwards_like_a_page() -> None:
    spec = OutputSpec("sequence", (2, 3), ("x", "y", "pen"))
    high = render.render(_strokes([(0, 0.1, 1), (1, 0.1, 1)]), spec, size=40, extent=UNIT)
    low = render.render(_strokes([(0, 0.9, 1), (1, 0.9, 1)]), spec, size=40, extent=UNIT)
    assert np.nonzero(_ink(high))[0].mean() < 12 < 28 < np.nonzero(_ink(low))[0].mean()


def test_segments_with_the_pen_up_are_not_drawn() -> None:
    # Top edge, then a diagonal through the centre, then the bottom edge.
    down = _strokes([(0, 0, 1), (1, 0, 1), (0.5, 0.5, 1), (0, 1, 1), (1, 1, 1)])
    lifted = down.copy()
    lifted[2, 2] = 0.0  # the pen leaves the paper at the centre: both diagonal halves vanish
    spec = OutputSpec("sequence", (5, 3), ("x", "y", "pen"))
    a = render.render(down, spec, size=48, extent=UNIT)
    b = render.render(lifted, spec, size=48, extent=UNIT)
    assert a[22:26, 22:26].min() < 100  # the diagonal crosses the centre
    assert b[8:40, 8:40].min() == 255    # nothing between the two edges
    assert _ink(b[:8]).any() and _ink(b[40:]).any()  # both edges still drawn


def test_a_lone_pen_down_point_is_a_dot_and_all_pen_up_draws_nothing() -> None:
    spec = OutputSpec("sequence", (3, 3), ("x", "y", "pen"))
    dot = render.render(_strokes([(0, 0, 0), (0.5, 0.5, 1), (1, 1, 0)]), spec, size=48, extent=UNIT)
    rows, cols = np.nonzero(dot < 200)
    assert rows.size and abs(rows.mean() - 23.5) < 1.5 and abs(cols.mean() - 23.5) < 1.5
    assert rows.size < 20
    blank = render.render(_strokes([(0, 0, 0), (1, 1, 0.2), (0.5, 0, 0.4)]), spec, size=32)
    assert blank.min() == 255


def test_offsets_feature_order_and_extra_features() -> None:
    absolute = _strokes([(0, 0, 1), (1, 0, 1), (1, 1, 1), (0.2, 0.7, 1)])
    offsets = absolute.copy()
    offsets[1:, :2] = np.diff(absolute[:, :2], axis=0)
    a = render.render(absolute, STROKES, size=32)
    b = render.render(offsets, OutputSpec("sequence", (4, 3), ("dx", "dy", "pen")), size=32)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    # Columns in another order, plus a feature the drawing ignores.
    shuffled = np.stack([absolute[:, 2], np.full(4, 7.0), absolute[:, 1], absolute[:, 0]], axis=1)
    c = render.render(shuffled, OutputSpec("sequence", (4, 4), ("pen", "pressure", "y", "x")), size=32)
    assert np.array_equal(a, c)


def test_a_drawing_is_fitted_to_the_canvas_with_margins_and_kept_in_proportion() -> None:
    wide = _strokes([(100, 50, 1), (300, 50, 1), (300, 150, 1)])  # 200 wide, 100 high
    px = render.render(wide, OutputSpec("sequence", (3, 3), ("x", "y", "pen")), size=(60, 100))
    rows, cols = np.nonzero(_ink(px))
    margin = 0.08 * 60
    assert cols.min() >= margin - 2 and cols.max() <= 100 - margin + 1
    assert rows.min() >= margin - 2 and rows.max() <= 60 - margin + 1
    # The limiting side (height: 60 - 2 margins) spans 100 units, so 200 units span twice that.
    height, width = rows.max() - rows.min(), cols.max() - cols.min()
    assert width == pytest.approx(2 * height, abs=3)


def test_a_batch_shares_one_extent_so_frames_line_up() -> None:
    model = toy_model("toy-strokes")
    out = inference.decode(model, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    spec = output_spec(model.config)
    together = render_batch(out, spec, size=64)
    alone = render.render(out[0], spec, size=64)
    # Alone the small ellipse fills the canvas; beside the big one it is drawn smaller.
    assert _ink(alone).sum() > _ink(together[0]).sum()
    assert together.shape == (2, 64, 64)
    ext = output_extent(out, spec)
    assert np.array_equal(render.render(out[0], spec, size=64, extent=ext), together[0])


# ------------------------------------------------------------------------ signals
def _colour_rows(px: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    close = np.abs(px.astype(int) - np.array(rgb)).max(axis=-1) < tol
    return np.nonzero(close)[0]


def test_each_signal_channel_has_its_own_colour_and_there_is_a_zero_line() -> None:
    spec = OutputSpec("sequence", (10, 2), ("up", "down"))
    seq = np.stack([np.full(10, 1.0), np.full(10, -1.0)], axis=1)
    px = render.render(seq, spec, size=(60, 90))
    assert px.shape == (60, 90, 3)
    first, second = _colour_rows(px, SIGNAL_COLORS[0]), _colour_rows(px, SIGNAL_COLORS[1])
    zero = _colour_rows(px, ZERO_LINE_COLOR, tol=8)
    assert first.size > 30 and second.size > 30 and SIGNAL_COLORS[0] != SIGNAL_COLORS[1]
    # +1 above the zero line above -1 (screen rows grow downwards).
    assert first.max() < np.median(zero) < second.min()


def test_a_non_finite_value_breaks_a_signal_line() -> None:
    spec = OutputSpec("sequence", (21, 1), ("v",))
    seq = np.full((21, 1), 0.5, np.float32)
    whole = render.render(seq, spec, size=(40, 84), extent=(0, 20, -1, 1))
    seq[8:13] = np.nan
    broken = render.render(seq, spec, size=(40, 84), extent=(0, 20, -1, 1))
    cols_whole = np.unique(np.nonzero(np.abs(whole.astype(int) - SIGNAL_COLORS[0]).max(-1) < 40)[1])
    cols_broken = np.unique(np.nonzero(np.abs(broken.astype(int) - SIGNAL_COLORS[0]).max(-1) < 40)[1])
    assert len(cols_broken) < len(cols_whole) - 10
    assert 42 in cols_whole and 42 not in cols_broken  # the middle step is missing


def test_signal_extent_always_holds_zero_and_the_whole_batch() -> None:
    spec = OutputSpec("sequence", (3, 1), ("v",))
    batch = np.array([[[2.0], [3.0], [4.0]], [[1.0], [5.0], [np.nan]]], np.float32)
    assert output_extent(batch, spec) == (0.0, 2.0, 0.0, 5.0)


# --------------------------------------------------------------- shared helpers
def test_as_images_gives_float_images_for_every_kind() -> None:
    imgs = torch.rand(3, 1, 5, 5)
    assert torch.equal(as_images(imgs, OutputSpec("image", (1, 5, 5))), imgs)
    model = toy_model("toy-signals")
    out = inference.decode(model, torch.randn(4, 2))
    spec = output_spec(model.config)
    images = as_images(out, spec, size=32)
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32
    assert torch.equal((images * 255).round().to(torch.uint8).permute(0, 2, 3, 1),
                       torch.from_numpy(render_batch(out, spec, size=32)))


@pytest.mark.parametrize("size, message", [
    (4, "between 8 and 4096"), ((20, 5000), "between 8 and 4096"), (2.5, "whole number"),
    ((True, 20), "whole number"), ((10, 10, 10), "whole number"),
])
def test_absurd_sizes_are_refused(size, message) -> None:
    with pytest.raises(LatentLabError, match=message):
        render.render(np.zeros((3, 3), np.float32), OutputSpec("sequence", (3, 3)), size=size)


def test_a_batch_too_large_to_hold_is_refused_before_drawing() -> None:
    spec = OutputSpec("sequence", (2, 3), ("x", "y", "pen"))
    with pytest.raises(LatentLabError, match="fewer or smaller"):
        render_batch(np.zeros((100, 2, 3), np.float32), spec, size=4096)


def test_sequences_of_the_wrong_width_and_bad_extents_are_refused() -> None:
    with pytest.raises(LatentLabError, match=r"\[N, T, 3\]"):
        render_batch(np.zeros((2, 5, 2), np.float32), STROKES)
    with pytest.raises(LatentLabError, match="a sequence"):
        render.render(np.zeros(5, np.float32), STROKES)
    with pytest.raises(LatentLabError, match="x0 < x1"):
        render.render(np.zeros((4, 3), np.float32), STROKES, extent=(1, 0, 0, 1))
