"""The stream view: a long series scored window by window, played back through the latent plane.

Two plain pieces that receive values and emit requests (the logic is
:class:`latentlab.gui.tools.stream.StreamController`):

* :class:`StreamPanel` (objectName ``"streamPanel"``), a dock's content: Play/Pause, the
  speed, a slider over the windows, Follow (read rows appended to the file), the series'
  description, and beneath them the reconstruction error of every window over time with a
  threshold line to drag; windows above it are marked as anomalies and counted.
* :class:`StreamOverlay`, items added to the latent plane's plot: the path of the windows'
  codes through time, the anomalous windows on it and the head (the current window).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget,
)
from superqt import QElidingLabel

from latentlab.gui.views import theme

PATH_COLOR = "#4dd0e1"      # apart from the interpolation path (theme.ACCENT) and the class colours
ANOMALY_COLOR = "#ff5252"
HEAD_COLOR = "#ffffff"
#: Windows per second the head plays at (the speed chooser's choices).
SPEEDS = (2.0, 5.0, 10.0, 25.0, 50.0)
DEFAULT_SPEED = 10.0
TRAIL = 24                  # windows drawn brightly up to the head
_Z_STREAM = 6               # over the points and the interpolation path, under the probe
EMPTY_HINT = "File ▸ Open Series… scores a long series (.csv) window by window with the sequence model on screen."


class StreamPanel(QWidget):
    """Controls and the error-over-time plot of the stream view (see the module doc).

    Signals
    -------
    playRequested(bool): Play (True) or Pause (False) was pressed.
    speedRequested(float): windows per second chosen.
    headRequested(int): the person moved to window ``i`` (slider, or a click on the plot).
    thresholdRequested(float): the threshold line was dragged to this error.
    followRequested(bool): Follow was ticked or unticked.
    scoreRequested(str): plot the windows' mean error ("error") or their worst step ("peak").
    strideRequested(int): score the series again with windows this many steps apart.
    """

    playRequested = Signal(bool)
    speedRequested = Signal(float)
    headRequested = Signal(int)
    thresholdRequested = Signal(float)
    followRequested = Signal(bool)
    scoreRequested = Signal(str)
    strideRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        theme.ensure_pyqtgraph_config()
        super().__init__(parent)
        self.setObjectName("streamPanel")
        self._starts = np.zeros(0, np.float64)
        self._errors = np.zeros(0, np.float64)
        self._playing = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        self.title = QElidingLabel(EMPTY_HINT)
        self.title.setObjectName("streamTitle")
        self.position_label = QLabel()
        self.position_label.setObjectName("streamPosition")
        self.stride_spin = QSpinBox()
        self.stride_spin.setObjectName("streamStride")
        self.stride_spin.setPrefix("every ")
        self.stride_spin.setSuffix(" steps")
        self.stride_spin.setKeyboardTracking(False)   # typed numbers count once complete
        self.stride_spin.setToolTip("Steps from one window's start to the next; fewer steps give more windows "
                                    "and a finer path (the series is scored again).")
        self.stride_spin.valueChanged.connect(self.strideRequested)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.stride_spin)
        top.addWidget(self.position_label)
        layout.addLayout(top)
        layout.addLayout(self._build_controls())
        self.message = QLabel()
        self.message.setObjectName("streamMessage")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff7070;")
        self.message.setVisible(False)
        layout.addWidget(self.message)
        layout.addWidget(self._build_plot(), 1)
        self.clear()

    # ---------------------------------------------------------------- building
    def _build_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.play_button = QPushButton("▶ Play")
        self.play_button.setObjectName("streamPlayButton")
        self.play_button.setToolTip("Play the series window by window: the head moves along the path on the "
                                    "plane and the decoded view shows each window and its reconstruction.")
        self.play_button.clicked.connect(lambda: self.playRequested.emit(not self._playing))
        row.addWidget(self.play_button)
        self.speed_combo = QComboBox()
        self.speed_combo.setObjectName("streamSpeed")
        for speed in SPEEDS:
            self.speed_combo.addItem(f"{speed:g} windows/s", speed)
        self.speed_combo.setCurrentIndex(SPEEDS.index(DEFAULT_SPEED))
        self.speed_combo.setToolTip("How many windows a second the head moves while playing.")
        self.speed_combo.currentIndexChanged.connect(
            lambda i: self.speedRequested.emit(float(self.speed_combo.itemData(i))))
        row.addWidget(self.speed_combo)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("streamSlider")
        self.slider.setToolTip("Scrub through the windows.")
        self.slider.valueChanged.connect(self.headRequested)
        self.slider.setMinimumWidth(120)
        row.addWidget(self.slider, 1)
        self.follow_check = QCheckBox("Follow")
        self.follow_check.setObjectName("streamFollow")
        self.follow_check.setToolTip("Watch the file: rows appended to it are read, their windows encoded and "
                                     "added to the path and the error curve, and the head moves to the newest.")
        self.follow_check.toggled.connect(self.followRequested)
        row.addWidget(self.follow_check)
        self.score_combo = QComboBox()
        self.score_combo.setObjectName("streamScore")
        self.score_combo.addItem("mean error", "error")
        self.score_combo.addItem("peak error", "peak")
        self.score_combo.setToolTip("The score of a window: its mean squared reconstruction error, or that of its "
                                    "worst step (a short spike that barely moves the mean stands out).")
        self.score_combo.currentIndexChanged.connect(self._on_score_chosen)
        row.addWidget(self.score_combo)
        self.anomaly_label = QLabel()
        self.anomaly_label.setObjectName("streamAnomalies")
        self.anomaly_label.setToolTip("Windows whose reconstruction error is above the threshold line; drag the "
                                      "line on the plot to change it.")
        row.addWidget(self.anomaly_label)
        return row

    def _build_plot(self) -> pg.PlotWidget:
        plot = self.plot = pg.PlotWidget(background=theme.BACKGROUND)
        plot.setObjectName("streamErrorPlot")
        item = plot.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setLabel("bottom", "step")
        item.setLabel("left", "mean error")
        for name in ("bottom", "left"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(theme.GRID))
            axis.setTextPen(pg.mkPen(theme.MUTED))
        item.getViewBox().setMouseEnabled(x=True, y=False)
        self.curve = pg.PlotCurveItem(pen=pg.mkPen(PATH_COLOR, width=1.2))
        self.marks = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(ANOMALY_COLOR))
        self.head_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(HEAD_COLOR, width=1))
        self.threshold_line = pg.InfiniteLine(
            angle=0, movable=True, pen=pg.mkPen(ANOMALY_COLOR, width=1.5, style=Qt.PenStyle.DashLine),
            hoverPen=pg.mkPen(ANOMALY_COLOR, width=3), label="threshold {value:.3g}",
            labelOpts={"color": ANOMALY_COLOR, "position": 0.02, "anchors": [(0, 0), (0, 0)]})
        self.threshold_line.setToolTip("Drag to change the anomaly threshold.")
        self.threshold_line.sigPositionChangeFinished.connect(
            lambda line: self.thresholdRequested.emit(float(line.value())))
        self.threshold_line.sigDragged.connect(lambda line: self.thresholdRequested.emit(float(line.value())))
        for it in (self.curve, self.marks, self.head_line, self.threshold_line):
            item.addItem(it)
        plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        return plot

    # ---------------------------------------------------------------- showing values
    def clear(self, message: str = "") -> None:
        """No series: the hint, empty plot, disabled controls (``message`` in red if given)."""
        self._starts = np.zeros(0, np.float64)
        self._errors = np.zeros(0, np.float64)
        self.title.setText(EMPTY_HINT)
        self.curve.setData([], [])
        self.marks.setData([], [])
        self.head_line.setVisible(False)
        self.threshold_line.setVisible(False)
        self.anomaly_label.setText("")
        self.position_label.setText("")
        self.set_playing(False)
        self.set_following(False)
        self._set_slider(0, 0)
        for w in (self.play_button, self.speed_combo, self.slider, self.follow_check, self.score_combo,
                  self.stride_spin):
            w.setEnabled(False)
        self.show_message(message)

    def set_stride(self, stride: int, window: int) -> None:
        """Windows ``stride`` steps apart (1 to ``window``); the spin box shows it without asking for it."""
        self.stride_spin.blockSignals(True)
        self.stride_spin.setRange(1, max(int(window), 1))
        self.stride_spin.setValue(int(stride))
        self.stride_spin.blockSignals(False)

    def set_series(self, title: str, followable: bool) -> None:
        """A series is open: its description; Follow only for a file."""
        self.title.setText(title)
        self.title.setToolTip(title)
        for w in (self.play_button, self.speed_combo, self.slider, self.score_combo, self.stride_spin):
            w.setEnabled(True)
        self.follow_check.setEnabled(followable)
        if not followable:
            self.set_following(False)
        self.show_message("")

    def set_scores(self, starts: np.ndarray, errors: np.ndarray) -> None:
        """The windows' start steps ``[N]`` and reconstruction errors ``[N]`` (all so far)."""
        self._starts = np.asarray(starts, np.float64)
        self._errors = np.asarray(errors, np.float64)
        self.curve.setData(self._starts, self._errors)
        self._set_slider(self.slider.value(), max(len(self._starts) - 1, 0))
        self.threshold_line.setVisible(len(self._starts) > 0)
        self.head_line.setVisible(len(self._starts) > 0)
        self.plot.getPlotItem().getViewBox().autoRange(padding=0.04)

    def set_threshold(self, value: float, anomalous: np.ndarray) -> None:
        """The threshold line at ``value``; ``anomalous`` ``[N]`` marks the windows above it."""
        line = self.threshold_line
        if not line.moving and line.value() != value:
            line.setValue(float(value))   # only a drag emits the signals that request a threshold
        mask = np.asarray(anomalous, bool)
        self.marks.setData(self._starts[mask], self._errors[mask])
        count, n = int(mask.sum()), len(mask)
        self.anomaly_label.setText(f"{count} anomal{'y' if count == 1 else 'ies'} of {n}")

    def set_head(self, index: int, text: str) -> None:
        """The head at window ``index``; ``text`` describes it beside the slider."""
        self._set_slider(index, self.slider.maximum())
        if 0 <= index < len(self._starts):
            self.head_line.setValue(float(self._starts[index]))
        self.position_label.setText(text)

    def set_playing(self, playing: bool) -> None:
        self._playing = bool(playing)
        self.play_button.setText("❚❚ Pause" if playing else "▶ Play")

    def set_following(self, following: bool) -> None:
        self.follow_check.blockSignals(True)
        self.follow_check.setChecked(bool(following))
        self.follow_check.blockSignals(False)

    def show_message(self, text: str) -> None:
        """A problem with the series (e.g. the followed file was truncated), in red; "" hides it."""
        self.message.setText(text)
        self.message.setVisible(bool(text))

    # ---------------------------------------------------------------- reading back (tests, captions)
    def is_playing(self) -> bool:
        return self._playing

    def threshold(self) -> float:
        return float(self.threshold_line.value())

    def marked_starts(self) -> np.ndarray:
        """The start steps of the windows marked as anomalies on the plot."""
        x, _ = self.marks.getData()
        return np.zeros(0) if x is None else np.asarray(x)

    # ---------------------------------------------------------------- input
    def _set_slider(self, value: int, maximum: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(int(maximum), 0))
        self.slider.setValue(int(value))
        self.slider.blockSignals(False)

    def _on_score_chosen(self, row: int) -> None:
        self.plot.getPlotItem().setLabel("left", self.score_combo.itemText(row))
        self.scoreRequested.emit(str(self.score_combo.itemData(row)))

    def _on_plot_clicked(self, event) -> None:
        # A click on the plot moves the head to the window starting nearest to it.
        if len(self._starts) == 0 or event.button() != Qt.MouseButton.LeftButton:
            return
        box = self.plot.getPlotItem().getViewBox()
        if not box.sceneBoundingRect().contains(event.scenePos()):
            return
        x = box.mapSceneToView(event.scenePos()).x()
        self.headRequested.emit(int(np.argmin(np.abs(self._starts - x))))


class StreamOverlay:
    """The stream's items on the latent plane's plot: the path, the anomalies and the head.

    The whole path is drawn faintly (a long series fills the plane) and the last
    :data:`TRAIL` windows up to the head brightly, so playing shows where the series goes.
    """

    def __init__(self, plot_item: pg.PlotItem) -> None:
        self.path = pg.PlotCurveItem(pen=pg.mkPen(theme.qcolor(PATH_COLOR, 110), width=1.0))
        self.trail = pg.PlotCurveItem(pen=pg.mkPen(PATH_COLOR, width=2.0))
        self.anomalies = pg.ScatterPlotItem(size=7, pen=None, brush=pg.mkBrush(ANOMALY_COLOR))
        self.head = pg.ScatterPlotItem(size=13, pen=pg.mkPen(HEAD_COLOR, width=2), brush=pg.mkBrush(PATH_COLOR))
        self._xy = np.zeros((0, 2), np.float64)
        self._head = -1
        for z, item in enumerate((self.path, self.trail, self.anomalies, self.head)):
            item.setZValue(_Z_STREAM + z * 0.1)
            plot_item.addItem(item)

    def set_path(self, xy: np.ndarray | None) -> None:
        """The codes of every window, in time order, on the plane ``[N, 2]`` (None: none)."""
        self._xy = np.zeros((0, 2), np.float64) if xy is None else np.asarray(xy, np.float64).reshape(-1, 2)
        self.path.setData(self._xy[:, 0], self._xy[:, 1])
        self._draw_trail()

    def set_head_index(self, index: int) -> None:
        """The head is at window ``index`` of the path: the trail leads up to it."""
        self._head = int(index)
        self._draw_trail()
        if 0 <= index < len(self._xy):
            self.set_head(tuple(self._xy[index]))

    def _draw_trail(self) -> None:
        if not 0 <= self._head < len(self._xy):
            self.trail.setData([], [])
            return
        part = self._xy[max(0, self._head - TRAIL + 1):self._head + 1]
        self.trail.setData(part[:, 0], part[:, 1])

    def set_anomalies(self, xy: np.ndarray | None) -> None:
        if xy is None or len(xy) == 0:
            self.anomalies.setData([], [])
        else:
            self.anomalies.setData(np.asarray(xy[:, 0], np.float64), np.asarray(xy[:, 1], np.float64))

    def set_head(self, xy: tuple[float, float] | None) -> None:
        if xy is None:
            self.head.setData([], [])
        else:
            self.head.setData([float(xy[0])], [float(xy[1])])

    def path_xy(self) -> np.ndarray:
        """The path drawn now ``[N, 2]``."""
        x, y = self.path.getData()
        return np.zeros((0, 2)) if x is None else np.stack([x, y], axis=1)

    def head_xy(self) -> tuple[float, float] | None:
        x, y = self.head.getData()
        return None if x is None or len(x) == 0 else (float(x[0]), float(y[0]))

    def clear(self) -> None:
        self._head = -1
        self.set_path(None)
        self.set_anomalies(None)
        self.set_head(None)
