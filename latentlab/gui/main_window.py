"""The main window: the latent plane in the centre, the decoded image on the right,
training and loss curves in docks.

This module does not import torch: the window is built and painted first, and a
:class:`~latentlab.gui.session.Session` is attached once torch has loaded
(:meth:`MainWindow.attach_session`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QThread, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from latentlab.gui import settings as prefs
from latentlab.gui.decoded_view import DecodedView
from latentlab.gui.dialogs import AboutDialog, confirm_overwrite, show_error
from latentlab.gui.loss_plot import LossPlot
from latentlab.gui.plane_view import LatentPlaneView
from latentlab.gui.training_panel import TrainingPanel
from latentlab.gui.zbar import ZBarChart

if TYPE_CHECKING:
    from latentlab.gui.session import Session

APP_TITLE = "LatentLab"
PROBE_HINT = "Drag the probe ✛ or click anywhere on the plane to decode that point."
# Repainting the loss plot costs 20-40 ms on a small machine (axes re-laid out as the
# range grows); once a second keeps the curves live without stalling the probe.
LOSS_FLUSH_MS = 1000
PLANE_CHOICES = (("pca", "PCA of the codes"), ("dims", "Two dimensions"), ("points", "Through three points"))
MODEL_FILTER = "LatentLab models (config.json *.latentlab);;All files (*)"
DATA_FILTER = "Data files (*-ubyte *-ubyte.gz *.idx *.idx.gz *.npz *.npy);;All files (*)"


class MainWindow(QMainWindow):
    """LatentLab's window. Works as an empty shell until :meth:`attach_session`."""

    def __init__(self, session: Session | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.session: Session | None = None
        self.manifold: Any = None
        self.probe: Any = None
        self._points_key: Any = None
        self._helper_threads: list[QThread] = []
        self.startup_thread: QThread | None = None
        self.closed = False
        self.shutdown_clean = True
        self._loss_points: list[tuple[str, float, dict]] = []
        self._loss_timer = QTimer(self)
        self._loss_timer.setSingleShot(True)
        self._loss_timer.setInterval(LOSS_FLUSH_MS)
        self._loss_timer.timeout.connect(self.flush_loss_points)
        self._build_widgets()
        self._build_menus()
        self.statusBar().showMessage(PROBE_HINT)
        self.resize(1280, 800)
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
        self.training_dock = self._dock("Training", "trainingDock", self.training_panel,
                                        Qt.DockWidgetArea.LeftDockWidgetArea)
        self.loss_dock = self._dock("Loss", "lossDock", self.loss_plot, Qt.DockWidgetArea.BottomDockWidgetArea)
        saved = prefs.last_training_settings()
        if saved:
            self.training_panel.apply_settings(saved)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
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
        session.statusMessage.connect(self.statusBar().showMessage)
        self.probe = ProbeController(session, self.plane, self.decoded, self.zbars,
                                     self.statusBar().showMessage, self)
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

    def show_loading(self, message: str) -> None:
        """What the window shows before a session is attached."""
        self.decoded.clear(message)
        self.statusBar().showMessage(message)
        self.training_panel.setEnabled(False)

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
            self.side.configure(0, (), False)
            self.decoded.clear("No model yet. Press Start to train one.")
            self.zbars.hide()   # nothing to show until a model exists
            return
        self.zbars.show()
        cfg = s.config
        names = cfg.label_names or tuple(str(k) for k in range(cfg.num_classes))
        self.side.configure(cfg.latent_dim, names, cfg.is_conditional)
        self.zbars.set_highlight(())
        if not s.is_training:
            self.loss_plot.load_history(s.history)
        self.decode_probe()

    def _on_data_changed(self) -> None:
        self._points_key = None
        self.plane.set_points(_empty_xy(), None, ())

    def _on_codes_changed(self) -> None:
        s = self.session
        if s.xy is None or s.data is None:
            if s.data is None or s.model is None:
                self.plane.set_points(_empty_xy(), None, ())
                self._points_key = None
            return   # new codes are on their way: keep showing the old ones meanwhile
        key = (id(s.data), s.plane_kind, s.plane_dims, tuple(s.selected[-3:]) if s.plane_kind == "points" else ())
        if key == self._points_key and self.plane.point_count() == len(s.xy):
            # Same points, new positions (training, a new model): much cheaper than set_points.
            self.plane.update_points(s.xy)
        else:
            labels = None if s.data.labels is None else s.data.labels.numpy()
            self.plane.set_points(s.xy, labels, s.data.class_names)
            self.plane.set_axis_names(*_axis_names(s))
            self._points_key = key
        self.decode_probe()

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
        self.statusBar().showMessage(f"Selected {_item_text(s, index)}. Selected points anchor "
                                     "the “Through three points” plane.")

    def _on_point_hovered(self, index: int) -> None:
        if self.session is not None and index >= 0:
            self.statusBar().showMessage(_item_text(self.session, index))

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
            self.statusBar().showMessage("Choose two different dimensions.")
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

    # -- training -----------------------------------------------------------------------
    def _on_start_requested(self, values: dict) -> None:
        prefs.save_training_settings(values)
        self._loss_points.clear()
        self.loss_plot.clear()
        if self.session.start_training(values):
            self.training_panel.set_status("Training…")

    def _on_progress(self, p: Any) -> None:
        steps = max(p.steps_per_epoch, 1)
        in_epoch = p.step - (p.epoch - 1) * steps
        fraction = min(1.0, p.step / (steps * max(p.epochs, 1)))
        self.training_panel.set_progress(p.epoch, p.epochs, fraction, p.eta_s, p.images_per_s)
        x = float(p.epoch) if p.epoch_done else (p.epoch - 1) + min(max(in_epoch / steps, 0.0), 1.0)
        self._loss_points.append(("train", x, p.terms))
        if p.val:
            self._loss_points.append(("val", float(p.epoch), p.val))
        if not self._loss_timer.isActive():
            self._loss_timer.start()

    def flush_loss_points(self) -> None:
        """Draw the loss points gathered since the last flush."""
        self._loss_timer.stop()
        points, self._loss_points = self._loss_points, []
        for split, x, terms in points:
            if split == "train":
                self.loss_plot.add_train(x, terms)
            else:
                self.loss_plot.add_val(x, terms)

    def _on_training_state(self, state: str) -> None:
        self.training_panel.set_state(state)
        idle = state == "idle"
        for action in (self.open_action, self.open_data_action, self.open_folder_action, self.recent_menu):
            action.setEnabled(idle)

    def _on_training_finished(self, result: Any) -> None:
        self.flush_loss_points()
        last = result.history[-1] if result.history else {}
        loss = (last.get("val") or last.get("train") or {}).get("loss")
        tail = f"; validation loss {loss:.4g}" if isinstance(loss, (int, float)) else ""
        self.training_panel.set_status(f"Training {result.status}{tail}.")
        self._update_title()

    # -- misc -------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        show_error(self, title, message)
        self.statusBar().showMessage(message.splitlines()[0] if message else title)

    def _restore_layout(self) -> None:
        geometry, state = prefs.window_layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.closed = True
        if self.probe is not None:
            self.probe.stop()
        prefs.save_window_layout(QByteArray(self.saveGeometry()), QByteArray(self.saveState()))
        if self.session is not None:
            self.shutdown_clean = self.session.shutdown(1000)
        for thread in list(self._helper_threads):
            # Start-up loading cannot be interrupted (it is mostly an import); it is short.
            thread.wait()
        super().closeEvent(event)

