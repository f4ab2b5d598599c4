"""Sample quality while training: the FD curve, class coverage, warnings and a status-bar badge.

:class:`QualityView` shows a quality state (``gui/quality_watch.py``'s ``QualityState``, read
by its fields): a headline with the newest sample FD, the classes covered and the class
entropy, the best epoch so far; a curve of the FD over epochs (lower is better) over bars of
the classes covered on a right-hand axis, so a collapse shows as shrinking bars; and
warnings with what to try. Its :attr:`~QualityView.badge` is a small button for the status
bar that carries the headline (and a warning sign) wherever the dock is; clicking it, or a
new warning, emits ``showRequested``. :func:`ask_use_best` is the window's question at the
end of a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QMessageBox, QScrollArea, QToolButton, QVBoxLayout, QWidget
from superqt import QElidingLabel

from latentlab.gui.views import theme
from latentlab.gui.views.formatting import is_number

FD_COLOUR = "#f0c674"
BEST_COLOUR = "#7ee08a"
BAR_COLOUR = "#2f4468"   # a muted blue: the bars stay behind the FD curve
WARNING_STYLE = ("QLabel { background: #fff1c2; color: #4a3500; border: 1px solid #d9a300; "
                 "border-radius: 3px; padding: 4px; }")
BADGE_WARNING_STYLE = "QToolButton { color: #8a4b00; font-weight: bold; }"
WARNING_SIGN = "⚠"
WARNING_LINES = 4   # the warnings' height before they scroll


def format_fd(fd: float) -> str:
    """An FD with one decimal below 1,000, none above (the decimals are noise there)."""
    if not is_number(fd):
        return "—"
    return f"{fd:.1f}" if abs(fd) < 1000 else f"{fd:.0f}"


def headline(state: Any) -> str:
    """"Sample FD 41.2 · 9/10 classes · entropy 2.19 (epoch 7) · best 38.0 at epoch 5"."""
    m = state.latest
    if m is None:
        return "Sample quality: measuring…" if state.measuring is not None else "Sample quality: not measured yet."
    text = (f"Sample FD {format_fd(m.sample_fd)} · {m.class_coverage}/{m.num_classes} classes · "
            f"entropy {m.class_entropy:.2f} (epoch {m.epoch})")
    best = state.best
    if best is not None and best is not m and best.epoch != m.epoch:
        text += f" · best {format_fd(best.sample_fd)} at epoch {best.epoch}"
    return text


def badge_text(state: Any) -> str:
    """The status bar's short form: "FD 41.2 · 9/10 classes", with a warning sign when warned."""
    m = state.latest
    text = "" if m is None else f"FD {format_fd(m.sample_fd)} · {m.class_coverage}/{m.num_classes} classes"
    if state.warnings:
        text = f"{WARNING_SIGN} {text or 'Training warning'}"
    return text


class QualityView(QWidget):
    """The sample-quality display (see the module doc); :meth:`show_quality` takes a state."""

    showRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        theme.ensure_pyqtgraph_config()
        self.setObjectName("qualityView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        self.headline = QLabel()
        self.headline.setObjectName("qualityHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warning = QLabel()
        self.warning.setObjectName("qualityWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.warning.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # In a short dock the curve keeps its room: the warnings scroll beyond a few lines.
        self.warning_area = QScrollArea()
        self.warning_area.setObjectName("qualityWarningArea")
        self.warning_area.setWidget(self.warning)
        self.warning_area.setWidgetResizable(True)
        self.warning_area.setFrameShape(QFrame.Shape.NoFrame)
        self.warning_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.warning_area.setMaximumHeight(self.fontMetrics().lineSpacing() * WARNING_LINES + 12)
        self.warning_area.hide()
        self.note = QElidingLabel()
        self.note.setObjectName("qualityNote")
        self.note.setStyleSheet(f"color: {theme.MUTED};")
        self.plot = self._build_plot()
        layout.addWidget(self.headline)
        layout.addWidget(self.warning_area)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.note)
        self.badge = QToolButton()
        self.badge.setObjectName("qualityBadge")
        self.badge.setAutoRaise(True)
        self.badge.setToolTip("Sample quality of the model in training: Fréchet distance (lower is better) "
                              "and the digit classes its samples cover. Click to show the curve.")
        self.badge.clicked.connect(self.showRequested)
        # One height whatever it says: the status bar sizes itself to its widgets, hidden ones
        # too, so a badge whose height followed its text would move the whole window's layout
        # (the plane included, a costly frame mid-drag) when the first measurement arrives.
        self.badge.setText(f"{WARNING_SIGN} FD 0 · 0/10 classes")
        self.badge.setFixedHeight(self.badge.sizeHint().height())
        self.badge.setText("")
        self.badge.hide()
        self._state: Any = None
        self._warnings: tuple[str, ...] = ()
        self._drawn: Any = None   # the measurements and the marked one the plot shows
        self.show_quality(None)

    def _build_plot(self) -> pg.PlotWidget:
        plot = pg.PlotWidget(background=theme.BACKGROUND)
        plot.setObjectName("qualityPlot")
        plot.setMinimumHeight(90)
        plot.setToolTip("Sample FD per epoch (line, left axis; lower is better) and the classes its "
                        "samples cover (bars, right axis). The green ring marks the best epoch.")
        item = plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setLabel("bottom", "epoch", color=theme.FOREGROUND)
        item.setLabel("left", "sample FD", color=theme.FOREGROUND)
        item.showAxis("right")
        item.setLabel("right", "classes", color=theme.FOREGROUND)
        for name in ("bottom", "left", "right"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(theme.FOREGROUND))
            axis.setTextPen(pg.mkPen(theme.FOREGROUND))
            axis.enableAutoSIPrefix(False)
        # No grid: the coverage bars' view box lies beneath the whole plot item, so grid lines
        # would stripe the bars. They live in that second view box on the right axis (0 to the class count).
        self._bars_box = pg.ViewBox()
        self._bars_box.setMouseEnabled(x=False, y=False)
        item.scene().addItem(self._bars_box)
        item.getAxis("right").linkToView(self._bars_box)
        self._bars_box.setXLink(item)
        self._bars_box.setZValue(-1)   # beneath the plot item and so beneath the FD curve
        item.getViewBox().sigResized.connect(self._fit_bars_box)
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush=pg.mkBrush(BAR_COLOUR), pen=pg.mkPen(None))
        self._bars_box.addItem(self._bars)
        self._curve = item.plot([], [], pen=pg.mkPen(FD_COLOUR, width=1.5), symbol="o", symbolSize=6,
                                symbolBrush=FD_COLOUR, symbolPen=pg.mkPen(theme.BACKGROUND))
        self._best = item.plot([], [], pen=None, symbol="o", symbolSize=13, symbolBrush=None,
                               symbolPen=pg.mkPen(BEST_COLOUR, width=2))
        return plot

    def _fit_bars_box(self, *_: Any) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        self._bars_box.setGeometry(vb.sceneBoundingRect())
        self._bars_box.linkedViewChanged(vb, self._bars_box.XAxis)

    # -- showing ----------------------------------------------------------------------------
    def show_quality(self, state: Any) -> None:
        """Show a quality state (None: nothing measured, nothing to say)."""
        self._state = state
        if state is None:
            self.headline.setText("Sample quality: not measured.")
            self.note.setText("")
            self._show_points((), None)
            self._show_warnings(())
            self.badge.hide()
            return
        self.headline.setText(headline(state))
        measuring = f"Measuring epoch {state.measuring}… " if state.measuring is not None else ""
        self.note.setText(measuring + state.note)
        self._show_points(state.points, state.chosen or state.best)
        self._show_warnings(state.warnings)
        text = badge_text(state)
        self.badge.setText(text)
        self.badge.setStyleSheet(BADGE_WARNING_STYLE if state.warnings else "")
        self.badge.setVisible(bool(text))

    def _show_points(self, points: Any, marked: Any) -> None:
        drawn = (tuple(points), marked)
        if drawn == self._drawn:
            return   # a new note over the same measurements (one is being taken): nothing to redraw
        self._drawn = drawn
        epochs = np.array([p.epoch for p in points], dtype=np.float64)
        fds = np.array([p.sample_fd for p in points], dtype=np.float64)
        self._curve.setData(epochs, fds)
        if marked is not None:
            self._best.setData([float(marked.epoch)], [float(marked.sample_fd)])
        else:
            self._best.setData([], [])
        covered = np.array([p.class_coverage for p in points], dtype=np.float64)
        classes = max([p.num_classes for p in points], default=10)
        self._bars.setOpts(x=epochs, height=covered, width=0.6)
        self._bars_box.setYRange(0, classes, padding=0.02)
        half = classes // 2
        self.plot.getPlotItem().getAxis("right").setTicks([[(0, "0"), (half, str(half)), (classes, str(classes))]])
        item = self.plot.getPlotItem()
        if len(epochs):
            low = epochs.min() - 0.5
            item.setXRange(low, max(epochs.max() + 0.5, low + 2), padding=0)
            item.setYRange(0, max(fds.max() * 1.1, 1.0), padding=0)
        self._fit_bars_box()

    def _show_warnings(self, warnings: Any) -> None:
        new = [w for w in warnings if w not in self._warnings]
        self._warnings = tuple(warnings)
        text = "\n\n".join(f"{WARNING_SIGN} {w}" for w in warnings)
        self.warning.setText(text)
        self.warning_area.setVisible(bool(text))
        if new:
            self.showRequested.emit()   # a new warning brings the display forward, once

    # -- for tests and callers ----------------------------------------------------------------
    def headline_text(self) -> str:
        return self.headline.text()

    def warning_text(self) -> str:
        """The warnings shown ("" when none)."""
        return self.warning.text() if not self.warning_area.isHidden() else ""

    def curve_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The FD curve's epochs and values as drawn."""
        x, y = self._curve.getData()
        return (np.array([]) if x is None else np.asarray(x)), (np.array([]) if y is None else np.asarray(y))

    def coverage_bars(self) -> tuple[np.ndarray, np.ndarray]:
        """The coverage bars' epochs and heights as drawn."""
        opts = self._bars.opts
        return np.asarray(opts["x"], dtype=np.float64), np.asarray(opts["height"], dtype=np.float64)


def ask_use_best(parent: QWidget, text: str, answered: Callable[[bool], None]) -> QMessageBox:
    """Ask (without blocking: the person may look at the final model first) whether to use the
    best snapshot; ``answered(True)`` for "Use the best snapshot", False for "Keep the final".
    Returns the dialog (objectName ``"bestSnapshotDialog"``)."""
    box = QMessageBox(parent)
    box.setObjectName("bestSnapshotDialog")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Best snapshot")
    box.setText(text)
    use = box.addButton("Use the best snapshot", QMessageBox.ButtonRole.AcceptRole)
    keep = box.addButton("Keep the final", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(use)
    box.setEscapeButton(keep)
    box.setWindowModality(Qt.WindowModality.NonModal)
    box.finished.connect(lambda _result: (answered(box.clickedButton() is use), box.deleteLater()))
    box.show()
    return box
