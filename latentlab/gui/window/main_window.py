"""The main window: the latent plane in the centre, the decoded image on the right,
training, loss curves and the latent tools in docks.

This module does not import torch: the window is built and painted first, and a
:class:`~latentlab.gui.session.Session` is attached once torch has loaded
(:meth:`MainWindow.attach_session`); the latent tools (:mod:`.window_tools`) come with it.
Menus and file actions live in :mod:`.window_menus`, the side panel in :mod:`.window_panels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from PySide6.QtCore import QByteArray, Qt, QThread
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QSplitter, QWidget

from latentlab.gui import settings as prefs
from latentlab.gui.views.dialogs import show_error
from latentlab.gui.views.loss_plot import LossPlot
from latentlab.gui.views.plane_view import LatentPlaneView
from latentlab.gui.views.training_panel import TrainingPanel
from latentlab.gui.window.window_menus import WindowMenusMixin
from latentlab.gui.window.window_training import WindowTrainingMixin
from latentlab.gui.window.window_panels import (
    LatentSidePanel, axis_names, empty_xy, item_text, panel_data_settings, scrolling,
)

if TYPE_CHECKING:
    from latentlab.gui.session import Session
    from latentlab.gui.window.window_tools import WindowTools

APP_TITLE = "LatentLab"
READY_HINT = ("Drag the probe ✛ or click anywhere on the plane to decode that point · "
              "Shift+click a point to add it to the interpolation path")
NO_MODEL_HINT = "No model yet. Press Start to train one."
STATUS_MS = 8000          # how long a passing message shows before the hint returns
DEFAULT_SIZE = (1400, 900)
# Bump when the docks change: a layout saved by an older version is then ignored, not misapplied.
LAYOUT_VERSION = 3
SCREEN_FRACTION = 0.9     # first run: at most this much of the screen


class MainWindow(WindowMenusMixin, WindowTrainingMixin, QMainWindow):
    """LatentLab's window. Works as an empty shell until :meth:`attach_session`."""

    def __init__(self, session: Session | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.session: Session | None = None
        self.tools: WindowTools | None = None
        self.manifold: Any = None
        self.probe: Any = None
        self._points_key: Any = None
        self._helper_threads: list[QThread] = []
        self.startup_thread: QThread | None = None
        self.closed = False
        self.shutdown_clean = True
        self._init_loss_buffer()
        self._hover_text = ""
        self._build_widgets()
        self._build_menus()
        self.hint_label = QLabel()
        self.hint_label.setObjectName("statusHint")
        self.statusBar().addWidget(self.hint_label, 1)   # shows whenever no message is passing
        self.setAcceptDrops(True)
        self._restore_layout()
        self._update_title()
        if session is not None:
            self.attach_session(session)
        else:
            self.show_loading("Loading the model…")

    # -- building ---------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.plane = LatentPlaneView()
        self.side = LatentSidePanel()
        self.decoded, self.zbars = self.side.decoded, self.side.zbars
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("centralSplitter")
        splitter.addWidget(self.plane)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([860, 340])
        self.setCentralWidget(splitter)
        self.training_panel = TrainingPanel()
        self.loss_plot = LossPlot()
        self.training_dock = self.add_dock("Training", "trainingDock", scrolling(self.training_panel),
                                        Qt.DockWidgetArea.LeftDockWidgetArea)
        self.loss_dock = self.add_dock("Loss", "lossDock", self.loss_plot, Qt.DockWidgetArea.BottomDockWidgetArea)
        # The training panel runs the full height; the curves and tools sit under the plane only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        saved = prefs.last_training_settings()
        if saved:
            self.training_panel.apply_settings(saved)

    def add_dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Put ``widget`` in a dock called ``title``; ``name`` lets saveState() find it again."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)   # saveState() needs object names to restore the layout
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- session wiring -----------------------------------------------------------------
    def attach_session(self, session: Session) -> None:
        """Connect a session (needs torch) to the widgets; called once."""
        from latentlab.gui.manifold import ManifoldController, ProbeController

        self.session = session
        session.modelChanged.connect(self._on_model_changed)
        session.dataChanged.connect(self._on_data_changed)
        session.codesChanged.connect(self._on_codes_changed)
        session.trainingProgress.connect(self._on_progress)
        session.trainingStateChanged.connect(self._on_training_state)
        session.trainingFinished.connect(self._on_training_finished)
        session.errorOccurred.connect(self.show_error)
        session.statusMessage.connect(self.show_status)
        self.probe = ProbeController(session, self.plane, self.decoded, self.zbars,
                                     self.show_status, self)
        self.plane.pointSelected.connect(self._on_point_selected)
        self.plane.pointHovered.connect(self._on_point_hovered)
        self.plane.set_thumbnail_source(session.image_of)
        self.side.condition.currentIndexChanged.connect(self._on_condition_chosen)
        self.side.plane_kind.currentIndexChanged.connect(self._on_plane_chosen)
        self.side.dim_x.valueChanged.connect(self._on_plane_chosen)
        self.side.dim_y.valueChanged.connect(self._on_plane_chosen)
        panel = self.training_panel
        panel.startRequested.connect(self._on_start_requested)
        panel.pauseRequested.connect(session.pause_training)
        panel.resumeRequested.connect(session.resume_training)
        panel.stopRequested.connect(session.stop_training)
        self.manifold = ManifoldController(session, self.plane, self)
        self.training_panel.setEnabled(True)
        self._on_data_changed()
        self._on_model_changed()
        self._on_codes_changed()
        self._attach_tools(session)

    def _attach_tools(self, session: Session) -> None:
        # Imported here: the tools load torch, and the shell has painted by now.
        from latentlab.gui.window.window_tools import WindowTools

        self.tools = WindowTools(self, session)
        self.view_menu.addSeparator()
        for dock in self.tools.docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        # The saved layout could not place these docks before they existed.
        _geometry, state = prefs.window_layout()
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            self._default_dock_sizes()

    def _default_dock_sizes(self) -> None:
        """First run: a training column wide enough for its form, a strip for curves and tools."""
        self.resizeDocks([self.training_dock], [320], Qt.Orientation.Horizontal)
        self.resizeDocks([self.loss_dock], [250], Qt.Orientation.Vertical)

    def show_loading(self, message: str) -> None:
        """What the window shows before a session is attached."""
        self.decoded.clear(message)
        self.set_hint(message)
        self.training_panel.setEnabled(False)

    def set_hint(self, text: str) -> None:
        """The status bar's standing line, shown whenever no passing message is."""
        self.hint_label.setText(text)

    def hint(self) -> str:
        """The status bar's standing line."""
        return self.hint_label.text()

    def show_status(self, text: str, ms: int = STATUS_MS) -> None:
        """A passing message in the status bar; the hint comes back after ``ms``."""
        self._hover_text = ""
        self.statusBar().showMessage(text, ms)

    def adopt_thread(self, thread: QThread) -> None:
        """Keep a helper thread (start-up loading) alive; closing the window waits for it."""
        self._helper_threads.append(thread)
        thread.finished.connect(lambda t=thread: self._forget_thread(t))

    def _forget_thread(self, thread: QThread) -> None:
        if thread in self._helper_threads:
            self._helper_threads.remove(thread)

    # -- model, data, codes -------------------------------------------------------------
    def _update_title(self) -> None:
        name = self.session.model_name if self.session is not None else None
        self.setWindowTitle(f"{APP_TITLE} — {name}" if name else APP_TITLE)

    def _on_model_changed(self) -> None:
        s = self.session
        self._update_title()
        if s.model is None:
            self.training_panel.set_resumable(False)
            self.side.configure(0, (), False)
            self.decoded.clear(NO_MODEL_HINT)
            self.set_hint(NO_MODEL_HINT)
            self.zbars.hide()   # nothing to show until a model exists
            return
        self.zbars.show()
        self.set_hint(READY_HINT)
        cfg = s.config
        if not s.is_training:   # the panel describes the model on screen and can continue it
            self.training_panel.set_resumable(s.model_fits_data(), cfg.to_dict())
        names = cfg.label_names or tuple(str(k) for k in range(cfg.num_classes))
        self.side.configure(cfg.latent_dim, names, cfg.is_conditional)
        self.zbars.set_highlight(())
        if not s.is_training:
            self.loss_plot.load_history(s.history)
        self.decode_probe()

    def _on_data_changed(self) -> None:
        self._points_key = None
        if self.session is not None and not self.session.is_training:
            self.training_panel.set_resumable(self.session.model_fits_data())
            if self.session.data is not None:   # the panel names the data set on screen
                self.training_panel.apply_settings({"data": panel_data_settings(self.session.data.source)})
        self.plane.set_points(empty_xy(), None, ())

    def _on_codes_changed(self) -> None:
        s = self.session
        if s.xy is None or s.data is None:
            if s.data is None or s.model is None:
                self.plane.set_points(empty_xy(), None, ())
                self._points_key = None
            return   # new codes are on their way: keep showing the old ones meanwhile
        key = (id(s.data), s.plane_kind, s.plane_dims, tuple(s.selected[-3:]) if s.plane_kind == "points" else ())
        if key == self._points_key and self.plane.point_count() == len(s.xy):
            # Same points, new positions (training, a new model): much cheaper than set_points.
            self.plane.update_points(s.xy)
        else:
            labels = None if s.data.labels is None else s.data.labels.numpy()
            self.plane.set_points(s.xy, labels, s.data.class_names)
            self.plane.set_axis_names(*axis_names(s))
            self._points_key = key
            self._bring_probe_to_the_data(s.xy)
        self.decode_probe()

    def _bring_probe_to_the_data(self, xy: np.ndarray) -> None:
        """A probe left outside where the codes lie is out of sight: put it at their median."""
        if len(xy) == 0:
            return
        low, high = np.percentile(xy, [1, 99], axis=0)
        x, y = self.plane.probe_position()
        if not (low[0] <= x <= high[0] and low[1] <= y <= high[1]):
            self.plane.set_probe(*(float(v) for v in np.median(xy, axis=0)))

    # -- probe --------------------------------------------------------------------------
    def decode_probe(self, *_: Any) -> None:
        """Decode wherever the probe is now."""
        if self.probe is not None:
            self.probe.decode_current()

    def decode_probe_at(self, x: float, y: float) -> None:
        """Decode plane point (x, y) into the decoded view, its caption and the z bars."""
        if self.probe is not None:
            self.probe.decode_at(x, y)

    def _on_point_selected(self, index: int) -> None:
        s = self.session
        if s is None or s.xy is None or not 0 <= index < len(s.xy):
            return
        s.note_selected(index)
        self.plane.set_selected(index)
        x, y = (float(v) for v in s.xy[index])
        self.plane.set_probe(x, y)
        self.decode_probe_at(x, y)
        self.show_status(f"Selected {item_text(s, index)}. Shift+click adds a point to the "
                         "interpolation path; selected points anchor the “Through three points” plane.")

    def select_point(self, index: int) -> None:
        """Select data item ``index`` on the plane and decode its code (as a click would)."""
        self._on_point_selected(index)

    def _on_point_hovered(self, index: int) -> None:
        bar = self.statusBar()
        if self.session is not None and index >= 0:
            self._hover_text = item_text(self.session, index)
            bar.showMessage(self._hover_text)
        elif self._hover_text and bar.currentMessage() == self._hover_text:
            # The mouse left the point: give the status bar back to the hint.
            self._hover_text = ""
            bar.clearMessage()

    def _on_condition_chosen(self, row: int) -> None:
        if row >= 0 and self.session is not None:
            self.session.set_condition(int(self.side.condition.itemData(row)))

    def _on_plane_chosen(self, *_: Any) -> None:
        s = self.session
        if s is None or s.model is None:
            return
        kind = str(self.side.plane_kind.currentData())
        self.side.update_dims_visibility()
        dims = (self.side.dim_x.value(), self.side.dim_y.value())
        if kind == "dims" and dims[0] == dims[1]:
            self.show_status("Choose two different dimensions.")
            return
        s.set_plane(kind, dims)
        if s.plane_kind != kind:     # the session fell back (e.g. fewer than three points selected)
            self.side.plane_kind.blockSignals(True)
            self.side.plane_kind.setCurrentIndex(self.side.plane_kind.findData(s.plane_kind))
            self.side.plane_kind.blockSignals(False)
            self.side.update_dims_visibility()
        self.zbars.set_highlight(dims if s.plane_kind == "dims" else ())

    # -- manifold -----------------------------------------------------------------------
    def _on_manifold_toggled(self, on: bool) -> None:
        if self.manifold is not None:
            self.manifold.set_enabled(on)

    def _on_manifold_mode(self, prior: bool) -> None:
        if self.manifold is not None:
            self.manifold.set_mode("prior" if prior else "view")
            if prior and not self.manifold_action.isChecked():
                self.manifold_action.setChecked(True)
                self.manifold.set_enabled(True)

    # -- misc -------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        show_error(self, title, message)
        self.show_status(message.splitlines()[0] if message else title)

    def _restore_layout(self) -> None:
        geometry, state = prefs.window_layout()
        if geometry is None or not self.restoreGeometry(geometry):
            self._first_run_size()
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            self._default_dock_sizes()

    def _first_run_size(self) -> None:
        """1400 × 900, or 90 % of a smaller screen, centred."""
        screen = QGuiApplication.primaryScreen()
        width, height = DEFAULT_SIZE
        if screen is not None:
            area = screen.availableGeometry()
            width = min(width, int(area.width() * SCREEN_FRACTION))
            height = min(height, int(area.height() * SCREEN_FRACTION))
            self.resize(width, height)
            self.move(area.center() - self.rect().center())
        else:
            self.resize(width, height)

    def apply_plane_record(self, record: dict[str, Any]) -> None:
        """Choose the plane a saved session describes (``kind``, ``dims``, ``anchors``)."""
        s = self.session
        kind = record.get("kind")
        if s is None or s.model is None or kind not in ("pca", "dims", "points"):
            return
        anchors = [int(i) for i in record.get("anchors", []) if isinstance(i, int)]
        if kind == "points" and s.data is not None:
            for i in anchors:
                if 0 <= i < len(s.data):
                    s.note_selected(i)
        dims = record.get("dims", [0, 1])
        side = self.side
        for box, value in zip((side.dim_x, side.dim_y), dims[:2]):
            box.blockSignals(True)
            box.setValue(int(value))
            box.blockSignals(False)
        side.plane_kind.blockSignals(True)
        side.plane_kind.setCurrentIndex(max(0, side.plane_kind.findData(kind)))
        side.plane_kind.blockSignals(False)
        self._on_plane_chosen()

    # -- drag and drop ----------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = [url.toLocalFile() for url in event.mimeData().urls()]
        event.acceptProposedAction()
        if not paths or not all(paths):
            self.show_error("Cannot use this drop", "Only files can be dropped here: image files are "
                            "encoded and added to the interpolation path.")
        elif self.tools is None:
            self.show_status("Still loading the model; drop the images again in a moment.")
        else:
            self.tools.add_files(paths)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.closed = True
        if self.probe is not None:
            self.probe.stop()
        prefs.save_window_layout(QByteArray(self.saveGeometry()), QByteArray(self.saveState(LAYOUT_VERSION)))
        if self.session is not None:
            self.shutdown_clean = self.session.shutdown(1000)
        for thread in list(self._helper_threads):
            # Start-up loading cannot be interrupted (it is mostly an import); it is short.
            thread.wait()
        super().closeEvent(event)
