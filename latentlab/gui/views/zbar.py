"""A compact bar chart of the probe's full latent vector z."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from latentlab.gui.views import theme

MAX_DIMS = 256
_MARGIN = 4
# Bars are scaled to at least +-3: a standard-normal prior keeps most z inside that, so the
# scale stays put while the probe moves and only grows for points far out.
_MIN_HALF_RANGE = 3.0


class ZBarChart(QWidget):
    """One thin bar per latent dimension (up to 256), zero line in the middle.

    Dimensions passed to :meth:`set_highlight` (the two plane axes when the plane is
    "two dims") are drawn in the accent colour. Hovering a bar shows ``z[i] = value``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("zBars")
        self._z = np.zeros(0, dtype=np.float64)
        self._highlight: tuple[int, ...] = ()
        self.setMinimumSize(60, 40)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    # ----------------------------------------------------------------- public API
    def set_z(self, z: np.ndarray) -> None:
        """Show the vector ``z`` (shape ``[D]``, 1 <= D <= 256; non-finite values draw as 0)."""
        arr = np.asarray(z, dtype=np.float64).reshape(-1)
        if not 1 <= arr.size <= MAX_DIMS:
            raise ValueError(f"z must have 1..{MAX_DIMS} entries, got {arr.size}")
        self._z = arr.copy()
        self.update()

    def z(self) -> np.ndarray:
        """Return a copy of the vector shown (empty before the first :meth:`set_z`)."""
        return self._z.copy()

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
    def sizeHint(self) -> QSize:
        return QSize(280, 80)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), theme.qcolor(theme.BACKGROUND))
            plot = self._plot_rect()
            zero_y = plot.center().y()
            if self._z.size:
                self._paint_bars(painter, plot, zero_y)
            painter.setPen(QPen(theme.qcolor(theme.MUTED), 1))
            painter.drawLine(QPointF(plot.left(), zero_y), QPointF(plot.right(), zero_y))
        finally:
            painter.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self._index_at(event.position().x())
        if index >= 0:
            QToolTip.showText(event.globalPosition().toPoint(),
                              f"z[{index}] = {self._z[index]:.3f}", self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    # -------------------------------------------------------------------- helpers
    def _plot_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)

    def _half_range(self) -> float:
        finite = self._z[np.isfinite(self._z)]
        peak = float(np.max(np.abs(finite))) if finite.size else 0.0
        return max(_MIN_HALF_RANGE, np.ceil(peak))

    def _paint_bars(self, painter: QPainter, plot: QRectF, zero_y: float) -> None:
        values = np.nan_to_num(self._z, nan=0.0, posinf=0.0, neginf=0.0)
        scale = (plot.height() / 2.0) / self._half_range()
        slot = plot.width() / values.size
        # Leave a gap between bars only when they are wide enough to afford one.
        gap = 1.0 if slot >= 4 else 0.0
        normal = theme.qcolor(theme.BAR_COLOR)
        accent = theme.qcolor(theme.BAR_HIGHLIGHT_COLOR)
        highlighted = set(self._highlight)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, value in enumerate(values):
            height = value * scale
            rect = QRectF(plot.left() + i * slot, zero_y - max(height, 0.0),
                          max(slot - gap, 1.0), abs(height))
            painter.setBrush(accent if i in highlighted else normal)
            painter.drawRect(rect)

    def _index_at(self, x: float) -> int:
        if not self._z.size:
            return -1
        plot = self._plot_rect()
        if not plot.left() <= x < plot.right():
            return -1
        return min(self._z.size - 1, int((x - plot.left()) / plot.width() * self._z.size))
