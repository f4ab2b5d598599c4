"""Graphics helpers of the latent plane: point index, point cloud, view box and probe.

Kept apart from :mod:`latentlab.gui.views.plane_view` so that the widget module stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPathItem, QLabel, QWidget

from latentlab.gui.views import theme
from latentlab.gui.views.point_raster import RASTER_MIN_POINTS, RenderCache, argb32, image_from_argb, rasterize_dots
from latentlab.gui.views.qimage import array_to_qpixmap

THUMBNAIL_PX = 84


class PointIndex:
    """Uniform-grid index over 2-D points for "nearest point within a radius" queries.

    Points are bucketed into about N/4 square-ish cells and sorted by cell, so a query
    reads only the few cells its radius box touches: O(1)-ish per mouse move instead of a
    scan of all N points. Non-finite points are left out.
    """

    def __init__(self, xy: np.ndarray) -> None:
        self._xy = xy
        keep = np.flatnonzero(np.isfinite(xy).all(axis=1))
        self._side = int(np.clip(np.sqrt(max(keep.size, 1) / 4.0), 1, 512))
        pts = xy[keep]
        self._lo = pts.min(axis=0) if keep.size else np.zeros(2)
        span = (pts.max(axis=0) - self._lo) if keep.size else np.ones(2)
        self._cell = np.maximum(span / self._side, 1e-12)
        cells = self._cells_of(pts)
        order = np.argsort(cells[:, 1] * self._side + cells[:, 0], kind="stable")
        self._order = keep[order]
        flat = (cells[:, 1] * self._side + cells[:, 0])[order]
        self._starts = np.searchsorted(flat, np.arange(self._side * self._side + 1))

    def _cells_of(self, pts: np.ndarray) -> np.ndarray:
        return np.clip(np.floor((pts - self._lo) / self._cell), 0, self._side - 1).astype(np.int64)

    def nearest(self, x: float, y: float, rx: float, ry: float) -> int:
        """Index of the point nearest (x, y) inside the ellipse of radii (rx, ry), or -1."""
        if self._order.size == 0 or not (rx > 0 and ry > 0):
            return -1
        lo = np.floor((np.array([x - rx, y - ry]) - self._lo) / self._cell)
        hi = np.floor((np.array([x + rx, y + ry]) - self._lo) / self._cell)
        if np.any(hi < 0) or np.any(lo >= self._side):
            return -1
        (cx0, cy0), (cx1, cy1) = np.clip(lo, 0, self._side - 1).astype(int), \
            np.clip(hi, 0, self._side - 1).astype(int)
        # Cells of one grid row are contiguous in the sorted order: one slice per row.
        rows = [self._order[self._starts[r * self._side + cx0]:
                            self._starts[r * self._side + cx1 + 1]] for r in range(cy0, cy1 + 1)]
        cand = np.concatenate(rows)
        if cand.size == 0:
            return -1
        d2 = ((self._xy[cand, 0] - x) / rx) ** 2 + ((self._xy[cand, 1] - y) / ry) ** 2
        best = int(np.argmin(d2))
        return int(cand[best]) if d2[best] <= 1.0 else -1


class PointCloud(pg.GraphicsObject):
    """Many equal dots, one colour per group, drawn with a single pixmap-fragment call.

    Built for 70,000 points repainted while training runs and while the user pans:
    each dot is a fragment of a small atlas pixmap (one cell per colour), so a paint is
    two numpy multiply-adds for the screen positions and one call into Qt. Compared with
    pyqtgraph's ScatterPlotItem there are no per-point brush objects, no symbol look-ups
    and no per-point mouse handling (the view does look-ups with :class:`PointIndex`).
    Points are drawn in data order, so no class always covers another.

    A pan or zoom reuses the last rendering through a :class:`RenderCache` (one image blit a
    frame, re-rendered crisp when the gesture pauses), and a rendering of more than
    :data:`RASTER_MIN_POINTS` visible dots is rasterised with numpy (square dots) instead of
    by Qt, which would take half a second for a million.
    """

    def __init__(self, size_px: int = theme.POINT_SIZE_PX) -> None:
        super().__init__()
        self._size = int(size_px)
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._groups = np.zeros(0, dtype=np.int64)
        self._shown = np.zeros(0, dtype=bool)     # what the caller wants visible
        self._opacity = np.zeros(0)               # per point, in [0, 1]
        self._colors: list[QColor] = []
        self._atlas: QPixmap | None = None
        self._atlas_ratio = 0.0                   # device pixel ratio the atlas was made for
        self._cell = self._size                   # side of one atlas cell in atlas pixels
        self._drawn_groups = np.zeros(0, dtype=np.int64)
        self._drawn_opacity = np.zeros(0)
        self._drawn_x = np.zeros(0)               # contiguous copies of the drawn points
        self._drawn_y = np.zeros(0)
        self._fragments = np.zeros((0, _FRAGMENT_FIELDS))
        self._bounds: QRectF | None = None       # of the finite points; None when there are none
        self._argb = np.zeros(0, dtype=np.uint32)  # premultiplied colour of each drawn point
        self._cache = RenderCache(self.update)

    # ---------------------------------------------------------------- data
    def set_points(self, x: np.ndarray, y: np.ndarray, groups: np.ndarray | None,
                   colors: list[QColor]) -> None:
        """Replace every point; point ``i`` gets ``colors[groups[i]]`` (group 0 when None)."""
        n = len(x)
        groups = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
        if groups.shape != (n,) or (n and (groups.min() < 0 or groups.max() >= len(colors))):
            raise ValueError("every point needs a group index into colors")
        self._groups = groups
        self._colors = list(colors)
        self._atlas, self._atlas_ratio = None, 0.0  # new colours: drawn at the next paint
        self._shown = np.ones(n, dtype=bool)
        self._opacity = np.ones(n)
        self.move_points(x, y)

    def move_points(self, x: np.ndarray, y: np.ndarray) -> None:
        """Replace positions (same number of points), keeping colours and visibility."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if x.shape != y.shape or x.shape[0] != self._groups.shape[0]:
            raise ValueError(f"move_points needs {self._groups.shape[0]} x and y values")
        self._x, self._y = x.copy(), y.copy()
        self._rebuild()

    def set_visible_points(self, mask: np.ndarray) -> None:
        """Draw only the points where ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool).reshape(-1)
        if mask.shape != self._groups.shape:
            raise ValueError(f"visibility mask needs {self._groups.shape[0]} entries")
        self._shown = mask.copy()
        self._rebuild()

    def set_opacities(self, opacity: np.ndarray | None) -> None:
        """Draw point ``i`` at opacity ``opacity[i]`` in [0, 1] (None: all at full strength)."""
        n = self._groups.shape[0]
        if opacity is None:
            if self._opacity.shape == (n,) and bool(np.all(self._opacity == 1.0)):
                return   # already all at full strength: nothing to draw again
            values = np.ones(n)
        else:
            values = np.asarray(opacity, dtype=np.float64).reshape(-1)
            if values.shape != (n,) or not np.all((values >= 0.0) & (values <= 1.0)):
                raise ValueError(f"opacities must be {n} values in [0, 1]")
        self._opacity = values.copy()
        self._rebuild()

    def opacities(self) -> np.ndarray:
        """Copy of the per-point opacities."""
        return self._opacity.copy()

    def visible_points(self) -> np.ndarray:
        """Copy of the per-point visibility mask."""
        return self._shown.copy()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 (pyqtgraph's name)
        """Copies of the x and y positions of every point (hidden ones included)."""
        return self._x.copy(), self._y.copy()

    def _rebuild(self) -> None:
        finite = np.isfinite(self._x) & np.isfinite(self._y)
        keep = np.flatnonzero(finite & self._shown)
        self._drawn_x = self._x[keep]
        self._drawn_y = self._y[keep]
        self._drawn_groups = self._groups[keep]
        self._drawn_opacity = self._opacity[keep]
        self._fragments = np.zeros((keep.size, _FRAGMENT_FIELDS))
        rgba = np.array([c.getRgb() for c in self._colors], dtype=np.uint8).reshape(-1, 4)
        if rgba.size and keep.size:
            per_point = rgba[self._drawn_groups].astype(np.float64)
            per_point[:, 3] *= self._drawn_opacity   # the rasteriser shades dots as Qt's fragments do
            self._argb = argb32(np.rint(per_point).astype(np.uint8))
        else:
            self._argb = np.zeros(0, dtype=np.uint32)
        self._cache.invalidate()
        if self._atlas is not None:
            self._fill_sources()
        self.prepareGeometryChange()
        self._bounds = None
        if finite.any():
            x, y = self._x[finite], self._y[finite]
            self._bounds = QRectF(x.min(), y.min(), x.max() - x.min(), y.max() - y.min())
        self.informViewBoundsChanged()
        self.update()

    def _make_atlas(self, ratio: float) -> None:
        """Render the dots for a device pixel ratio and point the fragments at them."""
        self._atlas, self._cell = _dot_atlas(self._colors, self._size, ratio)
        self._atlas_ratio = ratio
        self._cache.invalidate()
        self._fill_sources()

    def _fill_sources(self) -> None:
        # Fragment columns: x, y, sourceLeft, sourceTop, width, height, scaleX, scaleY,
        # rotation, opacity. Sources are atlas pixels; the scale brings a cell of
        # ``cell`` device pixels back to ``size`` logical ones. Only x and y change
        # from paint to paint; the opacity shades a dot (e.g. by how well it is reproduced).
        frag, cell = self._fragments, self._cell
        frag[:, 2] = self._drawn_groups * (cell + _ATLAS_GAP)
        frag[:, 3] = 0.0
        frag[:, 4:6] = cell
        frag[:, 6:8] = self._size / cell
        frag[:, 8] = 0.0
        frag[:, 9] = self._drawn_opacity

    # ------------------------------------------------------- QGraphicsItem
    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):  # noqa: N802
        """(min, max) of the finite positions along axis ``ax`` (for auto-range)."""
        if self._bounds is None:
            return None, None
        b = self._bounds
        return (b.left(), b.right()) if ax == 0 else (b.top(), b.bottom())

    def pixelPadding(self) -> float:  # noqa: N802
        return self._size / 2.0 + 1.0

    def boundingRect(self) -> QRectF:  # noqa: N802
        if self._bounds is None or not self._fragments.shape[0]:
            return QRectF()
        # Dots have a size in pixels: pad the data bounds by that many pixels' worth.
        pad = self.pixelPadding()
        px, py = self.pixelWidth() or 0.0, self.pixelHeight() or 0.0
        return self._bounds.adjusted(-pad * px, -pad * py, pad * px, pad * py)

    def viewTransformChanged(self, *_args) -> None:  # noqa: N802
        # The padding in plane units depends on the zoom.
        self.prepareGeometryChange()

    def paint(self, p: QPainter, _option=None, widget: QWidget | None = None) -> None:
        # An exception escaping a paint() override takes the whole process down with
        # PySide: nothing below raises for any data that set_points accepted.
        if not self._fragments.shape[0]:
            return
        ratio = widget.devicePixelRatioF() if widget is not None else 1.0
        if self._atlas is None or ratio != self._atlas_ratio:
            self._make_atlas(ratio)
        tr = p.transform()  # item -> device: (m11 x + m21 y + dx, m12 x + m22 y + dy)
        device = p.device()
        side = float(1 << 20)
        viewport = QRectF(0, 0, device.width(), device.height()) if device is not None else QRectF(0, 0, side, side)
        # The dots' extent on the device: the data bounds, padded by a dot's size in pixels.
        pad = self.pixelPadding()
        extent = None if self._bounds is None else tr.mapRect(self._bounds).adjusted(-pad, -pad, pad, pad)
        p.resetTransform()
        self._cache.draw(p, tr, viewport, extent, ratio, self._render)

    def invalidate_rendering(self) -> None:
        """Render the dots afresh at the next paint (what a paused zoom or new data does)."""
        self._cache.invalidate()
        self.update()

    def gesture(self) -> None:
        """A pan or zoom by the person is under way (the view's manual range change)."""
        self._cache.gesture()

    @property
    def renders(self) -> int:
        """How many times the dots were rendered afresh (pans and zooms reuse a rendering)."""
        return self._cache.renders

    def _render(self, rect: QRectF, tr: QTransform) -> QImage:
        """The dots under item → device transform ``tr``, on an image covering device ``rect``."""
        ratio = self._atlas_ratio
        x0, y0 = self._drawn_x, self._drawn_y
        x = x0 * tr.m11() + (tr.dx() - rect.left())
        y = y0 * tr.m22() + (tr.dy() - rect.top())
        if tr.m21() or tr.m12():  # a rotated or sheared view (the plane never is, but be exact)
            x += tr.m21() * y0
            y += tr.m12() * x0
        width, height = round(rect.width() * ratio), round(rect.height() * ratio)
        inside = _on_screen(x, y, rect.width(), rect.height(), self._size)
        if inside is not None:
            x, y = x[inside], y[inside]
        if x.size > RASTER_MIN_POINTS:
            dot = max(1, round(self._size * ratio))
            argb = self._argb if inside is None else self._argb[inside]
            pixels = rasterize_dots(x * ratio, y * ratio, argb, width, height, dot)
            return image_from_argb(pixels, ratio)
        image = QImage(max(1, width), max(1, height), QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.GlobalColor.transparent)
        if x.size:
            chosen = self._fragments if inside is None else self._fragments[inside]
            chosen[:, 0] = x
            chosen[:, 1] = y
            painter = QPainter(image)
            try:
                painter.drawPixmapFragments(shiboken6.wrapInstance(chosen.ctypes.data, QPainter.PixmapFragment),
                                            chosen.shape[0], self._atlas)
            finally:
                painter.end()
        return image


_FRAGMENT_FIELDS = 10  # the qreals of one QPainter.PixmapFragment, in declaration order
_ATLAS_GAP = 1         # empty pixels between atlas cells, so no cell bleeds into the next


def _dot_atlas(colors: list[QColor], size: int, ratio: float) -> tuple[QPixmap, int]:
    """One row of round dots, one per colour, and the side of a cell in atlas pixels.

    Cells are ``size * ratio`` device pixels, so dots stay sharp on high-DPI screens.
    """
    cell = max(1, round(size * ratio))
    atlas = QPixmap(max(1, len(colors)) * (cell + _ATLAS_GAP), cell)
    atlas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(atlas)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        for k, color in enumerate(colors):
            painter.setBrush(color)
            painter.drawEllipse(QRectF(k * (cell + _ATLAS_GAP), 0, cell, cell))
    finally:
        painter.end()
    return atlas, cell


def _on_screen(x: np.ndarray, y: np.ndarray, width: float, height: float, size: int) -> np.ndarray | None:
    """Indices of the dots at ``(x, y)`` that can touch a ``width`` × ``height`` image; None for all.

    Also keeps far-away coordinates (a huge zoom) from reaching Qt's integer maths.
    """
    if x.size and x.min() >= -size and y.min() >= -size and x.max() <= width + size and y.max() <= height + size:
        return None  # the usual case: the whole cloud is in view, nothing to copy
    return np.flatnonzero((x >= -size) & (x <= width + size) & (y >= -size) & (y <= height + size))


class PlaneViewBox(pg.ViewBox):
    """ViewBox that reports left clicks (in plane coordinates) instead of ignoring them.

    It can draw a lasso: with ``lasso_enabled`` a Shift + left drag (and with ``lasso_mode``
    any left drag off the probe) draws a free-hand outline instead of panning, and
    ``sigLassoDrawn`` gives its corners in plane coordinates (``[M, 2]``) on release. The
    outline stays drawn until :meth:`clear_lasso`.
    """

    sigLeftClicked = Signal(object)
    sigLassoDrawn = Signal(object)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lasso_enabled = False
        self.lasso_mode = False
        self._lasso: list[tuple[float, float]] | None = None   # corners while one is drawn
        pen = QPen(QColor(theme.SELECTION), 1.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._lasso_item = QGraphicsPathItem()
        self._lasso_item.setPen(pen)
        self._lasso_item.setBrush(QColor(255, 255, 255, 28))
        self._lasso_item.setZValue(30)
        self._lasso_item.setVisible(False)
        self._lasso_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)   # drawn only
        self.addItem(self._lasso_item, ignoreBounds=True)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigLeftClicked.emit(self.mapToView(ev.pos()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton and axis is None:
            if ev.isStart():
                shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
                wanted = self.lasso_enabled and (self.lasso_mode or shift)
                self._lasso = [self._view_xy(ev.buttonDownPos())] if wanted else None
            if self._lasso is not None:
                ev.accept()
                self._lasso.append(self._view_xy(ev.pos()))
                self._draw_lasso(self._lasso)
                if ev.isFinish():
                    corners, self._lasso = np.array(self._lasso, dtype=np.float64), None
                    self.sigLassoDrawn.emit(corners)
                return
        super().mouseDragEvent(ev, axis)

    def _view_xy(self, pos) -> tuple[float, float]:
        p = self.mapToView(pos)
        return float(p.x()), float(p.y())

    def _draw_lasso(self, corners) -> None:
        path = QPainterPath()
        path.moveTo(*corners[0])
        for x, y in corners[1:]:
            path.lineTo(x, y)
        path.closeSubpath()
        self._lasso_item.setPath(path)
        self._lasso_item.setVisible(True)

    def lasso_outline(self) -> QPainterPath | None:
        """The outline drawn last (None when cleared)."""
        return self._lasso_item.path() if self._lasso_item.isVisible() else None

    def clear_lasso(self) -> None:
        """Take the drawn outline away."""
        self._lasso = None
        self._lasso_item.setVisible(False)


def target_path() -> QPainterPath:
    """A ring with four ticks and an open centre, so the point under the probe stays visible."""
    path = QPainterPath()
    path.addEllipse(QPointF(0, 0), 0.28, 0.28)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        path.moveTo(dx * 0.12, dy * 0.12)
        path.lineTo(dx * 0.5, dy * 0.5)
    return path


class ProbeItem(pg.TargetItem):
    """pyqtgraph's TargetItem drawn twice: a dark halo under a bright stroke.

    While the user drags it (by the ring or by its label), it stays inside ``drag_limits()``
    (plane coordinates): dragged into the axis margin or past the view's edge it would
    leave the view and could not be grabbed again. :meth:`setPos` from code is not limited.
    """

    _HALO_PX = 3.0
    drag_limits: Callable[[], QRectF] | None = None
    _sprite_cache: tuple[tuple[Any, ...], QPixmap] | None = None   # (pen, size, ratio) key, picture

    def setPos(self, *args) -> None:  # noqa: N802 (pyqtgraph's name)
        limits = self.drag_limits() if self.moving and self.drag_limits is not None else None
        if limits is None or not limits.isValid():
            super().setPos(*args)
            return
        p = pg.Point(*args)
        x = min(max(p.x(), limits.left()), limits.right())
        y = min(max(p.y(), limits.top()), limits.bottom())
        super().setPos(x, y)

    def paint(self, p: QPainter, *_) -> None:
        to_device = p.transform()
        if to_device.isRotating():   # the plane never rotates; a rotated export draws the outline
            self._stroke(p, self.shape())
            return
        # The symbol has the same size on screen at every zoom: it is drawn once into a small
        # picture (again when the pen changes, as it does on hover) and that picture is placed
        # at every frame. Stroking the wide halo with antialiasing at every paint cost more
        # than half of the plane's paint while the probe was dragged.
        ratio = p.device().devicePixelRatioF() if p.device() is not None else 1.0
        sprite = self._sprite(ratio)
        centre = to_device.map(QPointF(0.0, 0.0))
        half = sprite.width() / ratio / 2.0
        p.save()
        p.resetTransform()
        p.drawPixmap(QPointF(round(centre.x() - half), round(centre.y() - half)), sprite)
        p.restore()

    def _stroke(self, p: QPainter, path: QPainterPath) -> None:
        """Draw ``path`` as the probe: a dark halo under the bright stroke of the current pen."""
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(pg.mkPen(theme.PROBE_HALO, width=self.currentPen.widthF() + 2 * self._HALO_PX))
        p.drawPath(path)
        p.setPen(self.currentPen)
        p.drawPath(path)

    def _sprite(self, ratio: float) -> QPixmap:
        """The probe drawn at its screen size for the current pen (kept until either changes)."""
        pen = self.currentPen
        key = (pen.color().rgba(), pen.widthF(), float(self.scale), ratio)
        cached = self._sprite_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        side = math.ceil(self.scale + pen.widthF() + 2 * self._HALO_PX + 4)
        side += side % 2   # even, so that the centre falls on a pixel corner
        sprite = QPixmap(max(1, round(side * ratio)), max(1, round(side * ratio)))
        sprite.setDevicePixelRatio(ratio)
        sprite.fill(Qt.GlobalColor.transparent)
        painter = QPainter(sprite)
        try:
            painter.translate(side / 2.0, side / 2.0)
            self._stroke(painter, QTransform.fromScale(self.scale, self.scale).map(self._path))
        finally:
            painter.end()
        self._sprite_cache = (key, sprite)
        return sprite

    def boundingRect(self) -> QRectF:
        # The halo pen reaches past the symbol's outline; pad so it is not clipped. The shape
        # is made anew whenever the zoom changes (pyqtgraph's cache), and so are the pixel
        # lengths: the padded rectangle is kept with the shape it was made from, because a
        # drag asks for it several times a frame and pixelLength() is costly in Python.
        shape = self.shape()
        cached = getattr(self, "_padded", None)
        if cached is not None and cached[0] is shape:
            return QRectF(cached[1])
        rect = shape.boundingRect()
        px = self.pixelLength(pg.Point(1, 0)) or 0.0
        py = self.pixelLength(pg.Point(0, 1)) or 0.0
        pad = self._HALO_PX + 2
        padded = rect.adjusted(-pad * px, -pad * py, pad * px, pad * py)
        if self._shape is shape:   # a shape made without a view yet is not kept by pyqtgraph
            self._padded = (shape, QRectF(padded))
        return padded


class ArrowOverlay:
    """A line with an arrow head, in plane coordinates (attribute vectors, noise shifts)."""

    def __init__(self, view_box: pg.ViewBox, z: float, color: str = theme.ACCENT) -> None:
        self._vb = view_box
        self._ends: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.line = pg.PlotCurveItem(pen=pg.mkPen(color, width=2.5))
        self.line.setZValue(z)
        self.head = pg.ArrowItem(headLen=14, tipAngle=36, tailLen=0, pen=None,
                                 brush=pg.mkBrush(color))
        self.head.setZValue(z + 1)
        self.clear()

    def set(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Draw from ``start`` to ``end``."""
        self._ends = (start, end)
        self.line.setData([start[0], end[0]], [start[1], end[1]])
        self.head.setPos(*end)
        self.line.setVisible(True)
        self.head.setVisible(True)
        self.orient()

    def clear(self) -> None:
        """Hide the arrow."""
        self._ends = None
        self.line.setVisible(False)
        self.head.setVisible(False)

    def orient(self) -> None:
        """Turn the head along the line as it appears on screen (call when the view changes)."""
        # The head is drawn in screen pixels, so its angle depends on the current zoom.
        if self._ends is None:
            return
        a = self._vb.mapViewToScene(QPointF(*self._ends[0]))
        b = self._vb.mapViewToScene(QPointF(*self._ends[1]))
        screen = math.degrees(math.atan2(b.y() - a.y(), b.x() - a.x()))
        self.head.setStyle(angle=screen - 180.0)  # ArrowItem at angle 0 points left


class ThumbnailPopup(QLabel):
    """A small floating picture of the hovered point, kept beside the cursor."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        # Never under the mouse's feet: events go on to the plot beneath.
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        self.setStyleSheet(f"background: {theme.PANEL}; border: 1px solid {theme.MUTED};"
                           " padding: 2px;")
        self.hide()

    def show_image(self, image: np.ndarray) -> None:
        """Show ``image`` (HxW or HxWx3, float [0, 1] or uint8) scaled pixel-sharp."""
        pixmap = array_to_qpixmap(image).scaled(
            THUMBNAIL_PX, THUMBNAIL_PX, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation)
        self.setPixmap(pixmap)
        self.adjustSize()
        self.show()
        self.raise_()

    def place_near(self, cursor: QPoint) -> None:
        """Move beside ``cursor``, flipping sides near the parent's edges."""
        size, area = self.size(), self.parentWidget().rect()
        x, y = cursor.x() + 16, cursor.y() + 16
        if x + size.width() > area.right():
            x = cursor.x() - 16 - size.width()
        if y + size.height() > area.bottom():
            y = cursor.y() - 16 - size.height()
        self.move(max(0, x), max(0, y))
