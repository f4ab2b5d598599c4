"""Fast drawing of a big point cloud: a numpy rasteriser and a render cache reused while panning.

Two measured costs shape the plane's dots (``benchmarks/pan_zoom.py``):

* Qt's ``drawPixmapFragments`` costs about a quarter of a microsecond per dot on a 2-core CPU
  with software rendering: fine for 70,000 points once, far too slow for a million points on
  every frame. :func:`rasterize_dots` draws the dots with numpy instead, in time that grows with
  the number of points by a handful of array passes, plus a few passes over the pixels.
* A pan or a zoom changes only the item's transform, not the picture. :class:`RenderCache`
  keeps the last rendering (over the data, up to a margin around the viewport) and, while the
  view keeps moving, draws it moved and scaled — one image blit per frame. A scaled picture
  is re-rendered crisp once the gesture pauses (:data:`SETTLE_MS`), and at once when the view
  leaves what the cache covers, the zoom changes too much to scale well, or the change of
  scale did not come from a person's gesture (a layout, a reset).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QImage, QPainter, QTransform

#: Visible dots above which a rendering is rasterised with numpy instead of by Qt.
RASTER_MIN_POINTS = 60_000
#: Quiet time after the last scaled frame before the crisp re-render.
SETTLE_MS = 150
#: A cached picture is scaled at most this far (either way) before it is re-rendered.
MAX_SCALE_DRIFT = 4.0
#: The cache covers the viewport and this fraction of its size beyond each side (where there are points).
MARGIN = 0.5


def rasterize_dots(x: np.ndarray, y: np.ndarray, argb: np.ndarray, width: int, height: int,
                   dot_px: int) -> np.ndarray:
    """Square dots of ``dot_px`` pixels centred on ``(x, y)`` (pixel units) → ``uint32 [H, W]``.

    ``argb`` holds each point's premultiplied ARGB32 colour. Where dots overlap, the later point
    in the arrays wins, so the drawing order is the data order, as with Qt's fragments.
    Points outside the image are dropped; nothing here allocates more than a few copies of the
    point arrays and of the image.
    """
    width, height = int(width), int(height)
    out = np.zeros((height, width), dtype=np.uint32)
    if width <= 0 or height <= 0 or x.size == 0:
        return out
    half = dot_px / 2.0
    # The dot's top-left pixel; the dilation below grows it right and down.
    ix = np.floor(x - half + 0.5).astype(np.int32)
    iy = np.floor(y - half + 0.5).astype(np.int32)
    pad = dot_px  # rasterise on a padded canvas so dots half off the edge still show
    keep = (ix >= -pad) & (ix < width) & (iy >= -pad) & (iy < height)
    order = np.flatnonzero(keep).astype(np.int32)
    if order.size == 0:
        return out
    pw, ph = width + pad, height + pad
    canvas = np.full(pw * ph, -1, dtype=np.int32)
    # Repeated indices: numpy writes in order, so the last (latest in data order) point stays.
    canvas[(iy[order] + pad) * pw + (ix[order] + pad)] = order
    grid = canvas.reshape(ph, pw)
    # Dilate with a dot_px × dot_px square, the largest index (the latest point) winning:
    # windows double (1, 2, 4, ...) so a side of d takes about log2(d) passes per axis.
    _dilate(grid, dot_px, axis=1)
    _dilate(grid, dot_px, axis=0)
    table = np.concatenate([argb.astype(np.uint32, copy=False), np.zeros(1, dtype=np.uint32)])
    np.take(table, grid[pad:, pad:], out=out, mode="wrap")  # -1 wraps to the transparent last entry
    return out


def _dilate(grid: np.ndarray, size: int, axis: int) -> None:
    """In place: each cell becomes the maximum of itself and the ``size - 1`` cells before it."""
    covered = 1
    while covered < size:
        step = min(covered, size - covered)
        if axis == 1:
            np.maximum(grid[:, step:], grid[:, :-step], out=grid[:, step:])
        else:
            np.maximum(grid[step:], grid[:-step], out=grid[step:])
        covered += step


def argb32(colors_rgba: np.ndarray) -> np.ndarray:
    """``uint8 [N, 4]`` RGBA → premultiplied ARGB32 values ``uint32 [N]`` (QImage's layout)."""
    c = np.asarray(colors_rgba, dtype=np.uint32)
    a = c[:, 3]
    r, g, b = ((c[:, k] * a + 127) // 255 for k in range(3))
    return (a << 24) | (r << 16) | (g << 8) | b


def image_from_argb(pixels: np.ndarray, ratio: float) -> QImage:
    """A QImage over ``pixels`` (kept alive by the image's ``_array``), at a device pixel ratio."""
    h, w = pixels.shape
    image = QImage(pixels.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
    image._array = pixels  # QImage does not own the buffer
    image.setDevicePixelRatio(ratio)
    return image


class RenderCache:
    """The last rendering of an item in device coordinates, reusable while only pan and zoom change.

    ``render(rect, transform)`` is the item's own drawing into a ``QImage`` covering ``rect``
    (logical device coordinates) under ``transform`` (item → device). :meth:`draw` reuses
    the stored image when it can and re-renders when it must; ``schedule`` is called with a
    callback when a scaled (hence blurred) frame was drawn, so the owner can repaint crisp
    after the gesture (the owner's ``update``).
    """

    def __init__(self, repaint: Callable[[], None]) -> None:
        self._image: QImage | None = None
        self._rect = QRectF()          # logical device rect the image covers
        self._transform = QTransform()
        self._ratio = 0.0
        self._gesture_until = -1e9     # monotonic seconds: a pan or zoom by the person is under way
        self.renders = 0               # how many times the picture was rendered (for tests)
        self._settle = QTimer()
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._on_settle)
        self._repaint = repaint

    def invalidate(self) -> None:
        """The picture changed (points, colours, visibility): render again at the next paint."""
        self._image = None

    def gesture(self) -> None:
        """The person is panning or zooming: frames until :data:`SETTLE_MS` later may reuse a scaled picture."""
        self._gesture_until = time.monotonic() + SETTLE_MS / 1000.0

    def _on_settle(self) -> None:
        self._image = None
        self._repaint()

    def draw(self, p: QPainter, transform: QTransform, viewport: QRectF, extent: QRectF | None,
             ratio: float, render: Callable[[QRectF, QTransform], QImage]) -> None:
        """Draw the item on ``p`` (already reset to device coordinates) for ``transform``.

        ``viewport`` is the painted device's rect and ``extent`` the item's content in device
        coordinates under ``transform`` (None: unknown, cover the viewport only).
        """
        needed = viewport.intersected(self._wanted(viewport, extent))
        if needed.isEmpty():
            return  # nothing of the item is on the device
        # A scaled picture is only worth showing in the middle of a person's zoom; any other
        # change of scale (a layout, a reset, new data) is rendered crisp at once.
        moving = time.monotonic() < self._gesture_until
        target = self._target(transform) if self._image is not None and ratio == self._ratio else None
        if target is not None and target.adjusted(-0.5, -0.5, 0.5, 0.5).contains(needed):
            if not self._scaled(target):
                p.drawImage(target.topLeft(), self._image)  # a pan: the same picture, moved
                return
            if moving:
                p.drawImage(target, self._image, QRectF(0, 0, self._image.width(), self._image.height()))
                self._settle.start()
                return
        self._settle.stop()
        rect = self._wanted(viewport, extent).toAlignedRect()
        rect = QRectF(rect)
        if rect.isEmpty():
            self._image = None
            return
        self._image = render(rect, transform)
        self._rect, self._transform, self._ratio = rect, QTransform(transform), ratio
        self.renders += 1
        p.drawImage(rect.topLeft(), self._image)

    def _scaled(self, target: QRectF) -> bool:
        """Whether the stored picture would land scaled (a zoom), not just moved."""
        rect = self._rect
        return (abs(target.width() - rect.width()) > 1e-6 * max(1.0, rect.width())
                or abs(target.height() - rect.height()) > 1e-6 * max(1.0, rect.height()))

    @staticmethod
    def _wanted(viewport: QRectF, extent: QRectF | None) -> QRectF:
        """What a fresh rendering covers: the content, up to a margin around the viewport."""
        grown = viewport.adjusted(-MARGIN * viewport.width(), -MARGIN * viewport.height(),
                                  MARGIN * viewport.width(), MARGIN * viewport.height())
        if extent is None:
            return QRectF(viewport)
        return grown.intersected(extent.normalized())

    def _target(self, transform: QTransform) -> QRectF | None:
        """Where the stored image lands under ``transform``; None when it cannot be reused."""
        old = self._transform
        if transform.m12() or transform.m21() or old.m12() or old.m21():
            return None
        sx = transform.m11() / old.m11() if old.m11() else 0.0
        sy = transform.m22() / old.m22() if old.m22() else 0.0
        if not (1.0 / MAX_SCALE_DRIFT <= sx <= MAX_SCALE_DRIFT and 1.0 / MAX_SCALE_DRIFT <= sy <= MAX_SCALE_DRIFT):
            return None
        # device' = s' * item + t' and item = (device - t) / s: device' = (s'/s)(device - t) + t'
        left = sx * (self._rect.left() - old.dx()) + transform.dx()
        top = sy * (self._rect.top() - old.dy()) + transform.dy()
        return QRectF(left, top, sx * self._rect.width(), sy * self._rect.height())
