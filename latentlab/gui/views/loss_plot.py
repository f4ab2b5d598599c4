"""Live loss curves of every term a family reports, training (solid) and validation (dashed).

A VAE reports total, reconstruction and KL; other families report their own terms (a GAN its
discriminator and generator losses): a term's curves and its key entry appear with its first
value, and :meth:`LossPlot.clear` starts the next run with no terms.

Points arrive a few times a second for the whole run, so each series keeps numpy buffers
that grow by doubling and hands pyqtgraph a slice of them; curve items are made once.
Appends made together (one flush of progress reports) are drawn together: each changed
curve gets one ``setData`` when control returns to the event loop, not one per point.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from latentlab.gui.views import theme
from latentlab.gui.views.formatting import is_number
from latentlab.gui.views.side_legend import add_side_legend

TERMS = ("loss", "recon", "kl")   # the autoencoder families' terms, in their usual order
SPLITS = ("train", "val")
# Validation's −ELBO restates the total of a VAE: one more curve on top of it only clutters.
HIDDEN_TERMS = ("neg_elbo",)
BACKGROUND = "#15171c"
FOREGROUND = "#c8ccd4"
# One hue per term, readable on the dark background; the split is told by the line style.
TERM_COLOURS = {"loss": "#f0c674", "recon": "#5fb3f0", "kl": "#e36bbd"}
TERM_LABELS = {"loss": "total", "recon": "recon", "kl": "KL"}
# Colours for the terms of other families, handed out in order of appearance.
EXTRA_COLOURS = ("#8abeb7", "#b294bb", "#de935f", "#b5bd68", "#cc6666", "#81a2be", "#f5a97f", "#a3be8c")
SPLIT_LABELS = {"train": "training", "val": "validation"}
KEY_COLOUR = "#9aa0ab"   # the split entries of the key show a line style, not a term's colour
LEGEND_MIN_WIDTH_PX = 320
_INITIAL_CAPACITY = 256
# Peak-preserving downsampling pays off once a series has more points than the plot has
# pixels across; below that it only adds work to every range change (each one re-feeds
# every curve), so it is switched on only for long runs.
_DOWNSAMPLE_ABOVE = 4000


def _style(split: str, colour: str) -> dict[str, Any]:
    """Plot options of a curve: solid for training, dashed with dots for validation."""
    if split == "train":
        return {"pen": pg.mkPen(colour, width=1.5)}
    return {"pen": pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine),
            "symbol": "o", "symbolSize": 6, "symbolBrush": colour, "symbolPen": pg.mkPen(BACKGROUND)}


class _Series:
    """x/y values in buffers that double when full, so an append is amortised O(1)."""

    def __init__(self) -> None:
        self.x = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self.y = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == self.x.size:
            # New arrays rather than in-place resize: pyqtgraph may still hold a view.
            self.x = np.concatenate([self.x, np.empty_like(self.x)])
            self.y = np.concatenate([self.y, np.empty_like(self.y)])
        self.x[self.n] = x
        self.y[self.n] = y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n], self.y[: self.n]


class LossPlot(pg.PlotWidget):
    """Loss curves over (fractional) epochs, in nats per example.

    Series are named ``"<split>/<term>"``: ``"train/loss"``, ``"val/kl"`` and so on.
    Missing or non-finite terms are skipped (an AE has no KL; a diverged step is not drawn).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=BACKGROUND, axisItems=theme.flat_grid_axes(BACKGROUND))
        # PlotWidget binds plotItem.clear (which removes every item) onto the instance;
        # drop it so clear() is ours and only empties the series.
        del self.clear
        self.setObjectName("lossPlot")
        self.setToolTip("Training (solid) and validation (dashed) loss; right-click for a log scale.")
        item = self.getPlotItem()
        item.setLabel("bottom", "epoch", color=FOREGROUND)
        item.setLabel("left", "nats / example", color=FOREGROUND)
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(FOREGROUND))
            axis.setTextPen(pg.mkPen(FOREGROUND))
            # Values as they are: a "(x0.001)" beside the unit is easily missed and misread.
            axis.enableAutoSIPrefix(False)
        theme.use_flat_grid(item, alpha=0.15)
        # No clip-to-view: the curves auto-range, so all of each is always in view anyway.
        item.setClipToView(False)
        self._downsampling = False
        item.setMenuEnabled(True)
        # The x axis spans the run (0 to its epochs), not the data's own extent: one epoch's
        # points all sit at x = 1, which auto-ranging turns into a meaningless span.
        self._epochs: int | None = None
        self._x_by_user = False
        vb = item.getViewBox()
        vb.disableAutoRange(axis=pg.ViewBox.XAxis)
        vb.sigRangeChangedManually.connect(self._on_user_range)
        self._series: dict[str, _Series] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._terms: list[str] = []        # every term with curves, in order of appearance
        self._shown_terms: list[str] = []  # the terms of the run on screen (those in the key)
        self._dirty: set[str] = set()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self.redraw_now)
        self._keys: dict[str, pg.PlotDataItem] = {}
        self._legend = self._make_legend(item)
        if any([self._ensure_term(term) for term in TERMS]):
            self._fill_legend()
        self._update_x_range()
        self._log_action = QAction("Log scale (y)", self)
        self._log_action.setCheckable(True)
        self._log_action.toggled.connect(self._apply_log_y)
        item.getViewBox().menu.addSeparator()
        item.getViewBox().menu.addAction(self._log_action)
        # pyqtgraph's own "Plot Options > Log Y" box must keep our action in step.
        item.ctrl.logYCheck.toggled.connect(self._log_action.setChecked)

    def _colour(self, term: str) -> str:
        extra = [t for t in self._terms if t not in TERM_COLOURS]
        index = extra.index(term) if term in extra else len(extra)
        return TERM_COLOURS.get(term) or EXTRA_COLOURS[index % len(EXTRA_COLOURS)]

    def _ensure_term(self, term: str) -> bool:
        """Curves and a key entry for ``term`` (made once), and the term listed for the key;
        True when the key must be filled again (:meth:`_fill_legend`, once for all new terms:
        each fill rebuilds every entry, several milliseconds on the GUI thread)."""
        if term not in self._terms:
            colour = self._colour(term)
            self._terms.append(term)
            for split in SPLITS:
                name = f"{split}/{term}"
                curve = pg.PlotDataItem([], [], **_style(split, colour))
                self.getPlotItem().addItem(curve)
                self._series[name] = _Series()
                self._curves[name] = curve
            self._keys[term] = pg.PlotDataItem([], [], pen=pg.mkPen(colour, width=2.5))
        if term not in self._shown_terms:
            self._shown_terms.append(term)
            return True
        return False

    def _make_legend(self, item: pg.PlotItem) -> pg.LegendItem:
        """A compact key beside the curves: one line per term (colour) and per split (style).

        The colour names the term, the line style the split. Clicking an entry hides or shows
        every curve it stands for.
        """
        legend = add_side_legend(item, labelTextColor=FOREGROUND, labelTextSize="8pt", verSpacing=-6,
                                 brush=None, pen=None)
        for split in SPLITS:
            self._keys[split] = pg.PlotDataItem([], [], **_style(split, KEY_COLOUR))
        legend.sigSampleClicked.connect(self._apply_visibility)
        return legend

    def _fill_legend(self) -> None:
        """The key lists the run's terms, then the two splits."""
        self._legend.clear()
        for term in self._shown_terms:
            self._legend.addItem(self._keys[term], TERM_LABELS.get(term, term.replace("_", " ")))
        for split in SPLITS:
            self._legend.addItem(self._keys[split], SPLIT_LABELS[split])

    def _apply_visibility(self, *_args: object) -> None:
        for split in SPLITS:
            for term in self._terms:
                shown = self._keys[split].isVisible() and self._keys[term].isVisible()
                self._curves[f"{split}/{term}"].setVisible(shown)

    def terms(self) -> tuple[str, ...]:
        """The terms of the run on screen, in the order of the key."""
        return tuple(self._shown_terms)

    def legend(self) -> pg.LegendItem:
        """The key beside the curves (for tests and styling)."""
        return self._legend

    def resizeEvent(self, ev) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(ev)
        # In a narrow dock the key would take the room the curves need. (The base class
        # resizes once before __init__ has made the key, and once more while closing,
        # after the scene has deleted it.)
        legend = self.__dict__.get("_legend")
        if legend is not None and shiboken6.isValid(legend):
            legend.setVisible(self.width() >= LEGEND_MIN_WIDTH_PX)

    # ---------------------------------------------------------------- x range
    def set_epochs(self, epochs: int | None) -> None:
        """The length of the run being drawn: the x axis spans 0 to ``epochs`` (None: the data)."""
        self._epochs = int(epochs) if is_number(epochs) and epochs > 0 else None   # type: ignore[operator]
        self._update_x_range()

    def _on_user_range(self, *_args: object) -> None:
        self._x_by_user = True   # the person zoomed or panned: leave the x axis to them

    def _update_x_range(self) -> None:
        if self._x_by_user:
            return
        x_max = max((float(series.x[: series.n].max()) for series in self._series.values() if series.n),
                    default=0.0)
        right = max(1.0, x_max, float(self._epochs or 0))
        self.getPlotItem().getViewBox().setXRange(0.0, right, padding=0.04)

    # ---------------------------------------------------------------- appends
    def add_train(self, epoch_float: float, terms: dict[str, float]) -> None:
        """Add one training point at ``epoch_float`` (e.g. 2.5 = half-way through epoch 3)."""
        self._add("train", epoch_float, terms)

    def add_val(self, epoch: float, terms: dict[str, float]) -> None:
        """Add one validation point, normally at the end of an epoch."""
        self._add("val", epoch, terms)

    def _add(self, split: str, x: float, terms: dict[str, float]) -> None:
        if not is_number(x) or not isinstance(terms, dict):
            return
        new_keys = False
        for term, value in terms.items():
            if isinstance(term, str) and term not in HIDDEN_TERMS and is_number(value):
                new_keys = self._ensure_term(term) or new_keys
                name = f"{split}/{term}"
                self._series[name].append(float(x), float(value))  # type: ignore[arg-type]
                self._dirty.add(name)
        if new_keys:
            self._fill_legend()
        if self._dirty and not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def redraw_now(self) -> None:
        """Hand every changed series to its curve now instead of at the next event-loop turn."""
        self._redraw_timer.stop()
        dirty, self._dirty = self._dirty, set()
        if not dirty:
            return
        longest = max(series.n for series in self._series.values())
        if (longest > _DOWNSAMPLE_ABOVE) != self._downsampling:
            self._downsampling = not self._downsampling
            self.getPlotItem().setDownsampling(auto=self._downsampling, mode="peak")
        for name in dirty:
            x, y = self._series[name].view()
            # Only finite numbers are ever appended: skip pyqtgraph's own scan for NaNs.
            self._curves[name].setData(x, y, skipFiniteCheck=True)
        self._update_x_range()
        # pyqtgraph defers the auto-range and the view matrix to the start of the next
        # paint; changed there, they dirty the scene again and cost a second full paint.
        # Settling them now makes one paint per redraw.
        self.getPlotItem().getViewBox().prepareForPaint()

    # ---------------------------------------------------------------- whole-plot
    def clear(self) -> None:
        """Forget every point, the run's terms and its length (the curve items stay, empty)."""
        self._epochs = None
        self._x_by_user = False
        self._shown_terms = []
        self._fill_legend()
        for name, series in self._series.items():
            series.clear()
            self._dirty.add(name)
        self.redraw_now()

    def load_history(self, history: list[dict[str, Any]]) -> None:
        """Replace the curves with a saved history: one dict per epoch.

        Each entry looks like ``{"epoch": 3, "train": {"loss": …, "recon": …}, "val": {...}}``;
        both points go at x = epoch (the end of that epoch). Malformed entries are skipped.
        """
        self.clear()
        for entry in history if isinstance(history, list) else []:
            if not isinstance(entry, dict) or not is_number(entry.get("epoch")):
                continue
            for split in SPLITS:
                terms = entry.get(split)
                if isinstance(terms, dict):
                    self._add(split, float(entry["epoch"]), terms)
        self.redraw_now()

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the x and y values of one series, e.g. ``"train/loss"`` or ``"val/kl"``."""
        if name not in self._series:
            raise KeyError(f"no series {name!r}; known: {', '.join(self._series)}")
        x, y = self._series[name].view()
        return x.copy(), y.copy()

    def curve(self, name: str) -> pg.PlotDataItem:
        """The plot item drawing one series (for styling or tests); up to date with every append."""
        self.redraw_now()
        return self._curves[name]

    # ---------------------------------------------------------------- log scale
    def log_y(self) -> bool:
        """Whether the y axis is logarithmic."""
        return self._log_action.isChecked()

    def set_log_y(self, on: bool) -> None:
        """Switch the y axis between linear (default) and logarithmic."""
        self._log_action.setChecked(bool(on))

    def _apply_log_y(self, on: bool) -> None:
        self.getPlotItem().setLogMode(x=False, y=on)
