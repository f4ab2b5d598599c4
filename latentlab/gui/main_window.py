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


class LatentSidePanel(QWidget):
    """Decoded image (large), the z bars beneath, the CVAE label and the plane chooser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.decoded = DecodedView()
        layout.addWidget(self.decoded, 1)
        self.zbars = ZBarChart()
        layout.addWidget(self.zbars)
        self.condition_row = QWidget()
        row = QHBoxLayout(self.condition_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Class"))
        self.condition = QComboBox()
        self.condition.setObjectName("conditionSelector")
        self.condition.setToolTip("The class the conditional decoder draws; the latent point stays the same.")
        row.addWidget(self.condition, 1)
        layout.addWidget(self.condition_row)
        self.plane_row = QWidget()
        prow = QHBoxLayout(self.plane_row)
        prow.setContentsMargins(0, 0, 0, 0)
        prow.addWidget(QLabel("Plane"))
        self.plane_kind = QComboBox()
        self.plane_kind.setObjectName("planeChooser")
        for key, label in PLANE_CHOICES:
            self.plane_kind.addItem(label, key)
        self.plane_kind.setToolTip("Which 2-D slice of the latent space the plane shows. "
                                   "“Through three points” uses the three points you selected last.")
        prow.addWidget(self.plane_kind, 1)
        self.dim_x, self.dim_y = QSpinBox(), QSpinBox()
        for box, name, value in ((self.dim_x, "planeDimX", 0), (self.dim_y, "planeDimY", 1)):
            box.setObjectName(name)
            box.setPrefix("z")
            box.setValue(value)
            box.setToolTip("Latent dimension on this axis.")
            prow.addWidget(box)
        layout.addWidget(self.plane_row)

    def configure(self, latent_dim: int, class_names: tuple[str, ...], conditional: bool) -> None:
        """Show only the controls that mean something for this model."""
        self.condition.blockSignals(True)
        self.condition.clear()
        for k, name in enumerate(class_names):
            self.condition.addItem(f"{k}: {name}" if name != str(k) else name, k)
        self.condition.blockSignals(False)
        self.condition_row.setVisible(conditional and self.condition.count() > 0)
        self.plane_row.setVisible(latent_dim > 2)
        for box in (self.dim_x, self.dim_y):
            box.blockSignals(True)
            box.setRange(0, max(latent_dim - 1, 0))
            box.blockSignals(False)
        self.dim_x.setValue(0)
        self.dim_y.setValue(min(1, max(latent_dim - 1, 0)))
        self.plane_kind.blockSignals(True)
        self.plane_kind.setCurrentIndex(0)
        self.plane_kind.blockSignals(False)
        self.update_dims_visibility()

    def update_dims_visibility(self) -> None:
        """The two dimension boxes only mean something for the "Two dimensions" plane."""
        dims = self.plane_kind.currentData() == "dims"
        self.dim_x.setVisible(dims)
        self.dim_y.setVisible(dims)


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

    def _action(self, menu: QMenu, text: str, slot: Any, name: str, shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action(file_menu, "&Open Model…", self.ask_open_model, "openModelAction",
                                        QKeySequence.StandardKey.Open)
        self.save_action = self._action(file_menu, "&Save Model…", self.ask_save_model, "saveModelAction",
                                        QKeySequence.StandardKey.Save)
        self.open_data_action = self._action(file_menu, "Open &Data Set…", self.ask_open_data, "openDataAction")
        self.open_folder_action = self._action(file_menu, "Open Image &Folder…", self.ask_open_folder,
                                               "openFolderAction")
        self.recent_menu = file_menu.addMenu("&Recent Models")
        self.recent_menu.setObjectName("recentMenu")
        self._refresh_recent_menu()
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "quitAction", QKeySequence.StandardKey.Quit)
        view_menu = bar.addMenu("&View")
        self.manifold_action = self._action(view_menu, "&Manifold", self._on_manifold_toggled, "manifoldAction",
                                            "Ctrl+M")
        self.manifold_action.setCheckable(True)
        self.manifold_action.setToolTip("Draw decoded images on a grid under the scatter.")
        self.prior_action = self._action(view_menu, "Manifold over the &Prior", self._on_manifold_mode,
                                         "manifoldPriorAction")
        self.prior_action.setCheckable(True)
        self._action(view_menu, "&Reset View", self.plane.auto_range, "resetViewAction", "Ctrl+0")
        view_menu.addSeparator()
        view_menu.addAction(self.training_dock.toggleViewAction())
        view_menu.addAction(self.loss_dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About LatentLab", self.show_about, "aboutAction")

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

    # -- files --------------------------------------------------------------------------
    def ask_open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", MODEL_FILTER)
        if path:
            self.open_model(os.path.dirname(path) if os.path.basename(path) == "config.json" else path)

    def open_model(self, path: str) -> bool:
        """Open a saved model and remember it in the recent list."""
        if self.session is None or not self.session.open_model(path):
            return False
        prefs.add_recent_model(path)
        self._refresh_recent_menu()
        return True

    def ask_save_model(self) -> None:
        if self.session is None or self.session.model is None:
            self.show_error("Nothing to save", "Train or open a model first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the model as a folder", self.session.model_name)
        if not path or (os.path.exists(path) and not confirm_overwrite(self, path)):
            return
        if self.session.save_model(path):
            prefs.add_recent_model(path)
            self._refresh_recent_menu()

    def ask_open_data(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a data set", "", DATA_FILTER)
        if path and self.session is not None:
            self.session.open_data(path)

    def ask_open_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an image folder")
        if path and self.session is not None:
            self.session.open_data(path)

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = prefs.recent_models()
        for path in paths:
            action = self.recent_menu.addAction(os.path.basename(path.rstrip(os.sep)) or path)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_model(p))
        if not paths:
            self.recent_menu.addAction("No recent models").setEnabled(False)

    # -- misc -------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        show_error(self, title, message)
        self.statusBar().showMessage(message.splitlines()[0] if message else title)

    def show_about(self) -> None:
        AboutDialog(self).open()

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


def _empty_xy() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.float32)


def _axis_names(session: Session) -> tuple[str, str]:
    kind = session.plane.kind if session.plane is not None else "dims"
    if session.latent_dim <= 2 or kind == "dims":
        i, j = session.plane_dims if session.latent_dim > 2 else (0, 1)
        return _sub(f"z{i}"), _sub(f"z{j}")
    if kind == "pca":
        return "PC 1", "PC 2"
    return "through points (x)", "through points (y)"


def _sub(name: str) -> str:
    """``z12`` -> ``z₁₂``: latent axes read like the maths."""
    return name[0] + name[1:].translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _item_text(session: Session, index: int) -> str:
    data = session.data
    if data is None:
        return f"item {index}"
    text = f"item {index}"
    if data.labels is not None:
        k = int(data.labels[index])
        name = data.class_names[k] if k < len(data.class_names) else str(k)
        text += f" · {name}"
    return text
