"""The decoded view for sequence outputs: pen strokes drawn as lines, or signals as curves.

What counts as strokes and how the pen column is read is decided in
:mod:`latentlab.core.render` (the same lines as an exported picture). A probe drag
replaces the output up to once per frame, so the plot items are made once per output spec
and each new output only hands them new arrays; the ranges stay fixed between outputs
(they grow when an output leaves them, never shrink), so the drawing does not jump.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QWidget

from latentlab.core.errors import LatentLabError
from latentlab.core.render import Extent, OutputSpec, output_extent, stroke_points
from latentlab.gui.views import theme

#: Part of the data range added around it on each side.
RANGE_PADDING = 0.06
STROKE_WIDTH = 2.0
SIGNAL_WIDTH = 1.5
ZERO_LINE = "#5a606c"


class SequenceView(pg.PlotWidget):
    """Show one decoded sequence ``[T, F]`` of a given :class:`OutputSpec`.

    Strokes: one line item broken where the pen is up, lone pen-down points as dots, equal
    aspect, y growing downwards. Signals: one curve per feature in its own colour, a legend
    with the feature names, and a zero line.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        theme.ensure_pyqtgraph_config()
        super().__init__(parent, background=theme.BACKGROUND)
        # PlotWidget binds plotItem.clear onto the instance; clear() here is this view's own.
        del self.clear
        self.setObjectName("sequenceView")
        self.setMinimumSize(64, 64)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self._box = item.getViewBox()
        self._box.setMouseEnabled(False, False)
        self._box.disableAutoRange()
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(theme.MUTED))
            axis.setTextPen(pg.mkPen(theme.MUTED))
        self._message = pg.TextItem("", color=theme.MUTED, anchor=(0.5, 0.5))
        self._message.setZValue(10)
        self._spec: OutputSpec | None = None
        self._array: np.ndarray | None = None
        self._pinned: Extent | None = None
        self._extent: Extent | None = None
        self._items: list[pg.GraphicsObject] = []
        self._curves: list[pg.PlotDataItem] = []
        self._dots: pg.ScatterPlotItem | None = None
        self._reference: list[pg.PlotDataItem] = []   # a sequence drawn beneath the output
        # One legend, made once: it names the signal channels and hides for strokes.
        self._legend = pg.LegendItem(offset=(8, 8), labelTextColor=theme.FOREGROUND,
                                     brush=pg.mkBrush(21, 23, 28, 200), pen=pg.mkPen(60, 64, 72))
        self._legend.setParentItem(self._box)
        # The hint stays centred however the range changes (resizes move it with aspect lock).
        self._box.sigRangeChanged.connect(self._place_message)
        self.clear()

    # ----------------------------------------------------------------- public API
    def set_output(self, array: np.ndarray, spec: OutputSpec) -> None:
        """Show ``array`` ``[T, F]`` (or a batch of one) as ``spec`` describes it."""
        if spec.kind != "sequence":
            raise LatentLabError("the sequence view shows sequence outputs; show images in the decoded view")
        seq = np.array(array, dtype=np.float64, copy=True)
        if seq.ndim == 3 and seq.shape[0] == 1:
            seq = seq[0]
        if seq.ndim != 2 or seq.shape[1] != spec.shape[1] or seq.shape[0] < 1:
            raise LatentLabError(f"expected a sequence [T, {spec.shape[1]}], got shape {seq.shape}")
        if spec != self._spec:
            self._build(spec)
        self._array = seq
        self._message.setText("")
        self._message.setVisible(False)
        self._legend.setVisible(spec.style == "signals")
        if spec.style == "strokes":
            self._show_strokes(seq, spec)
        else:
            self._show_signals(seq)
        self._follow(output_extent(seq[None], spec))

    def set_reference(self, array: np.ndarray | None, name: str = "input") -> None:
        """Draw ``array`` ``[T, F]`` of the shown spec beneath the output in thin dashed lines
        (e.g. the window a model reconstructs, under its reconstruction); None removes it.
        The range grows to hold it, as for an output; the legend names it ``name``."""
        spec = self._spec
        if array is None or spec is None:
            self._drop_reference()
            return
        seq = np.array(array, dtype=np.float64, copy=True)
        if seq.ndim != 2 or seq.shape[1] != spec.shape[1] or seq.shape[0] < 1:
            raise LatentLabError(f"expected a sequence [T, {spec.shape[1]}], got shape {seq.shape}")
        strokes = spec.style == "strokes"
        count = 1 if strokes else seq.shape[1]
        if len(self._reference) != count:
            self._drop_reference()
            colors = [theme.MUTED] if strokes else theme.label_colors(count)
            for color in colors:
                item = pg.PlotDataItem(pen=pg.mkPen(color, width=1.0, style=Qt.PenStyle.DashLine),
                                       connect="finite", antialias=True)
                item.setZValue(-1)
                self.getPlotItem().addItem(item)
                self._reference.append(item)
            if not strokes:
                self._legend.addItem(self._reference[0], name)   # its sample is dashed too
        if strokes:
            xy, down = stroke_points(seq, spec)
            connect = np.zeros(len(xy), dtype=bool)
            connect[:-1] = down[:-1] & down[1:]
            self._reference[0].setData(np.nan_to_num(xy[:, 0]), np.nan_to_num(xy[:, 1]), connect=connect)
        else:
            steps = np.arange(seq.shape[0], dtype=np.float64)
            for k, item in enumerate(self._reference):
                item.setData(steps, seq[:, k])
        self._follow(output_extent(seq[None], spec))

    def reference(self) -> np.ndarray | None:
        """The reference drawn now ``[T, F]`` (signals; strokes give their points), or None."""
        if not self._reference or self._spec is None:
            return None
        if self._spec.style == "strokes":
            x, y = self._reference[0].getData()
            return None if x is None else np.stack([x, y], axis=1)
        columns = [item.getData()[1] for item in self._reference]
        return None if any(c is None for c in columns) else np.stack(columns, axis=1)

    def _drop_reference(self) -> None:
        if self._reference:
            self._legend.removeItem(self._reference[0])
        for item in self._reference:
            self.getPlotItem().removeItem(item)
        self._reference = []

    def current_output(self) -> np.ndarray | None:
        """The sequence shown (a copy of what :meth:`set_output` got), or None when cleared."""
        return None if self._array is None else self._array.copy()

    def spec(self) -> OutputSpec | None:
        """The spec of the items built (kept through :meth:`clear`)."""
        return self._spec

    def clear(self, message: str = "") -> None:
        """Hide the drawing and show ``message`` instead (e.g. a hint what to do)."""
        self._array = None
        self._drop_reference()
        for curve in self._curves:
            curve.setData([], [])
        if self._dots is not None:
            self._dots.setData([], [])
        self._legend.setVisible(False)
        self._message.setText(message)
        self._message.setVisible(bool(message))
        if self._message.scene() is None:
            self.getPlotItem().addItem(self._message, ignoreBounds=True)
        self._place_message()

    def message(self) -> str:
        """The hint shown while no output is set."""
        return self._message.toPlainText() if self._array is None else ""

    def set_caption(self, text: str) -> None:
        """A line of text above the drawing (empty string hides it)."""
        self.getPlotItem().setTitle(text or None, color=theme.FOREGROUND, size="9pt")

    def caption(self) -> str:
        title = self.getPlotItem().titleLabel
        return title.text if title.isVisible() else ""

    def set_extent(self, extent: Extent | None) -> None:
        """Pin the data range ``(x0, x1, y0, y1)`` (e.g. the data set's), or None to follow outputs.

        Following, the range starts at the first output's and only grows.
        """
        if extent is not None:
            x0, x1, y0, y1 = (float(v) for v in extent)
            if not (np.isfinite([x0, x1, y0, y1]).all() and x1 > x0 and y1 > y0):
                raise LatentLabError(f"an extent is (x0, x1, y0, y1) with x0 < x1 and y0 < y1, got {extent}")
            extent = (x0, x1, y0, y1)
        self._pinned = extent
        self._extent = None
        if extent is not None:
            self._apply(extent)
        elif self._array is not None and self._spec is not None:
            self._follow(output_extent(self._array[None], self._spec))

    def reset_range(self) -> None:
        """Forget the grown range: the next output sets it afresh (a pinned extent stays)."""
        self._extent = None
        if self._array is not None and self._spec is not None and self._pinned is None:
            self._follow(output_extent(self._array[None], self._spec))

    def view_range(self) -> Extent:
        """The data rectangle in view now ``(x0, x1, y0, y1)``."""
        (x0, x1), (y0, y1) = self._box.viewRange()
        return (x0, x1, y0, y1)

    def curves(self) -> list[pg.PlotDataItem]:
        """The line items: one for strokes, one per feature for signals (for tests, styling)."""
        return list(self._curves)

    def dots(self) -> pg.ScatterPlotItem | None:
        """The item drawing lone pen-down points (strokes only)."""
        return self._dots

    # -------------------------------------------------------------------- drawing
    def _build(self, spec: OutputSpec) -> None:
        item = self.getPlotItem()
        self._drop_reference()
        for old in self._items:
            item.removeItem(old)
        self._legend.clear()
        self._legend.setVisible(False)
        self._items, self._curves, self._dots = [], [], None
        self._spec, self._extent = spec, None
        strokes = spec.style == "strokes"
        # A drawing has no axes worth reading; a signal's steps and values do.
        item.showAxis("bottom", not strokes)
        item.showAxis("left", not strokes)
        self._box.invertY(strokes)
        self._box.setAspectLocked(strokes, ratio=1.0)
        if strokes:
            curve = pg.PlotDataItem(pen=pg.mkPen(theme.FOREGROUND, width=STROKE_WIDTH), antialias=True)
            dots = pg.ScatterPlotItem(size=STROKE_WIDTH * 2.5, pen=None, brush=pg.mkBrush(theme.FOREGROUND))
            self._curves, self._dots = [curve], dots
            self._items = [curve, dots]
        else:
            zero = pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen(ZERO_LINE, width=1), movable=False)
            colors = theme.label_colors(len(spec.features))
            for name, color in zip(spec.features, colors):
                curve = pg.PlotDataItem(pen=pg.mkPen(color, width=SIGNAL_WIDTH), connect="finite",
                                        antialias=True)
                self._curves.append(curve)
                self._legend.addItem(curve, name)
            self._items = [zero, *self._curves]
        for new in self._items:
            item.addItem(new)

    def _show_strokes(self, seq: np.ndarray, spec: OutputSpec) -> None:
        xy, down = stroke_points(seq, spec)
        # A segment i -> i + 1 is drawn when the pen is down at both ends (as in core.render).
        connect = np.zeros(len(xy), dtype=bool)
        connect[:-1] = down[:-1] & down[1:]
        xs, ys = np.nan_to_num(xy[:, 0]), np.nan_to_num(xy[:, 1])
        self._curves[0].setData(xs, ys, connect=connect, skipFiniteCheck=True)
        joined = np.zeros(len(xy), dtype=bool)
        joined[:-1] |= connect[:-1]
        joined[1:] |= connect[:-1]
        lone = down & ~joined
        assert self._dots is not None
        self._dots.setData(xs[lone], ys[lone])

    def _show_signals(self, seq: np.ndarray) -> None:
        steps = np.arange(seq.shape[0], dtype=np.float64)
        for k, curve in enumerate(self._curves):
            curve.setData(steps, seq[:, k])

    # --------------------------------------------------------------------- ranges
    def _follow(self, extent: Extent) -> None:
        if self._pinned is not None:
            self._apply(self._pinned)
            return
        if self._extent is None:
            grown = extent
        else:
            a, b = self._extent, extent
            grown = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
        if grown != self._extent:
            self._extent = grown
            self._apply(grown)

    def _apply(self, extent: Extent) -> None:
        x0, x1, y0, y1 = extent
        px, py = RANGE_PADDING * (x1 - x0), RANGE_PADDING * (y1 - y0)
        self._box.setRange(xRange=(x0 - px, x1 + px), yRange=(y0 - py, y1 + py), padding=0.0)
        self._place_message()

    def _place_message(self, *_: object) -> None:
        (x0, x1), (y0, y1) = self._box.viewRange()
        self._message.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(280, 300)
