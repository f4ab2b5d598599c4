"""A compact bar chart of the probe's full latent vector z, with its scale."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QMouseEvent, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from latentlab.gui.views import theme

MAX_DIMS = 256
_MARGIN = 4
_TEXT_GAP = 4
# The scale is at least +-3: a standard-normal prior keeps most z inside that, so the scale
# stays put while the probe moves. Beyond it, it grows along 5, 10, 20, 50, ... so that
# every finite value fits and the numbers on the scale stay round.
_MIN_HALF_RANGE = 3.0
_LADDER = (1.0, 2.0, 5.0)
# Values that cannot be drawn as a bar (NaN, ±inf) get a marker in this colour.
_PROBLEM_COLOR = "#ff5c5c"
_MARKER_PX = 5.0
_MAX_BAR_PX = 32.0


def half_range_for(values: np.ndarray) -> float:
    """The scale's half range for ``values``: 3, or the next of 5, 10, 20, 50, … that fits them."""
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 0.0
    if peak <= _MIN_HALF_RANGE:
        return _MIN_HALF_RANGE
    exponent = math.floor(math.log10(peak))
    for e in (exponent, exponent + 1):
        for m in _LADDER:
            if m * 10.0**e >= peak:
                return m * 10.0**e
    return peak   # not reached: 10 ** (exponent + 1) > peak


def format_tick(value: float) -> str:
    """A scale number: "3", "−20", "1.5e+04" (a true minus sign, no trailing zeros)."""
    text = f"{value:g}"
    return text.replace("-", "−", 1) if text.startswith("-") else text


class ZBarChart(QWidget):
    """One thin bar per latent dimension (up to 256), zero line in the middle, a scale on the left.

    The scale (see :func:`half_range_for`) always holds every finite value; a value that
    cannot be drawn as a bar (NaN, ±inf) is marked in red and named in the bar's tooltip.
    Dimensions passed to :meth:`set_highlight` (the two plane axes when the plane is "two
    dims") are drawn in the accent colour. Hovering a bar shows ``z[i] = value``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("zBars")
        self._z = np.zeros(0, dtype=np.float64)
        self._highlight: tuple[int, ...] = ()
        self._half_range = _MIN_HALF_RANGE
        font = QFont(self.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        self.setFont(font)
        self.setMinimumSize(90, 40)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setToolTip("The probe's latent code, one bar per dimension; the numbers on the left are the scale.")

    # ----------------------------------------------------------------- public API
    def set_z(self, z: np.ndarray) -> None:
        """Show the vector ``z`` (shape ``[D]``, 1 <= D <= 256; NaN and ±inf are marked)."""
        arr = np.asarray(z, dtype=np.float64).reshape(-1)
        if not 1 <= arr.size <= MAX_DIMS:
            raise ValueError(f"z must have 1..{MAX_DIMS} entries, got {arr.size}")
        self._z = arr.copy()
        self._half_range = half_range_for(self._z)
        self.update()

    def z(self) -> np.ndarray:
        """Return a copy of the vector shown (empty before the first :meth:`set_z`)."""
        return self._z.copy()

    def half_range(self) -> float:
        """The value at the top of the scale (the bottom is its negative)."""
        return self._half_range

    def tick_labels(self) -> tuple[str, str, str]:
        """The scale's numbers, top to bottom."""
        r = self._half_range
        return format_tick(r), "0", format_tick(-r)

    def marked(self) -> list[int]:
        """Dimensions whose value cannot be drawn as a bar (NaN or ±inf): marked in red."""
        return [int(i) for i in np.flatnonzero(~np.isfinite(self._z))]

    def bar_tooltip(self, index: int) -> str:
        """What hovering bar ``index`` says."""
        value = float(self._z[index])
        if math.isnan(value):
            return f"z[{index}] = NaN (not a number: the model gave no value here)"
        if math.isinf(value):
            return f"z[{index}] = {'+' if value > 0 else '−'}∞ (too large to draw)"
        return f"z[{index}] = {value:.3f}"

    def set_highlight(self, dims: Iterable[int]) -> None:
        """Draw the bars of ``dims`` in the accent colour (empty tuple: none)."""
        self._highlight = tuple(sorted({int(d) for d in dims}))
        self.update()

    def highlight(self) -> tuple[int, ...]:
        """Return the highlighted dimensions."""
        return self._highlight

    def bar_rect(self, index: int) -> QRectF:
        """Return the horizontal slot of bar ``index`` (full plot height) in widget pixels."""
        plot = self._plot_rect()
        width = plot.width() / max(1, self._z.size)
        return QRectF(plot.left() + index * width, plot.top(), width, plot.height())

    # ---------------------------------------------------------------- Qt overrides
    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(280, 80)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), theme.qcolor(theme.BACKGROUND))
            plot = self._plot_rect()
            zero_y = plot.center().y()
            self._paint_scale(painter, plot, zero_y)
            if self._z.size:
                self._paint_bars(painter, plot, zero_y)
                self._paint_marks(painter, plot, zero_y)
            painter.setPen(QPen(theme.qcolor(theme.MUTED), 1))
            painter.drawLine(QPointF(plot.left(), zero_y), QPointF(plot.right(), zero_y))
        finally:
            painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        index = self._index_at(event.position().x())
        if index >= 0:
            QToolTip.showText(event.globalPosition().toPoint(), self.bar_tooltip(index), self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    # -------------------------------------------------------------------- helpers
    def _gutter(self) -> float:
        """Width of the scale's numbers on the left."""
        metrics = self.fontMetrics()
        return max(metrics.horizontalAdvance(t) for t in self.tick_labels()) + _TEXT_GAP

    def _plot_rect(self) -> QRectF:
        # Half a line of text above and below, so the top and bottom numbers are not cut.
        half_line = self.fontMetrics().height() / 2.0
        inset = max(float(_MARGIN), half_line)
        return QRectF(self.rect()).adjusted(_MARGIN + self._gutter(), inset, -_MARGIN, -inset)

    def _paint_scale(self, painter: QPainter, plot: QRectF, zero_y: float) -> None:
        grid = theme.qcolor(theme.GRID)
        painter.setPen(QPen(grid, 1))
        for y in (plot.top(), plot.bottom()):
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(QPen(theme.qcolor(theme.MUTED), 1))
        height = self.fontMetrics().height()
        right = plot.left() - _TEXT_GAP
        for text, y in zip(self.tick_labels(), (plot.top(), zero_y, plot.bottom()), strict=True):
            box = QRectF(0, y - height / 2.0, right, height)
            painter.drawText(box, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)

    def _paint_bars(self, painter: QPainter, plot: QRectF, zero_y: float) -> None:
        values = np.where(np.isfinite(self._z), self._z, 0.0)
        scale = (plot.height() / 2.0) / self._half_range
        slot = plot.width() / values.size
        # Leave a gap between bars only when they are wide enough to afford one.
        gap = 1.0 if slot >= 4 else 0.0
        # A few dimensions would make slabs as wide as the chart: thinner bars read as bars.
        width = min(max(slot - gap, 1.0), _MAX_BAR_PX)
        normal = theme.qcolor(theme.BAR_COLOR)
        accent = theme.qcolor(theme.BAR_HIGHLIGHT_COLOR)
        highlighted = set(self._highlight)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, value in enumerate(values):
            height = value * scale
            rect = QRectF(plot.left() + (i + 0.5) * slot - width / 2.0, zero_y - max(height, 0.0),
                          width, abs(height))
            painter.setBrush(accent if i in highlighted else normal)
            painter.drawRect(rect)

    def _paint_marks(self, painter: QPainter, plot: QRectF, zero_y: float) -> None:
        """A red arrow at the edge for ±inf, a red cross on the zero line for NaN."""
        marked = self.marked()
        if not marked:
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        color = theme.qcolor(_PROBLEM_COLOR)
        slot = plot.width() / self._z.size
        size = min(_MARKER_PX, max(2.0, slot / 2.0 + 1.0))
        for i in marked:
            x = plot.left() + (i + 0.5) * slot
            value = self._z[i]
            if math.isnan(value):
                painter.setPen(QPen(color, 1.5))
                painter.drawLine(QPointF(x - size, zero_y - size), QPointF(x + size, zero_y + size))
                painter.drawLine(QPointF(x - size, zero_y + size), QPointF(x + size, zero_y - size))
                continue
            tip_y, sign = (plot.top(), 1.0) if value > 0 else (plot.bottom(), -1.0)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawPolygon(QPolygonF([QPointF(x, tip_y), QPointF(x - size, tip_y + sign * 2 * size),
                                           QPointF(x + size, tip_y + sign * 2 * size)]))

    def _index_at(self, x: float) -> int:
        if not self._z.size:
            return -1
        plot = self._plot_rect()
        if not plot.left() <= x < plot.right():
            return -1
        return min(self._z.size - 1, int((x - plot.left()) / plot.width() * self._z.size))
