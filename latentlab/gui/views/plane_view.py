"""The latent plane: the encoded data set as a scatter, with a draggable probe.

Built for 70,000 points: one :class:`PointCloud` draws every dot with a single Qt call
(colours chosen once per data set, positions replaced on live re-encodes), and point
look-ups (hover, click) go through a uniform grid index instead of per-point scans.
The view also draws an interpolation path, an attribute arrow and a mosaic of decoded images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QWidget

from latentlab.gui.views import theme
from latentlab.gui.views.plane_heatmap import ERROR_NOTE, RealnessLayer, error_opacities
from latentlab.gui.views.plane_items import (ArrowOverlay, PlaneViewBox, PointCloud, PointIndex, ProbeItem,
                                       ThumbnailPopup, target_path)
from latentlab.gui.views.side_legend import SideLegend, add_side_legend

ThumbnailSource = Callable[[int], np.ndarray]

# How strongly the points show while a mosaic of decoded images lies beneath them.
MOSAIC_POINT_OPACITY = 0.35
# The denoise panel's arrow (clean image's code → noisy image's code) is white like the selection
# ring it starts from, apart from the warm attribute arrow.
NOISE_ARROW_COLOR = theme.SELECTION
# Rings around marked points (the images whose labels a semi-supervised run kept): light and
# thin, apart from the thicker white selection ring.
MARK_COLOR, MARK_SIZE_PX = theme.FOREGROUND, 10


def check_xy(xy: np.ndarray) -> np.ndarray:
    """``xy`` as a contiguous float64 ``[N, 2]`` array; ValueError for any other shape."""
    arr = np.asarray(xy, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"points must have shape [N, 2], got {arr.shape}")
    return np.ascontiguousarray(arr)

PICK_RADIUS_PX = 6  # how close (screen pixels) the mouse must be to hover / click a point
MAX_LEGEND_ENTRIES = 20
#: A view that follows the data is fitted again once the points fill less than this share of it
#: on both axes (or leave it); smaller moves keep the view as it is.
REFIT_FILL = 0.6
_Z_MOSAIC, _Z_REALNESS, _Z_POINTS, _Z_PATH, _Z_SELECTION, _Z_PROBE = -100, -50, 0, 5, 8, 20
# Where the probe's label may go, tried in order, as (offset in pixels with y up, anchor):
# right of the probe, left of it, above, below, then the four diagonals (for the corners).
# The first that fits inside the view wins.
_LABEL_GAP = theme.PROBE_SIZE_PX // 2 + 4
LABEL_PLACES = (((_LABEL_GAP, 0), (0, 0.5)), ((-_LABEL_GAP, 0), (1, 0.5)),
                ((0, _LABEL_GAP), (0.5, 1)), ((0, -_LABEL_GAP), (0.5, 0)),
                ((_LABEL_GAP, _LABEL_GAP), (0, 1)), ((-_LABEL_GAP, _LABEL_GAP), (1, 1)),
                ((_LABEL_GAP, -_LABEL_GAP), (0, 0)), ((-_LABEL_GAP, -_LABEL_GAP), (1, 0)))
# A dragged probe stops this many pixels inside the view's edge, so it can be grabbed again.
PROBE_EDGE_PX = theme.PROBE_SIZE_PX // 2


class LatentPlaneView(pg.PlotWidget):
    """The latent plane with its scatter of encoded points and the probe.

    Left-drag on the probe moves it; left-drag elsewhere pans; the wheel zooms. A click
    without movement on an empty spot moves the probe there; a click on a point selects it
    and moves the probe onto it.
    """

    probeMoved = Signal(float, float)
    probeReleased = Signal(float, float)
    pointHovered = Signal(int)
    pointSelected = Signal(int)
    viewChanged = Signal()

    def __init__(self, parent: QWidget | None = None, *, side_legend: bool = True) -> None:
        theme.ensure_pyqtgraph_config()
        super().__init__(parent, background=theme.BACKGROUND, viewBox=PlaneViewBox(),
                         axisItems=theme.flat_grid_axes())
        self.setObjectName("latentPlane")
        self._side_legend = side_legend
        self._xy = np.zeros((0, 2), dtype=np.float64)
        self._labels: np.ndarray | None = None
        self._hidden_classes: set[int] = set()
        self._legend_entries: list[tuple[int, tuple[int, int, int], str]] | None = None
        self._index: PointIndex | None = None
        self._user_moved_view = False
        self._hovered = -1
        self._selected: int | None = None
        self._marked = np.zeros(0, dtype=np.int64)   # points drawn with a ring (set_marked)
        self._marks_drawn = False
        self._thumbnail_source: ThumbnailSource | None = None
        self._legend_notes: dict[str, str] = {}   # text lines under the classes, by topic
        self._note_items: list[pg.ScatterPlotItem] = []
        self._setup_plot()
        self._setup_items()
        self._thumbnail = ThumbnailPopup(self.viewport())

    # ------------------------------------------------------------------ set-up
    @property
    def _vb(self) -> PlaneViewBox:
        return self.plotItem.vb

    def _setup_plot(self) -> None:
        item = self.plotItem
        item.hideButtons()  # its auto-range button would also fit the mosaic and the path
        item.setMenuEnabled(False)
        theme.use_flat_grid(item, alpha=0.12)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(theme.GRID))
            axis.setTextPen(pg.mkPen(theme.MUTED))
        self._vb.disableAutoRange()
        self._vb.setAspectLocked(True)  # distances in z mean the same along both axes
        self._vb.sigLeftClicked.connect(self._on_left_click)
        self._vb.sigRangeChangedManually.connect(self._on_user_range_change)
        self._vb.sigRangeChanged.connect(self._on_range_changed)
        # Beside the plane, not on it: a legend inside would hide points, the probe and its label.
        # Without ``side_legend`` the owner shows the classes (several planes, one legend): the
        # legend is kept off the plot, where it would cost every repaint its items' bounds.
        options = {"brush": pg.mkBrush(theme.BACKGROUND), "pen": None, "labelTextColor": theme.FOREGROUND}
        self._legend = add_side_legend(item, **options) if self._side_legend else SideLegend(**options)
        self._legend.sigSampleClicked.connect(self._on_legend_clicked)
        self.set_axis_names("z₀", "z₁")

    def _setup_items(self) -> None:
        self._mosaic = pg.ImageItem()
        self._mosaic.setZValue(_Z_MOSAIC)
        self._mosaic.setVisible(False)
        self._realness = RealnessLayer()
        self._realness.item.setZValue(_Z_REALNESS)
        self._points = PointCloud(theme.POINT_SIZE_PX)
        self._points.setZValue(_Z_POINTS)
        self._path = pg.PlotCurveItem(pen=pg.mkPen(theme.ACCENT, width=2))
        self._path.setZValue(_Z_PATH)
        self._waypoints = pg.ScatterPlotItem(size=9, pen=pg.mkPen(theme.BACKGROUND, width=1.5),
                                             brush=pg.mkBrush(theme.ACCENT))
        self._waypoints.setZValue(_Z_PATH + 1)
        self._arrow = ArrowOverlay(self.plotItem.vb, _Z_PATH)
        self._noise_arrow = ArrowOverlay(self.plotItem.vb, _Z_PATH, NOISE_ARROW_COLOR)
        self._selection = pg.ScatterPlotItem(size=14, pen=pg.mkPen(theme.SELECTION, width=2),
                                             brush=None)
        self._selection.setZValue(_Z_SELECTION)
        self._marks = pg.ScatterPlotItem(size=MARK_SIZE_PX, pen=pg.mkPen(MARK_COLOR, width=1.2), brush=None)
        self._marks.setZValue(_Z_POINTS + 1)
        for empty in (self._path, self._waypoints, self._selection, self._marks):
            empty.setVisible(False)   # shown when they hold something (see set_path)
        self._probe = ProbeItem(
            pos=(0.0, 0.0), size=theme.PROBE_SIZE_PX, symbol=target_path(),
            pen=pg.mkPen(theme.PROBE_COLOR, width=2),
            hoverPen=pg.mkPen(theme.PROBE_HOVER_COLOR, width=2.5),
            brush=None, hoverBrush=None, label="probe",
            labelOpts={"color": theme.PROBE_COLOR, "offset": LABEL_PLACES[0][0], "anchor": LABEL_PLACES[0][1],
                       "fill": pg.mkBrush(theme.PROBE_HALO)})
        self._probe.setZValue(_Z_PROBE)
        self._probe_color = theme.PROBE_COLOR
        self._probe.drag_limits = self._probe_limits
        self._probe.sigPositionChanged.connect(self._on_probe_dragged)
        self._probe.sigPositionChangeFinished.connect(self._on_probe_drag_finished)
        for item in (self._mosaic, self._realness.item, self._points, self._path, self._waypoints,
                     self._arrow.line, self._arrow.head, self._noise_arrow.line, self._noise_arrow.head,
                     self._marks, self._selection, self._probe):
            self.plotItem.addItem(item)
        self.clear_arrow()

    # ------------------------------------------------------------------ points
    def set_points(self, xy: np.ndarray, labels: np.ndarray | None = None,
                   class_names: Sequence[str] = ()) -> None:
        """Replace the scatter with ``xy`` ``[N, 2]``, coloured by ``labels`` ``[N]``.

        Resets the view to fit the new points. Labels < 0 (and all points when ``labels``
        is None) get the unlabelled colour; ``class_names[k]`` names class ``k`` in the legend.
        """
        xy = check_xy(xy)
        if labels is not None:
            labels = np.asarray(labels).reshape(-1).astype(np.int64)
            if labels.shape[0] != xy.shape[0]:
                raise ValueError(f"{labels.shape[0]} labels for {xy.shape[0]} points")
        self._xy, self._labels = xy, labels
        self._hidden_classes = set()
        self._index = None
        self._set_hovered(-1)
        self._selected = None
        self._selection.setData([], [])
        self._selection.setVisible(False)
        self._marked = np.zeros(0, dtype=np.int64)   # marks belong to the old points
        self._draw_marks()
        groups, colors, legend = self._colors_for(labels, class_names)
        self._points.set_points(xy[:, 0], xy[:, 1], groups, colors)
        self._rebuild_legend(legend)
        self._user_moved_view = False
        self.auto_range()
        self._settle_view()

    def set_point_labels(self, labels: np.ndarray | None, class_names: Sequence[str] = ()) -> None:
        """Colour the points on the plane by ``labels`` ``[N]`` (e.g. predicted classes) and
        rebuild the legend; positions, view and selection stay."""
        if labels is not None:
            labels = np.asarray(labels).reshape(-1).astype(np.int64)
            if labels.shape[0] != self._xy.shape[0]:
                raise ValueError(f"{labels.shape[0]} labels for {self._xy.shape[0]} points")
        self._labels, self._hidden_classes, self._index = labels, set(), None
        groups, colors, legend = self._colors_for(labels, class_names)
        self._points.set_points(self._xy[:, 0], self._xy[:, 1], groups, colors)
        self._rebuild_legend(legend)
        self._draw_marks()

    def point_labels(self) -> np.ndarray | None:
        """The labels the points are coloured by (None: all unlabelled)."""
        return None if self._labels is None else self._labels.copy()

    def update_points(self, xy: np.ndarray, follow: bool = True) -> None:
        """Move the existing points to ``xy`` (same N and labels), e.g. after a re-encode.

        The user's pan/zoom is kept; only a view the user never touched follows the data, when
        the points leave it or shrink well inside it (:meth:`_view_misfits`), and only with
        ``follow`` (a caller may keep the view regardless).
        """
        xy = check_xy(xy)
        if xy.shape[0] != self._xy.shape[0]:
            raise ValueError(f"update_points got {xy.shape[0]} points, the plane has "
                             f"{self._xy.shape[0]}; use set_points for a new data set")
        self._xy = xy
        self._index = None
        self._points.move_points(xy[:, 0], xy[:, 1])
        if self._selected is not None:
            self._selection.setData([xy[self._selected, 0]], [xy[self._selected, 1]])
        self._draw_marks()
        if follow and not self._user_moved_view and self._view_misfits():
            self.auto_range()
        self._settle_view()

    def _view_misfits(self) -> bool:
        """Whether a view that follows the data must be fitted again: a point has left it, or the
        points fill less than :data:`REFIT_FILL` of it on both axes. Small moves inside it (most
        re-encodes while a model trains) keep the view: it does not jitter, and the axes are not
        laid out again (a few milliseconds of the GUI thread each time)."""
        # The dots' item keeps the bounds of the finite points (computed as they moved).
        (x_lo, x_hi), (y_lo, y_hi) = self._points.dataBounds(0), self._points.dataBounds(1)
        if x_lo is None or y_lo is None:
            return False
        x0, y0, w, h = self.visible_rect()
        if not (w > 0 and h > 0):
            return True
        if x_lo < x0 or y_lo < y0 or x_hi > x0 + w or y_hi > y0 + h:
            return True
        # The axes share one scale, so one axis is usually loose: refit when neither is filled.
        return bool(max((x_hi - x_lo) / w, (y_hi - y_lo) / h) < REFIT_FILL)

    def _settle_view(self) -> None:
        """Apply pyqtgraph's deferred view updates now rather than at the next paint.

        Left for the paint, a changed view matrix dirties the scene again and a second
        full repaint follows at once; settled here, one paint shows the change.
        """
        self._vb.prepareForPaint()

    @property
    def point_cloud(self) -> PointCloud:
        """The item that draws the dots (its rendering cache is measured by the benchmarks)."""
        return self._points

    def point_count(self) -> int:
        """Number of points on the plane."""
        return int(self._xy.shape[0])

    def point_at(self, x: float, y: float, radius_px: float = PICK_RADIUS_PX) -> int:
        """Index of the point nearest to plane position (x, y) within ``radius_px``, or -1."""
        if self._xy.shape[0] == 0:
            return -1
        if self._index is None:
            shown = self._xy.copy()
            shown[~self._visible_mask()] = np.nan  # hidden classes cannot be hovered or picked
            self._index = PointIndex(shown)
        rx, ry = self._pixel_size()
        return self._index.nearest(x, y, radius_px * rx, radius_px * ry)

    @staticmethod
    def _colors_for(labels: np.ndarray | None, class_names: Sequence[str]):
        """Per-point colour indices, the colours they index and the legend entries."""
        alpha = theme.POINT_ALPHA
        unlabelled = theme.qcolor(theme.UNLABELLED_COLOR, alpha)
        if labels is None or labels.size == 0:
            return None, [unlabelled], []
        n_classes = max(len(class_names), int(labels.max()) + 1, 1)
        colors = theme.label_colors(n_classes)
        groups = np.where(labels >= 0, labels, n_classes)  # the last colour: unlabelled
        present = np.unique(labels[labels >= 0])
        legend = [(int(k), colors[k], class_names[k] if k < len(class_names) else str(k))
                  for k in present]
        return groups, [theme.qcolor(c, alpha) for c in colors] + [unlabelled], legend

    def _rebuild_legend(self, entries: list[tuple[int, tuple[int, int, int], str]]) -> None:
        if entries == self._legend_entries:
            # The same classes again (a new plane, new codes): keep the items, which is
            # far cheaper than rebuilding them; every class starts out shown again.
            for sample, _label in self._legend.items:
                sample.item.setVisible(True)
                sample.update()
            return
        self._legend_entries = entries
        self._legend.clear()
        shown = entries[:MAX_LEGEND_ENTRIES]
        for k, color, name in shown:
            sample = pg.ScatterPlotItem(size=9, pen=None, brush=pg.mkBrush(*color))
            sample.class_index = k  # read back when the entry is clicked
            self._legend.addItem(sample, name)
        if len(entries) > len(shown):
            more = pg.ScatterPlotItem(size=0, pen=None, brush=None)
            self._legend.addItem(more, f"… {len(entries) - len(shown)} more")
        self._note_items = []
        self._show_legend_notes()

    def set_legend_note(self, topic: str, text: str | None) -> None:
        """A line of text under the legend's classes (simple HTML); None removes ``topic``'s."""
        if self._legend_notes.get(topic) == text:
            return
        if text is None:
            self._legend_notes.pop(topic, None)
        else:
            self._legend_notes[topic] = text
        self._show_legend_notes()

    def legend_notes(self) -> dict[str, str]:
        """The legend's lines of text, by topic."""
        return dict(self._legend_notes)

    def _show_legend_notes(self) -> None:
        for item in self._note_items:
            self._legend.removeItem(item)
        self._note_items = []
        if self._legend_notes:
            # One row for all the lines: a row each would add the legend's row spacing, and
            # a legend taller than the view pushes the plane's axis out of sight.
            text = "<br>".join(self._legend_notes.values())
            sample = pg.ScatterPlotItem(size=0, pen=None, brush=None)
            self._legend.addItem(sample, text)
            self._legend.items[-1][1].setText(text, color=theme.MUTED, size="7pt")
            self._note_items.append(sample)
        self._legend.setVisible(bool(self._legend_entries) or bool(self._legend_notes))

    def set_point_errors(self, errors: np.ndarray | None) -> None:
        """Shade each dot by how well the model reproduces its item: ``errors`` ``[N]`` (an
        inverted generator's per-item error; lower is stronger), or None for full strength."""
        if errors is None:
            self._points.set_opacities(None)
            self.set_legend_note("errors", None)
            return
        errors = np.asarray(errors).reshape(-1)
        if errors.shape[0] != self._xy.shape[0]:
            raise ValueError(f"{errors.shape[0]} errors for {self._xy.shape[0]} points")
        self._points.set_opacities(error_opacities(errors))
        self.set_legend_note("errors", ERROR_NOTE)

    def point_opacities(self) -> np.ndarray:
        """Each dot's own opacity (1 unless shaded by :meth:`set_point_errors`)."""
        return self._points.opacities()

    def set_class_visible(self, label: int, visible: bool) -> None:
        """Show or hide the points of class ``label`` (clicking a legend entry toggles it)."""
        if visible:
            self._hidden_classes.discard(int(label))
        else:
            self._hidden_classes.add(int(label))
        self._points.set_visible_points(self._visible_mask())
        self._index = None
        self._draw_marks()
        for sample, _label in self._legend.items:  # keep the legend's eye icons in step
            if getattr(sample.item, "class_index", None) == label:
                sample.item.setVisible(visible)
                sample.update()

    def hidden_classes(self) -> set[int]:
        """Labels whose points are hidden."""
        return set(self._hidden_classes)

    def _visible_mask(self) -> np.ndarray:
        if self._labels is None or not self._hidden_classes:
            return np.ones(self._xy.shape[0], dtype=bool)
        return ~np.isin(self._labels, sorted(self._hidden_classes))

    def _on_legend_clicked(self, item) -> None:
        label = getattr(item, "class_index", None)
        if label is None:
            item.setVisible(True)  # the "… more" line stands for no single class
            return
        self.set_class_visible(label, item.isVisible())

    # ------------------------------------------------------------------- probe
    def set_probe(self, x: float, y: float) -> None:
        """Move the probe without emitting :attr:`probeMoved` (the caller already knows)."""
        self._probe.setPos(float(x), float(y))
        self._place_probe_label()

    def set_probe_level(self, level: str | None) -> None:
        """Colour the probe's ring by how far it is from the data ("on", "near", "off"; None: plain)."""
        color = theme.LEVEL_COLORS.get(level, theme.PROBE_COLOR) if level else theme.PROBE_COLOR
        if color != self._probe_color:
            self._probe_color = color
            self._probe.setPen(pg.mkPen(color, width=2))

    def probe_color(self) -> str:
        """The colour the probe's ring is drawn in now."""
        return self._probe_color

    def probe_position(self) -> tuple[float, float]:
        """Current probe position in plane coordinates."""
        pos = self._probe.pos()
        return float(pos.x()), float(pos.y())

    def _probe_limits(self) -> QRectF:
        """Where a dragged probe may go: the visible plane, a little inside its edges."""
        x0, y0, w, h = self.visible_rect()
        px, py = self._pixel_size()
        mx, my = min(PROBE_EDGE_PX * px, w / 2), min(PROBE_EDGE_PX * py, h / 2)
        return QRectF(x0 + mx, y0 + my, w - 2 * mx, h - 2 * my)

    def probe_label_rect(self) -> QRectF:
        """The probe label's rectangle in scene (pixel) coordinates."""
        label = self._probe.label()
        return label.mapRectToScene(label.boundingRect())

    def _place_probe_label(self) -> None:
        """Put the probe's label on the first side where it fits inside the view."""
        probe = getattr(self, "_probe", None)   # the range can change while the items are made
        label = probe.label() if probe is not None else None
        if label is None:
            return
        area = self._vb.sceneBoundingRect()
        for offset, anchor in LABEL_PLACES:
            self._set_label_place(label, offset, anchor)
            if area.contains(self.probe_label_rect()):
                return
        self._set_label_place(label, *LABEL_PLACES[0])   # nowhere fits (a tiny view): the usual side

    @staticmethod
    def _set_label_place(label, offset: tuple[float, float], anchor: tuple[float, float]) -> None:
        if (tuple(label.offset), tuple(label.anchor)) == (offset, anchor):
            return
        label.offset = pg.Point(*offset)
        label.setAnchor(anchor)
        label.viewTransformChanged()   # applies the offset at the current zoom

    def _on_probe_dragged(self, _item) -> None:
        if self._probe.moving:  # a drag by the user, not set_probe
            self._place_probe_label()
            x, y = self.probe_position()
            self.probeMoved.emit(x, y)

    def _on_probe_drag_finished(self, _item) -> None:
        x, y = self.probe_position()
        self.probeReleased.emit(x, y)

    def _on_left_click(self, pos: QPointF) -> None:
        index = self.point_at(pos.x(), pos.y())
        x, y = (self._xy[index, 0], self._xy[index, 1]) if index >= 0 else (pos.x(), pos.y())
        self.set_selected(index if index >= 0 else None)
        self.set_probe(x, y)
        px, py = self.probe_position()
        self.probeMoved.emit(px, py)
        self.probeReleased.emit(px, py)
        # Last, so that whatever the selection shows wins over the probe's decode.
        if index >= 0:
            self.pointSelected.emit(index)

    # ------------------------------------------------------------------- marks
    def set_marked(self, indices: np.ndarray | Sequence[int] | None) -> None:
        """Ring the points ``indices`` (e.g. the images a model learned its labels from);
        None or empty removes the rings. They follow the points until :meth:`set_points`."""
        marked = np.zeros(0, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if marked.size and (marked.min() < 0 or marked.max() >= self._xy.shape[0]):
            raise IndexError(f"marked points must lie in 0..{self._xy.shape[0] - 1}")
        self._marked = marked
        self._draw_marks()

    def marked(self) -> np.ndarray:
        """Indices of the ringed points."""
        return self._marked.copy()

    def _draw_marks(self) -> None:
        if not self._marked.size and not self._marks_drawn:
            return   # nothing drawn and nothing to draw: a re-encode skips the scatter's setData
        shown = self._marked[self._visible_mask()[self._marked]] if self._marked.size else self._marked
        self._marks.setData(self._xy[shown, 0], self._xy[shown, 1])
        self._marks_drawn = bool(shown.size)
        self._marks.setVisible(self._marks_drawn)

    # --------------------------------------------------------------- selection
    def set_selected(self, index: int | None) -> None:
        """Draw a ring around point ``index`` (None removes it)."""
        if index is None or index < 0:
            self._selected = None
            self._selection.setData([], [])
            self._selection.setVisible(False)
            return
        if index >= self._xy.shape[0]:
            raise IndexError(f"point {index} does not exist ({self._xy.shape[0]} points)")
        self._selected = int(index)
        self._selection.setData([self._xy[index, 0]], [self._xy[index, 1]])
        self._selection.setVisible(True)

    def selected(self) -> int | None:
        """Index of the point with the selection ring, or None."""
        return self._selected

    # -------------------------------------------------------------------- view
    def visible_rect(self) -> tuple[float, float, float, float]:
        """(x0, y0, w, h) of the visible part of the plane; y0 is the bottom edge."""
        r = self._vb.viewRect()
        return float(r.left()), float(r.top()), float(r.width()), float(r.height())

    def auto_range(self) -> None:
        """Fit the view to the points (finite ones); the view then follows live updates."""
        self._user_moved_view = False
        self._fit(self._xy[np.isfinite(self._xy).all(axis=1)])

    def reset_view(self) -> None:
        """Frame the points and the probe (View ▸ Reset View); the view then follows the data.

        A probe far from the points is framed too, so it is never left off-screen.
        """
        finite = self._xy[np.isfinite(self._xy).all(axis=1)]
        probe = np.array([self.probe_position()])
        shown = np.concatenate([finite, probe[np.isfinite(probe).all(axis=1)]])
        self._fit(shown)
        self._user_moved_view = False
        self._settle_view()

    def frame(self, rect: tuple[float, float, float, float]) -> None:
        """Show plane rectangle ``rect = (x0, y0, w, h)`` (e.g. the prior grid's square).

        Counts as the user's own view: live updates of the points leave it alone.
        """
        x0, y0, w, h = (float(v) for v in rect)
        if not (np.isfinite([x0, y0, w, h]).all() and w > 0 and h > 0):
            raise ValueError(f"cannot frame the rectangle {rect}")
        self._vb.setRange(xRange=(x0, x0 + w), yRange=(y0, y0 + h), padding=0.02)
        self._user_moved_view = True
        self._settle_view()

    def _fit(self, xy: np.ndarray) -> None:
        if xy.shape[0] == 0:
            return
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        mid = (lo + hi) / 2.0
        half = (hi - lo) / 2.0
        # A single point (or a collapsed axis) has no extent: show one unit around it.
        half = np.where(half <= 1e-9 * (1.0 + np.abs(mid)), 1.0, half)
        self._vb.setRange(xRange=(mid[0] - half[0], mid[0] + half[0]),
                          yRange=(mid[1] - half[1], mid[1] + half[1]), padding=0.05)

    def set_axis_names(self, x: str, y: str) -> None:
        """Label the axes (e.g. "z₀"/"z₁", "PC 1"/"PC 2")."""
        self.plotItem.setLabel("bottom", x, color=theme.MUTED)
        self.plotItem.setLabel("left", y, color=theme.MUTED)

    def _on_user_range_change(self, *_args) -> None:
        self._user_moved_view = True
        self._points.gesture()

    def _on_range_changed(self, *_args) -> None:
        self._arrow.orient()
        self._noise_arrow.orient()
        self._place_probe_label()
        self.viewChanged.emit()

    def pixels_per_unit(self) -> float:
        """Screen pixels per plane unit (the axes share one scale; the smaller if they do not).

        0 before the view has a size.
        """
        units = max(self._pixel_size())
        return 1.0 / units if units > 0 else 0.0

    def _pixel_size(self) -> tuple[float, float]:
        """Plane units per screen pixel along x and y."""
        w, h = self._vb.viewPixelSize()
        return abs(w), abs(h)

    # --------------------------------------------------------------- hovering
    def set_thumbnail_source(self, fn: ThumbnailSource | None) -> None:
        """Set ``fn(index) -> image`` used to show a hovered point's image (None: no thumbnail)."""
        self._thumbnail_source = fn
        if fn is None:
            self._thumbnail.hide()

    def hovered(self) -> int:
        """Index of the point under the mouse, or -1."""
        return self._hovered

    def thumbnail_label(self) -> ThumbnailPopup:
        """The floating label that shows the hovered point's image."""
        return self._thumbnail

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:  # noqa: N802
        super().mouseMoveEvent(ev)
        if ev.buttons() != Qt.MouseButton.NoButton:
            self._set_hovered(-1)  # dragging: the probe or the view, not hovering
            return
        pos = ev.position().toPoint()
        scene_pos = self.mapToScene(pos)
        index = -1
        if self._vb.sceneBoundingRect().contains(scene_pos):
            view_pos = self._vb.mapSceneToView(scene_pos)
            index = self.point_at(view_pos.x(), view_pos.y())
        self._set_hovered(index, pos)

    def leaveEvent(self, ev: QEvent) -> None:  # noqa: N802
        super().leaveEvent(ev)
        self._set_hovered(-1)

    def _set_hovered(self, index: int, cursor: QPoint | None = None) -> None:
        changed = index != self._hovered
        self._hovered = index
        if index < 0:
            self._thumbnail.hide()
        elif self._thumbnail_source is not None and cursor is not None:
            if changed:
                self._thumbnail.show_image(self._thumbnail_source(index))
            self._thumbnail.place_near(cursor)
        if changed:
            self.pointHovered.emit(index)

    # ------------------------------------------------------------ path, arrow
    def set_path(self, xy: np.ndarray | None, waypoints: np.ndarray | None = None) -> None:
        """Draw a polyline ``xy`` ``[M, 2]`` with markers at ``waypoints`` ``[K, 2]``."""
        if xy is None:
            self._path.setData([], [])
        else:
            line = check_xy(xy)
            self._path.setData(line[:, 0], line[:, 1])
        if waypoints is None:
            self._waypoints.setData([], [])
        else:
            marks = check_xy(waypoints)
            self._waypoints.setData(marks[:, 0], marks[:, 1])
        # Empty items are hidden: the scene then never asks them for bounds or paint (Python
        # calls on every repaint, each waiting for the interpreter while a trainer runs).
        self._path.setVisible(xy is not None and len(xy) > 0)
        self._waypoints.setVisible(waypoints is not None and len(waypoints) > 0)

    def set_arrow(self, start_xy: Sequence[float], end_xy: Sequence[float]) -> None:
        """Draw an arrow from ``start_xy`` to ``end_xy`` (plane coordinates)."""
        self._arrow.set((float(start_xy[0]), float(start_xy[1])),
                        (float(end_xy[0]), float(end_xy[1])))

    def clear_arrow(self) -> None:
        """Remove the arrow."""
        self._arrow.clear()

    def set_noise_arrow(self, ends: tuple[Sequence[float], Sequence[float]] | None) -> None:
        """Draw the denoise panel's arrow from ``ends[0]`` to ``ends[1]`` (plane coordinates);
        None removes it."""
        if ends is None:
            self._noise_arrow.clear()
        else:
            self._noise_arrow.set((float(ends[0][0]), float(ends[0][1])), (float(ends[1][0]), float(ends[1][1])))

    def noise_arrow(self) -> ArrowOverlay:
        """The denoise panel's arrow (for inspection)."""
        return self._noise_arrow

    # ------------------------------------------------------------------ mosaic
    def set_mosaic(self, image: np.ndarray, rect: tuple[float, float, float, float]) -> None:
        """Show ``image`` (HxW or HxWx3, float in [0, 1]) beneath the points.

        ``rect`` = (x0, y0, w, h) in plane coordinates; row 0 of the image is the top edge
        (largest y), as in a picture.
        """
        arr = np.asarray(image)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
            raise ValueError(f"mosaic must be [H, W] or [H, W, 3], got {arr.shape}")
        x0, y0, w, h = (float(v) for v in rect)
        if arr.dtype != np.uint8:
            arr = (np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255 + 0.5)
        # The y axis points up, ImageItem's row 0 sits at the rect's bottom: flip the rows.
        upright = np.ascontiguousarray(arr[::-1].astype(np.uint8, copy=False))
        self._mosaic.setImage(upright, levels=(0, 255), autoLevels=False)
        self._mosaic.setRect(QRectF(x0, y0, w, h))
        self._mosaic.setVisible(True)
        # Full-strength dots all but cover the decoded images beneath them.
        self._points.setOpacity(MOSAIC_POINT_OPACITY)

    def clear_mosaic(self) -> None:
        """Remove the mosaic image."""
        self._mosaic.clear()
        self._mosaic.setVisible(False)
        self._points.setOpacity(1.0)

    def mosaic_item(self) -> pg.ImageItem:
        """The ImageItem holding the mosaic (for inspection)."""
        return self._mosaic

    # ---------------------------------------------------------------- realness
    def set_realness(self, values: np.ndarray | None, rect: tuple[float, float, float, float] | None) -> None:
        """Draw the discriminator's realness ``values`` ``[H, W]`` over plane ``rect``
        (row 0 the top edge) under the points, with its legend line; None removes it."""
        if values is None or rect is None:
            self._realness.clear()
            self.set_legend_note("realness", None)
            return
        self._realness.show(values, rect)
        self.set_legend_note("realness", self._realness.note())

    def realness_layer(self) -> RealnessLayer:
        """The realness image (for inspection)."""
        return self._realness
