"""What a decoder makes, turned into pixels: one renderer per output kind (Pillow, no Qt).

A model's *output kind* travels with it (:func:`output_spec`):

* ``image``: ``[C, H, W]`` floats in [0, 1], C = 1 or 3. Rendered as the pixels they are.
* ``sequence``: ``[T, F]`` floats, one row per step, one column per named feature.

  - **Pen strokes** are recognised by their feature names: ``x``, ``y`` and ``pen`` (absolute
    positions) or ``dx``, ``dy`` and ``pen`` (offsets from the previous point, as in
    sketch-rnn; the first offset is taken from the origin). Other features may sit beside
    them and are ignored when drawing. ``pen`` is whether the pen touches the paper at that
    point (down when ``pen >= 0.5``); a line joins two consecutive points when the pen is down
    at both, and a down point with no down neighbour is drawn as a dot. ``y`` grows
    downwards, as on a page or a tablet. The drawing is fitted to the canvas with margins,
    aspect kept, and anti-aliased (drawn at 4× and averaged down). Dark ink on white.
  - Anything else is a **signal**: one line per feature over time on a small white plot,
    each channel in its own colour (:data:`SIGNAL_COLORS`), with a grey zero line.

:func:`render` draws one output, :func:`render_batch` several with one shared extent (so the
frames of an animation or the cells of a grid line up), and :func:`as_images` gives any
kind as float images ``[N, C, H, W]`` in [0, 1] for code that only knows images.
Renders are ``uint8`` ``[H, W]`` (one channel) or ``[H, W, 3]``, as :func:`to_uint8` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry
from latentlab.core.models.registry import OUTPUT_KINDS

__all__ = [
    "DEFAULT_SEQUENCE_SIZE",
    "MAX_RENDER_PIXELS",
    "MAX_RENDER_SIDE",
    "MIN_RENDER_SIDE",
    "OUTPUT_KINDS",
    "SIGNAL_COLORS",
    "STROKE_FEATURES",
    "Extent",
    "OutputSpec",
    "as_images",
    "output_extent",
    "output_spec",
    "render",
    "render_batch",
    "stroke_points",
    "to_uint8",
]

#: Feature names that make a sequence pen strokes: absolute positions or offsets, plus the pen.
STROKE_FEATURES = (("x", "y", "pen"), ("dx", "dy", "pen"))
#: Height and width of a rendered sequence when no size is asked for.
DEFAULT_SEQUENCE_SIZE = (96, 96)
MIN_RENDER_SIDE = 8
MAX_RENDER_SIDE = 4096
#: Bytes a batch of renders may take (N × H × W × channels); more is refused, not swapped.
MAX_RENDER_PIXELS = 1 << 30
#: Signal channel colours (RGB), distinct on white; channel k takes colour k modulo the length.
SIGNAL_COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)
ZERO_LINE_COLOR = (200, 200, 200)
FRAME_COLOR = (225, 225, 225)
PEN_DOWN = 0.5
_SUPERSAMPLE = 4   # strokes and curves are drawn this many times larger, then box-averaged down
_MARGIN = 0.08     # of the smaller side, left free around a drawing or a plot

#: ``(x0, x1, y0, y1)``: the data rectangle a render maps onto its canvas. For a signal,
#: x is the step index and y the value.
Extent = tuple[float, float, float, float]


@dataclass(frozen=True)
class OutputSpec:
    """What one decoded output is: its kind, shape and (for a sequence) feature names.

    ``shape`` is ``(C, H, W)`` for an image and ``(T, F)`` for a sequence; a sequence
    without names gets ``f0 .. f{F-1}``.
    """

    kind: str
    shape: tuple[int, ...]
    features: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(v) for v in self.shape))
        object.__setattr__(self, "features", tuple(str(v) for v in self.features))
        if self.kind not in OUTPUT_KINDS:
            raise LatentLabError(f"unknown output kind '{self.kind}' (choose from {', '.join(OUTPUT_KINDS)})")
        if self.kind == "image":
            if len(self.shape) != 3 or self.shape[0] not in (1, 3) or min(self.shape) < 1:
                raise LatentLabError(f"an image output is (C, H, W) with 1 or 3 channels, got {self.shape}")
            if self.features:
                raise LatentLabError("an image output has no feature names")
            return
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise LatentLabError(f"a sequence output is (T, F) with positive sizes, got {self.shape}")
        if not self.features:
            object.__setattr__(self, "features", tuple(f"f{k}" for k in range(self.shape[1])))
        if len(self.features) != self.shape[1]:
            raise LatentLabError(f"a sequence of {self.shape[1]} features needs {self.shape[1]} feature "
                                 f"names, got {len(self.features)}")
        if len(set(self.features)) != len(self.features):
            raise LatentLabError(f"feature names must differ: {', '.join(self.features)}")

    @property
    def style(self) -> str:
        """How it is drawn: ``"image"``, ``"strokes"`` or ``"signals"``."""
        if self.kind == "image":
            return "image"
        return "strokes" if self._stroke_columns() is not None else "signals"

    @property
    def channels(self) -> int:
        """Channels of a render: 1 (grey images, strokes) or 3 (colour images, signal plots)."""
        if self.kind == "image":
            return self.shape[0]
        return 1 if self.style == "strokes" else 3

    def _stroke_columns(self) -> tuple[int, int, int, bool] | None:
        # (x column, y column, pen column, positions are offsets) or None for a signal.
        names = self.features
        for fx, fy, fp in STROKE_FEATURES:
            if fx in names and fy in names and fp in names:
                return names.index(fx), names.index(fy), names.index(fp), fx == "dx"
        return None


def output_spec(config: Any) -> OutputSpec:
    """The output of a model of ``config`` (a :class:`~latentlab.core.models.ModelConfig`).

    The family registry declares each family's output kind (``capabilities.output``); the
    config carries the shape (``input_shape``) and a sequence's ``feature_names``.
    """
    kind = registry.get(config.family).capabilities.output
    shape = tuple(int(v) for v in config.input_shape)
    if kind == "image":
        return OutputSpec("image", shape)
    return OutputSpec("sequence", shape, tuple(config.feature_names))


# -- sizes and inputs ------------------------------------------------------------------


def _check_size(size: int | Sequence[int] | None, spec: OutputSpec) -> tuple[int, int] | None:
    """``(height, width)`` asked for, None for an image's own size; absurd sizes are refused."""
    if size is None:
        return None if spec.kind == "image" else DEFAULT_SEQUENCE_SIZE
    if isinstance(size, (int, np.integer)):
        pair: tuple[Any, ...] = (size, size)
    elif isinstance(size, (tuple, list)):
        pair = tuple(size)
    else:
        pair = ()
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise LatentLabError(f"a render size is a whole number of pixels or (height, width), got {size!r}")
    h, w = int(pair[0]), int(pair[1])
    if not (MIN_RENDER_SIDE <= h <= MAX_RENDER_SIDE and MIN_RENDER_SIDE <= w <= MAX_RENDER_SIDE):
        raise LatentLabError(f"a render must be between {MIN_RENDER_SIDE} and {MAX_RENDER_SIDE} pixels "
                             f"on each side, got {h} x {w}")
    return h, w


def _numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _check_batch(outputs: torch.Tensor | np.ndarray, spec: OutputSpec) -> np.ndarray:
    """Outputs as float32 ``[N, ...]``, checked against ``spec`` (a sequence may have any length)."""
    x = _numpy(outputs)
    if spec.kind == "image":
        if x.ndim != 4 or x.shape[1:] != spec.shape:
            raise LatentLabError(f"expected images [N, {', '.join(map(str, spec.shape))}], got {x.shape}")
    elif x.ndim != 3 or x.shape[2] != spec.shape[1] or x.shape[1] < 1:
        raise LatentLabError(f"expected sequences [N, T, {spec.shape[1]}] ({', '.join(spec.features)}), "
                             f"got {x.shape}")
    return x


def _one(output: torch.Tensor | np.ndarray, spec: OutputSpec) -> np.ndarray:
    x = _numpy(output)
    single = 3 if spec.kind == "image" else 2
    if x.ndim == single + 1 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != single:
        what = "an image [C, H, W]" if spec.kind == "image" else "a sequence [T, F]"
        raise LatentLabError(f"expected {what}, got shape {x.shape}")
    return _check_batch(x[None], spec)


# -- images ----------------------------------------------------------------------------


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float images in [0, 1] to display bytes.

    ``[C, H, W]`` gives ``H x W`` (1 channel) or ``H x W x 3`` (3 channels); a batch
    ``[N, C, H, W]`` gives the same with a leading ``N``. Values are clipped; NaN becomes 0.
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim not in (3, 4) or x.shape[-3] not in (1, 3):
        raise LatentLabError(f"images must be [C, H, W] or [N, C, H, W] with 1 or 3 channels, got {x.shape}")
    x = np.nan_to_num(x.astype(np.float32), nan=0.0)
    u8 = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    u8 = np.moveaxis(u8, -3, -1)  # channels last, as image libraries expect
    return u8[..., 0] if u8.shape[-1] == 1 else u8


def _render_image(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    px = to_uint8(image)
    if size is None or size == px.shape[:2]:
        return px
    # Nearest neighbour: a decoded digit keeps its pixels when shown larger.
    return np.asarray(Image.fromarray(px).resize((size[1], size[0]), Image.Resampling.NEAREST))


# -- extents ---------------------------------------------------------------------------


def stroke_points(seq: np.ndarray, spec: OutputSpec) -> tuple[np.ndarray, np.ndarray]:
    """Points ``[T, 2]`` (x, y) of pen strokes ``[T, F]`` and where the pen is down ``[T]``.

    Offsets (``dx``, ``dy``) are summed into positions; a point with a non-finite position
    is never down. Viewers draw the same lines as :func:`render` from these.
    """
    cols = spec._stroke_columns()
    if cols is None:
        raise LatentLabError(f"features {', '.join(spec.features)} are not pen strokes (x, y, pen)")
    ix, iy, ip, offsets = cols
    xy = seq[:, [ix, iy]].astype(np.float64)
    if offsets:
        # A missing offset moves nowhere, so one bad step does not throw away the rest.
        bad = ~np.isfinite(xy).all(axis=1)
        xy = np.cumsum(np.where(bad[:, None], 0.0, xy), axis=0)
        xy[bad] = np.nan
    pen = seq[:, ip]
    finite = np.isfinite(xy).all(axis=1)
    down = finite & np.isfinite(pen) & (pen >= PEN_DOWN)
    return xy, down


def _span(lo: float, hi: float) -> tuple[float, float]:
    # A flat range (one point, a straight line) gets a unit width around its value.
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 0.0, 1.0
    if hi - lo <= 1e-12 * max(1.0, abs(lo), abs(hi)):
        return lo - 0.5, hi + 0.5
    return lo, hi


def output_extent(outputs: torch.Tensor | np.ndarray, spec: OutputSpec) -> Extent:
    """The data rectangle that holds every one of ``outputs`` ``[N, T, F]``: one for them all.

    Strokes: the bounding box of the points the pen touches (of every finite point when the
    pen never touches). Signals: steps ``0 .. T-1`` and the values' range, always
    including 0. Pass it to :func:`render` to draw other outputs on the same scale.
    """
    if spec.kind == "image":
        raise LatentLabError("an image has no extent; it is rendered as its own pixels")
    x = _check_batch(outputs, spec)
    if spec.style == "strokes":
        pts = [stroke_points(s, spec) for s in x]
        chosen = np.concatenate([xy[down] for xy, down in pts])
        if not len(chosen):
            chosen = np.concatenate([xy[np.isfinite(xy).all(axis=1)] for xy, _ in pts])
        if not len(chosen):
            return (0.0, 1.0, 0.0, 1.0)
        x0, x1 = _span(float(chosen[:, 0].min()), float(chosen[:, 0].max()))
        y0, y1 = _span(float(chosen[:, 1].min()), float(chosen[:, 1].max()))
        return (x0, x1, y0, y1)
    values = x[np.isfinite(x)]
    lo = min(0.0, float(values.min())) if values.size else 0.0
    hi = max(0.0, float(values.max())) if values.size else 1.0
    y0, y1 = _span(lo, hi)
    return (0.0, float(max(1, x.shape[1] - 1)), y0, y1)


def _check_extent(extent: Sequence[float]) -> Extent:
    e = tuple(float(v) for v in extent)
    if len(e) != 4 or not all(np.isfinite(e)) or not (e[1] > e[0] and e[3] > e[2]):
        raise LatentLabError(f"an extent is (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {tuple(extent)}")
    return e  # type: ignore[return-value]


# -- strokes ---------------------------------------------------------------------------


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of consecutive True values."""
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _render_strokes(seq: np.ndarray, spec: OutputSpec, size: tuple[int, int], extent: Extent) -> np.ndarray:
    h, w = size
    s = _SUPERSAMPLE
    big_h, big_w = h * s, w * s
    xy, down = stroke_points(seq, spec)
    x0, x1, y0, y1 = extent
    margin = max(1.0, _MARGIN * min(h, w)) * s
    scale = min((big_w - 2 * margin) / (x1 - x0), (big_h - 2 * margin) / (y1 - y0))
    # Centre the drawing; y grows downwards on the page and in the image alike.
    ox = (big_w - scale * (x1 - x0)) / 2 - scale * x0
    oy = (big_h - scale * (y1 - y0)) / 2 - scale * y0
    canvas = Image.new("L", (big_w, big_h), 255)
    draw = ImageDraw.Draw(canvas)
    width = max(1.0, min(h, w) / 40.0) * s
    # Points far outside a shared extent still draw (clipped by the canvas), never overflow Pillow.
    px = np.clip(np.nan_to_num(xy[:, 0] * scale + ox), -4 * big_w, 5 * big_w)
    py = np.clip(np.nan_to_num(xy[:, 1] * scale + oy), -4 * big_h, 5 * big_h)
    for start, stop in _runs(down):
        points = list(zip(px[start:stop].tolist(), py[start:stop].tolist()))
        if len(points) == 1:
            cx, cy = points[0]
            r = width / 2
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
        else:
            draw.line(points, fill=0, width=int(round(width)), joint="curve")
    # A box filter averages each s x s block: the fraction of a pixel the ink covers.
    return np.asarray(canvas.resize((w, h), Image.Resampling.BOX))


# -- signals ---------------------------------------------------------------------------


def _render_signals(seq: np.ndarray, size: tuple[int, int], extent: Extent) -> np.ndarray:
    h, w = size
    s = _SUPERSAMPLE
    big_h, big_w = h * s, w * s
    x0, x1, y0, y1 = extent
    margin = max(1.0, _MARGIN * min(h, w)) * s
    left, right, top, bottom = margin, big_w - 1 - margin, margin, big_h - 1 - margin

    def to_px(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = left + (t - x0) / (x1 - x0) * (right - left)
        r = bottom - (v - y0) / (y1 - y0) * (bottom - top)
        return np.clip(u, -big_w, 2 * big_w), np.clip(r, -big_h, 2 * big_h)

    canvas = Image.new("RGB", (big_w, big_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    # Two pixels or more: a thinner line is blended with the page and loses its colour.
    line = int(round(max(2.0, min(h, w) / 48.0) * s))
    draw.rectangle((left, top, right, bottom), outline=FRAME_COLOR, width=max(1, s // 2))
    if y0 <= 0.0 <= y1:
        _, zy = to_px(np.array([x0]), np.array([0.0]))
        # Snapped to one whole output row, so the thin line keeps its grey after averaging.
        row = min(h - 1, int(zy[0] // s)) * s
        draw.rectangle((left, row, right, row + s - 1), fill=ZERO_LINE_COLOR)
    steps = np.arange(seq.shape[0], dtype=np.float64)
    for k in range(seq.shape[1]):
        color = SIGNAL_COLORS[k % len(SIGNAL_COLORS)]
        u, r = to_px(steps, seq[:, k].astype(np.float64))
        # A non-finite value breaks the line rather than drawing to a made-up point.
        for start, stop in _runs(np.isfinite(seq[:, k])):
            points = list(zip(u[start:stop].tolist(), r[start:stop].tolist()))
            if len(points) == 1:
                cx, cy = points[0]
                draw.ellipse((cx - line, cy - line, cx + line, cy + line), fill=color)
            else:
                draw.line(points, fill=color, width=line, joint="curve")
    return np.asarray(canvas.resize((w, h), Image.Resampling.BOX))


# -- entry points ----------------------------------------------------------------------


def _check_budget(n: int, size: tuple[int, int], channels: int) -> None:
    if n * size[0] * size[1] * channels > MAX_RENDER_PIXELS:
        raise LatentLabError(f"{n} renders of {size[0]} x {size[1]} pixels would take more than "
                             f"{MAX_RENDER_PIXELS >> 20} MiB; ask for fewer or smaller ones")


def render_batch(outputs: torch.Tensor | np.ndarray, spec: OutputSpec,
                 size: int | Sequence[int] | None = None,
                 extent: Sequence[float] | None = None) -> np.ndarray:
    """Render outputs ``[N, ...]`` to ``uint8`` ``[N, H, W]`` or ``[N, H, W, 3]``.

    ``size`` is a side in pixels or ``(height, width)``; None keeps an image's own size and
    gives a sequence :data:`DEFAULT_SEQUENCE_SIZE`. Sequences share one ``extent`` (by
    default :func:`output_extent` of the whole batch), so frames line up.
    """
    hw = _check_size(size, spec)
    x = _check_batch(outputs, spec)
    if spec.kind == "image":
        out_hw = hw or spec.shape[1:]
        _check_budget(len(x), out_hw, spec.channels)
        if not len(x):
            return np.zeros((0, *out_hw) + ((3,) if spec.channels == 3 else ()), np.uint8)
        return np.stack([_render_image(im, hw) for im in x])
    assert hw is not None
    _check_budget(len(x), hw, spec.channels)
    if not len(x):
        return np.zeros((0, *hw) + ((3,) if spec.channels == 3 else ()), np.uint8)
    ext = _check_extent(extent) if extent is not None else output_extent(x, spec)
    if spec.style == "strokes":
        return np.stack([_render_strokes(seq, spec, hw, ext) for seq in x])
    return np.stack([_render_signals(seq, hw, ext) for seq in x])


def render(output: torch.Tensor | np.ndarray, spec: OutputSpec,
           size: int | Sequence[int] | None = None,
           extent: Sequence[float] | None = None) -> np.ndarray:
    """Render one output (``[C, H, W]`` or ``[T, F]``, or a batch of one) to ``uint8`` pixels.

    See :func:`render_batch`; alone, a sequence is fitted to its own extent.
    """
    return render_batch(_one(output, spec), spec, size, extent)[0]


def as_images(outputs: torch.Tensor | np.ndarray, spec: OutputSpec,
              size: int | Sequence[int] | None = None,
              extent: Sequence[float] | None = None) -> torch.Tensor:
    """Outputs of any kind as float images ``[N, C, H, W]`` in [0, 1] (CPU float32).

    Images pass through unchanged (resized when ``size`` is given); sequences are rendered
    with :func:`render_batch`. Code written for images (mosaics, strips, thumbnails) takes
    any kind through this.
    """
    if spec.kind == "image" and size is None:
        x = _check_batch(outputs, spec)
        return torch.from_numpy(np.ascontiguousarray(x))
    px = render_batch(outputs, spec, size, extent)
    chw = px[:, None] if px.ndim == 3 else np.moveaxis(px, -1, 1)
    return torch.from_numpy(np.ascontiguousarray(chw, dtype=np.float32) / np.float32(255.0))
