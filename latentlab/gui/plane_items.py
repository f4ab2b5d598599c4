"""Graphics helpers of the latent plane: point index, point cloud, view box and probe.

Kept apart from :mod:`latentlab.gui.plane_view` so that the widget module stays readable.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPainterPath
from PySide6.QtWidgets import QLabel, QWidget

from latentlab.gui import theme
from latentlab.gui.qimage import array_to_qpixmap

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


class PointCloud(pg.ScatterPlotItem):
    """ScatterPlotItem without its O(N) mouse handling; the view does look-ups itself."""

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (Qt/pyqtgraph name)
        # pyqtgraph would build one SpotItem per point (70,000 objects) on the first click.
        ev.ignore()

    def hoverEvent(self, ev) -> None:  # noqa: N802
        pass

    def move_points(self, x: np.ndarray, y: np.ndarray) -> None:
        """Replace positions, keeping styles: no re-styling of every point."""
        data = getattr(self, "data", None)
        if data is None or len(data) != len(x) or "x" not in (data.dtype.names or ()):
            self.setData(x=x, y=y)  # the internal layout changed: take the slow, safe road
            return
        self.prepareGeometryChange()
        data["x"] = x
        data["y"] = y
        self.bounds = [None, None]  # ScatterPlotItem caches its data bounds here
        self.informViewBoundsChanged()
        self.invalidate()
        self.sigPlotChanged.emit(self)


class PlaneViewBox(pg.ViewBox):
    """ViewBox that reports left clicks (in plane coordinates) instead of ignoring them."""

    sigLeftClicked = Signal(object)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.sigLeftClicked.emit(self.mapToView(ev.pos()))
        else:
            super().mouseClickEvent(ev)


def target_path() -> QPainterPath:
    """A ring with four ticks and an open centre, so the point under the probe stays visible."""
    path = QPainterPath()
    path.addEllipse(QPointF(0, 0), 0.28, 0.28)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        path.moveTo(dx * 0.12, dy * 0.12)
        path.lineTo(dx * 0.5, dy * 0.5)
    return path


class ProbeItem(pg.TargetItem):
    """pyqtgraph's TargetItem drawn twice: a dark halo under a bright stroke."""

    _HALO_PX = 3.0

    def paint(self, p: QPainter, *_) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setBrush(Qt.BrushStyle.NoBrush)
        halo = pg.mkPen(theme.PROBE_HALO, width=self.currentPen.widthF() + 2 * self._HALO_PX)
        p.setPen(halo)
        p.drawPath(self.shape())
        p.setPen(self.currentPen)
        p.drawPath(self.shape())

    def boundingRect(self) -> QRectF:
        # The halo pen reaches past the symbol's outline; pad so it is not clipped.
        rect = self.shape().boundingRect()
        px = self.pixelLength(pg.Point(1, 0)) or 0.0
        py = self.pixelLength(pg.Point(0, 1)) or 0.0
        pad = self._HALO_PX + 2
        return rect.adjusted(-pad * px, -pad * py, pad * px, pad * py)


class ArrowOverlay:
    """A line with an arrow head, in plane coordinates (attribute vectors)."""

    def __init__(self, view_box: pg.ViewBox, z: float) -> None:
        self._vb = view_box
        self._ends: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.line = pg.PlotCurveItem(pen=pg.mkPen(theme.ACCENT, width=2.5))
        self.line.setZValue(z)
        self.head = pg.ArrowItem(headLen=14, tipAngle=36, tailLen=0, pen=None,
                                 brush=pg.mkBrush(theme.ACCENT))
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
