"""The main window: a shell of widgets that shows values and asks for things.

The latent plane sits in the centre, the decoded image on the right, training, loss curves
and the latent tools in docks. The window decides nothing about models or data: a person's
actions leave it as typed requests (``openModelRequested(path)``,
``startTrainingRequested(settings)``, ``probeMoved(x, y)``, ...), which the application's
controller answers, and the controller's state comes back as values (:meth:`show_scene`,
:meth:`show_probe`, :meth:`show_run`, :meth:`show_decoded`, ...). The questions the
controller may need to ask (save unsaved work? where to?) are methods here as well, so a
test can answer them.

This module does not import torch: the window is built and painted first; the controller
(and with it the latent tools' docks, :meth:`install_tools`) arrives once torch has loaded.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QObject, QPointF, Qt, QThread, QTimer, Signal
from PySide6.QtGui import (
    QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence, QMouseEvent,
)
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMenu, QMessageBox, QSplitter, QWidget,
)
from superqt.utils import qthrottled

from latentlab.core.training_settings import TrainingSettings
from latentlab.gui import settings as prefs
from latentlab.gui.views.colour_by import ColourByBar
from latentlab.gui.open_model import FILE_FILTER as MODEL_FILTER
from latentlab.gui.open_model import model_location
from latentlab.gui.views.dialogs import AboutDialog, confirm_overwrite, show_error
from latentlab.gui.views.loss_plot import LossPlot
from latentlab.gui.views.plane_view import LatentPlaneView
from latentlab.gui.views.quality_view import QualityView, ask_use_best
from latentlab.gui.views.training_panel import TrainingPanel
from latentlab.gui.window.window_panels import (
    LatentSidePanel, ReadableDockTabs, display_image, empty_xy, panel_data_settings, scrolling,
)

APP_TITLE = "LatentLab"
READY_HINT = ("Drag the probe ✛ or click anywhere on the plane to decode that point · "
              "Shift+click a point to add it to the interpolation path")
NO_MODEL_HINT = "No model yet. Press Start to train one."
STILL_LOADING = "Still loading the model; try again in a moment."
STATUS_MS = 8000          # how long a passing message shows before the hint returns
DEFAULT_SIZE = (1400, 900)
# Bump when the docks change: a layout saved by an older version is then ignored, not misapplied.
LAYOUT_VERSION = 3
SCREEN_FRACTION = 0.9     # first run: at most this much of the screen
# Repainting the loss plot costs 20-40 ms on a small machine (axes re-laid out as the
# range grows); once a second keeps the curves live without stalling the probe.
LOSS_FLUSH_MS = 1000
# While the person drags the probe, the curves (and sample quality) wait longer: their redraw
# is the longest thing a frame of the drag would otherwise have to share. Once the probe rests
# (``probe_dragged``, the controller's drag clock, says so), the next report draws within
# LOSS_FLUSH_MS again.
LOSS_FLUSH_MOVING_MS = 4000
CLICK_SLOP_PX = 4         # a press and release this close together is a click, not a drag

DATA_FILTER = "Data files (*-ubyte *-ubyte.gz *.idx *.idx.gz *.npz *.npy *.csv);;All files (*)"
SESSION_FILTER = "LatentLab sessions (*.json);;All files (*)"
GENERATED_FILTERS = ("A folder of PNG images (*)", "One NumPy archive (*.npz)")
SERIES_FILTER = "Series (*.csv);;All files (*)"

# (menu text, object name, export kind the controller knows)
EXPORT_ENTRIES = (
    ("&Decoded Image…", "exportDecodedAction", "decoded"),
    ("&Manifold Sheet…", "exportManifoldAction", "manifold"),
    ("Interpolation &Strip…", "exportStripAction", "strip"),
    ("Interpolation &GIF…", "exportGifAction", "gif"),
    ("Interpolation &APNG…", "exportApngAction", "apng"),
    ("Interpolation &MP4…", "exportMp4Action", "mp4"),
    ("&Traversal Animation…", "exportTraversalAction", "traversal"),
    ("Training &Time-lapse…", "exportTimelapseAction", "timelapse"),
    ("&Latent Codes…", "exportCodesAction", "codes"),
    ("&Path Codes…", "exportPathCodesAction", "path_codes"),
)
TOOL_DOCKS = (("interpolation", "Interpolation"), ("traversal", "Traversal"), ("attributes", "Attributes"),
              ("bookmarks", "Bookmarks"), ("data", "Data"), ("denoise", "Denoise"))

# The answers of ask_unsaved().
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


class MainWindow(QMainWindow):
    """LatentLab's window (see the module doc). Until a controller calls :meth:`set_ready`
    every request only says that the model is still loading.

    Requests
    --------
    openModelRequested(str), saveModelRequested(str), openDataRequested(str): a path.
    openSessionRequested(str): a session file; saveSessionRequested(): save one (the
        controller checks the model is saved, then asks :meth:`ask_session_path`).
    exportRequested(str): one of the kinds in :data:`EXPORT_ENTRIES`.
    startTrainingRequested(TrainingSettings): the training panel's settings; pause/resume/stopRequested().
    quitRequested(): File ▸ Quit (the close itself asks ``before_close``).
    probeMoved(x, y) while dragged, probeReleased(x, y); pointSelected(index).
    planeRequested(kind, dim_x, dim_y), conditionRequested(label).
    manifoldRequested(bool), manifoldModeRequested("view" | "prior"), viewChanged().
    realnessRequested(bool): View ▸ Discriminator Realness.
    addSelectedRequested(), addProbeRequested(), addClickedRequested(index or -1) (Shift+click),
    bookmarkRequested(), filesDropped(list of paths).
    openSeriesRequested(str): a .csv series for the stream view; openStreamRequested(): the procedural one.
    followRunRequested(str): File ▸ Follow Run, a live run folder (``train --run-dir``).
    closing(): the window is closing now; stop every thread before this returns.
    """

    openModelRequested = Signal(str)
    saveModelRequested = Signal(str)
    openDataRequested = Signal(str)
    openSessionRequested = Signal(str)
    saveSessionRequested = Signal()
    exportRequested = Signal(str)
    startTrainingRequested = Signal(object)
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()
    quitRequested = Signal()
    probeMoved = Signal(float, float)
    probeReleased = Signal(float, float)
    pointSelected = Signal(int)
    planeRequested = Signal(str, int, int)
    conditionRequested = Signal(int)
    manifoldRequested = Signal(bool)
    manifoldModeRequested = Signal(str)
    realnessRequested = Signal(bool)
    viewChanged = Signal()
    addSelectedRequested = Signal()
    addProbeRequested = Signal()
    addClickedRequested = Signal(int)
    bookmarkRequested = Signal()
    filesDropped = Signal(object)
    generateRequested = Signal()
    followRunRequested = Signal(str)
    openSeriesRequested = Signal(str)
    openStreamRequested = Signal()
    compareRequested = Signal()
    densityRequested = Signal(bool)
    closing = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.ready = False
        self.closed = False
        #: Asked before the window closes (a controller sets it); False keeps the window open.
        self.before_close: Callable[[], bool] = lambda: True
        #: Why the model on screen cannot be saved as a model file (a controller sets it), or None.
        self.save_refusal: Callable[[], str | None] = lambda: None
        self.startup_thread: QThread | None = None
        self.warm_up_thread: QThread | None = None   # first-use costs of training, paid after start-up
        self._helper_threads: list[QThread] = []
        self._scene: Any = None
        self._run: Any = None
        self._points_key: Any = None
        self._shown_xy: np.ndarray | None = None
        self._model_key: Any = None
        self._data_key: Any = None
        self._axis_names: tuple[str, str] | None = None
        self._hover_text = ""
        self._loss_points: list[tuple[str, float, dict]] = []
        self._plot_epochs: int | None = None   # the x extent given to the loss curves
        self._flush_soon = qthrottled(self._flush_paced, timeout=LOSS_FLUSH_MS, leading=False, parent=self)
        # Whether the probe is being dragged now: given by the controller (its drag clock).
        self.probe_dragged: Callable[[], bool] = lambda: False
        # How the panels' timed redraws run: ``pace(call)`` runs ``call`` now or, while the probe
        # is dragged, after the drag's next frame (given by the controller: its frame pacer).
        self.pace: Callable[[Callable[[], None]], None] = lambda call: call()
        self._held_quality: Any = None   # a sample-quality reading held back while the probe moves
        self._press_pos: QPointF | None = None
        self._shift_click = False
        self.tools: Any = None
        self.docks: dict[str, QDockWidget] = {}
        self.dock_tabs = ReadableDockTabs(self)   # whole tab titles under the plane, never "Lo…"
        self._build_widgets()
        self._build_menus()
        self.hint_label = QLabel()
        self.hint_label.setObjectName("statusHint")
        self.statusBar().addWidget(self.hint_label, 1)   # shows whenever no message is passing
        self.setAcceptDrops(True)
        self._point_classes: tuple[Any, np.ndarray, tuple[str, ...]] | None = None   # predicted colours
        self._marks: tuple[Any, np.ndarray] | None = None   # ringed points (labelled images) and their scene key
        self._restore_layout()
        self.setWindowTitle(APP_TITLE)
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
        self.splitter = splitter
        self.setCentralWidget(splitter)
        self.colour_by = ColourByBar()   # under the plane chooser, for models that classify
        self.side.layout().addWidget(self.colour_by)
        self.training_panel = TrainingPanel()
        self.loss_plot = LossPlot()
        self.training_dock = self.add_dock("Training", "trainingDock", scrolling(self.training_panel),
                                           Qt.DockWidgetArea.LeftDockWidgetArea)
        self.loss_dock = self.add_dock("Loss", "lossDock", self.loss_plot, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.quality = QualityView()   # sample FD and coverage: a tab beside the curves, a badge below
        self.quality_dock = self.add_dock("Sample Quality", "qualityDock", self.quality,
                                          Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.loss_dock, self.quality_dock)
        self.loss_dock.raise_()
        self.statusBar().addPermanentWidget(self.quality.badge)
        self.quality.showRequested.connect(lambda: (self.quality_dock.show(), self.quality_dock.raise_()))
        # The training panel runs the full height; the curves and tools sit under the plane only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.apply_training_choices(prefs.training_choices())
        self._connect_widgets()

    def _connect_widgets(self) -> None:
        plane, side, panel = self.plane, self.side, self.training_panel
        plane.probeMoved.connect(self.probeMoved)
        plane.probeReleased.connect(self._on_probe_released)
        plane.pointSelected.connect(self.pointSelected)
        plane.pointHovered.connect(self._on_point_hovered)
        plane.viewChanged.connect(self.viewChanged)
        plane.viewport().installEventFilter(self)
        side.condition.currentIndexChanged.connect(self._on_condition_chosen)
        side.plane_kind.currentIndexChanged.connect(self._on_plane_chosen)
        side.dim_x.valueChanged.connect(self._on_plane_chosen)
        side.dim_y.valueChanged.connect(self._on_plane_chosen)
        panel.startRequested.connect(self._on_start_clicked)
        panel.pauseRequested.connect(self.pauseRequested)
        panel.resumeRequested.connect(self.resumeRequested)
        panel.stopRequested.connect(self.stopRequested)

    def add_dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        """Put ``widget`` in a dock called ``title``; ``name`` lets saveState() find it again."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name)   # saveState() needs object names to restore the layout
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], name: str,
                shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._build_file_menu(bar.addMenu("&File"))
        view_menu = self.view_menu = bar.addMenu("&View")
        self.manifold_action = self._action(view_menu, "&Manifold", self._on_manifold_toggled, "manifoldAction",
                                            "Ctrl+M")
        self.manifold_action.setCheckable(True)
        self.manifold_action.setToolTip("Draw decoded images on a grid under the scatter.")
        self.prior_action = self._action(view_menu, "Manifold over the &Prior", self._on_manifold_mode,
                                         "manifoldPriorAction")
        self.prior_action.setCheckable(True)
        self.realness_action = self._action(view_menu, "&Discriminator Realness", self._on_realness_toggled,
                                            "realnessAction")
        self.realness_action.setCheckable(True)
        self.realness_action.setEnabled(False)   # until a model with a discriminator is shown
        self.realness_action.setToolTip("Shade the plane by how real the discriminator finds G(z) there.")
        self._action(view_menu, "&Reset View", self.reset_view, "resetViewAction", "Ctrl+0")
        self._action(view_menu, "Compare &Families…", functools.partial(self._request, self.compareRequested),
                     "compareFamiliesAction")
        self.density_action = self._action(
            view_menu, "Data &Density", lambda: self._request(self.densityRequested, self.density_action.isChecked()),
            "densityAction")
        self.density_action.setCheckable(True)
        self.density_action.setToolTip("Shade the plane by how dense the data's codes are: the holes show dark.")
        view_menu.addSeparator()
        view_menu.addAction(self.training_dock.toggleViewAction())
        view_menu.addAction(self.loss_dock.toggleViewAction())
        view_menu.addAction(self.quality_dock.toggleViewAction())
        tools_menu = self.tools_menu = bar.addMenu("&Tools")
        self._action(tools_menu, "Add &Selected Point to Path", self._add_selected, "addSelectedAction")
        self._action(tools_menu, "Add &Probe to Path", self._add_probe, "addProbeAction")
        self._action(tools_menu, "&Bookmark Probe…", self._bookmark_probe, "bookmarkProbeAction", "Ctrl+B")
        self._action(tools_menu, "Browse &Data…", self._raise_data_browser, "browseDataAction")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About LatentLab", self.show_about, "aboutAction")

    def _build_file_menu(self, file_menu: QMenu) -> None:
        self.open_action = self._action(file_menu, "&Open Model…", self._open_model_clicked, "openModelAction",
                                        QKeySequence.StandardKey.Open)
        self.save_action = self._action(file_menu, "&Save Model…", self._save_model_clicked, "saveModelAction",
                                        QKeySequence.StandardKey.Save)
        self.open_data_action = self._action(file_menu, "Open &Data Set…", self._open_data_clicked,
                                             "openDataAction")
        self.open_folder_action = self._action(file_menu, "Open Image &Folder…", self._open_folder_clicked,
                                               "openFolderAction")
        self.open_series_action = self._action(file_menu, "Open S&eries…", self._open_series_clicked,
                                               "openSeriesAction")
        self._action(file_menu, "Open Procedural S&tream", self._open_stream_clicked, "openStreamAction")
        self._action(file_menu, "&Follow Run…", self._follow_run_clicked, "followRunAction")
        self.recent_menu = file_menu.addMenu("&Recent Models")
        self.recent_menu.setObjectName("recentMenu")
        self.refresh_recent_menu()
        file_menu.addSeparator()
        self.open_session_action = self._action(file_menu, "Open Session…", self._open_session_clicked,
                                                "openSessionAction")
        self.save_session_action = self._action(file_menu, "Save Session…", self._save_session_clicked,
                                                "saveSessionAction")
        export_menu = self.export_menu = file_menu.addMenu("&Export")
        export_menu.setObjectName("exportMenu")
        for text, name, kind in EXPORT_ENTRIES:
            self._action(export_menu, text, functools.partial(self._request_export, kind), name)
        self._action(file_menu, "&Generate Data Set…", functools.partial(self._request, self.generateRequested),
                     "generateDataAction")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self._quit_clicked, "quitAction", QKeySequence.StandardKey.Quit)

    def install_tools(self, tools: Any, kl_per_dim: Callable[[], Any], denoise: Any) -> None:
        """Build the latent tools' panels over ``tools`` (a ToolsController) and ``denoise`` (a
        DenoiseTool) in docks tabbed with the loss curves; called once, when the controller
        exists (the panels need torch)."""
        from latentlab.gui.tools import AttributePanel, BookmarksPanel, InterpolationPanel, TraversalPanel
        from latentlab.gui.tools.data_browser import DataBrowserPanel
        from latentlab.gui.tools.denoise import DenoisePanel

        self.tools = tools
        self.interpolation = InterpolationPanel(tools)
        self.traversal = TraversalPanel(tools, kl_per_dim=kl_per_dim)
        self.attributes = AttributePanel(tools)
        self.bookmarks = BookmarksPanel(tools)
        self.browser = DataBrowserPanel(tools, count=self._item_count, image=self._item_image,
                                        labels=self._labels, class_names=self._class_names)
        self.browser.showRequested.connect(self.pointSelected)
        self.denoise = DenoisePanel(denoise)
        denoise.arrowChanged.connect(self.plane.set_noise_arrow)
        tools.attributeChanged.connect(self._show_attribute_choice)
        panels = {"interpolation": self.interpolation, "traversal": self.traversal,
                  "attributes": self.attributes, "bookmarks": self.bookmarks, "data": self.browser,
                  "denoise": self.denoise}
        area = Qt.DockWidgetArea.BottomDockWidgetArea
        previous = self.loss_dock
        for key, title in TOOL_DOCKS:
            dock = self.docks[key] = self.add_dock(title, f"{key}Dock", scrolling(panels[key]), area)
            # Tabbed with the loss curves: one strip of screen, the layout remembered by saveState().
            self.tabifyDockWidget(previous, dock)
            previous = dock
        # A tabbed dock may count as visible while covered: decode the strips when its tab shows.
        self.docks["traversal"].visibilityChanged.connect(self._on_traversal_shown)
        self.docks["denoise"].visibilityChanged.connect(denoise.set_active)   # works only while its tab shows
        tools.waypointsChanged.connect(self._on_waypoints_changed)
        self.loss_dock.raise_()
        self.view_menu.addSeparator()
        for dock in self.docks.values():
            self.view_menu.addAction(dock.toggleViewAction())
        # The saved layout could not place these docks before they existed.
        _geometry, state = prefs.window_layout()
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            self._default_dock_sizes()

    def add_tool_dock(self, key: str, title: str, panel: QWidget) -> QDockWidget:
        """A further tool panel in a dock tabbed with the others (and listed in the View menu)."""
        dock = self.docks[key] = self.add_dock(title, f"{key}Dock", scrolling(panel),
                                               Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["data"] if "data" in self.docks else self.loss_dock, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        _geometry, state = prefs.window_layout()
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)
        self.loss_dock.raise_()
        return dock

    def install_stream(self) -> tuple[Any, Any]:
        """The stream view's panel, in a dock tabbed with the loss curves, and its items on the plane."""
        from latentlab.gui.views.stream_view import StreamOverlay, StreamPanel

        panel = StreamPanel()
        dock = self.docks["stream"] = self.add_dock("Stream", "streamDock", panel,
                                                    Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.loss_dock, dock)
        self.view_menu.addAction(dock.toggleViewAction())
        self.loss_dock.raise_()
        _geometry, state = prefs.window_layout()
        if state is not None:
            self.restoreState(state, LAYOUT_VERSION)
        return panel, StreamOverlay(self.plane.plotItem)

    def _on_traversal_shown(self, shown: bool) -> None:
        if shown:
            self.traversal.schedule_refresh()

    def _on_waypoints_changed(self) -> None:
        if self.tools is not None and self.tools.waypoints:
            self.docks["interpolation"].raise_()

    # -- what the data browser reads (the scene on screen) ------------------------------
    def _item_count(self) -> int:
        return 0 if self._scene is None else self._scene.data_size

    def _item_image(self, index: int) -> np.ndarray:
        return self._scene.item_image(index)

    def _labels(self) -> np.ndarray | None:
        return None if self._scene is None else self._scene.labels

    def _class_names(self) -> tuple[str, ...]:
        return () if self._scene is None else self._scene.class_names

    # -- requests -----------------------------------------------------------------------
    def set_ready(self, ready: bool = True) -> None:
        """A controller answers the requests from now on."""
        self.ready = ready
        self.training_panel.setEnabled(ready)

    def _request(self, signal: Any, *args: Any) -> bool:
        if not self.ready:
            self.show_status(STILL_LOADING)
            return False
        signal.emit(*args)
        return True

    def _open_model_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", "", MODEL_FILTER)
        if path:   # a config.json or an ONNX encoder/decoder stands for its folder
            self._request(self.openModelRequested, model_location(path))

    def _follow_run_clicked(self) -> None:
        folder = self.ask_run_folder()
        if folder:
            self._request(self.followRunRequested, folder)

    def ask_run_folder(self) -> str | None:
        """A live run folder to follow (written by ``latentlab train --run-dir``); None if cancelled."""
        folder = QFileDialog.getExistingDirectory(self, "Follow a training run (its --run-dir folder)")
        return folder or None

    def _save_model_clicked(self) -> None:
        if self._scene is None or not self._scene.has_model:
            self.show_error("Nothing to save", "Train or open a model first.")
            return
        refusal = self.save_refusal()
        if refusal:   # before asking where: there is nothing it could write
            self.show_error("Cannot save this model", refusal)
            return
        path = self.ask_model_save_path(self._scene.model_name)
        if path:
            self._request(self.saveModelRequested, path)

    def _open_data_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a data set", "", DATA_FILTER)
        if path:
            self._request(self.openDataRequested, path)

    def _open_series_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a series to score", "", SERIES_FILTER)
        if path and self._request(self.openSeriesRequested, path):
            self.docks["stream"].raise_()

    def _open_stream_clicked(self) -> None:
        if self._request(self.openStreamRequested):
            self.docks["stream"].raise_()

    def _open_folder_clicked(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open an image folder")
        if path:
            self._request(self.openDataRequested, path)

    def _open_session_clicked(self) -> None:
        if not self.ready:
            self.show_status(STILL_LOADING)
            return
        path = self.ask_session_path(save=False)
        if path:
            self.openSessionRequested.emit(path)

    def _save_session_clicked(self) -> None:
        self._request(self.saveSessionRequested)

    def _request_export(self, kind: str, *_: Any) -> None:
        self._request(self.exportRequested, kind)

    def _quit_clicked(self) -> None:
        self.quitRequested.emit()

    def _add_selected(self) -> None:
        self._request(self.addSelectedRequested)

    def _add_probe(self) -> None:
        self._request(self.addProbeRequested)

    def _bookmark_probe(self) -> None:
        self._request(self.bookmarkRequested)

    def _raise_data_browser(self) -> None:
        if "data" not in self.docks:
            self.show_status(STILL_LOADING)
            return
        self.docks["data"].show()
        self.docks["data"].raise_()

    def _on_start_clicked(self, settings: TrainingSettings | None) -> None:
        problems = self.training_panel.problems()
        if problems or settings is None:   # Start is disabled then; a start by other means is refused
            self.show_status(problems[0] if problems else "Fix the marked training settings first.")
            return
        prefs.save_training_choices(self.training_choices())
        self._request(self.startTrainingRequested, settings)

    def _on_condition_chosen(self, row: int) -> None:
        if row >= 0:
            self._request(self.conditionRequested, int(self.side.condition.itemData(row)))

    def _on_plane_chosen(self, *_: Any) -> None:
        self.side.update_dims_visibility()
        kind, (dx, dy) = self.side.chosen_plane()
        if kind == "dims" and dx == dy:
            self.show_status("Choose two different dimensions.")
            return
        self._request(self.planeRequested, kind, dx, dy)

    def _on_manifold_toggled(self, on: bool) -> None:
        self._request(self.manifoldRequested, bool(on))

    def _on_realness_toggled(self, on: bool) -> None:
        self._request(self.realnessRequested, bool(on))

    def _on_manifold_mode(self, prior: bool) -> None:
        self._request(self.manifoldModeRequested, "prior" if prior else "view")
        if prior and not self.manifold_action.isChecked():
            self.manifold_action.setChecked(True)
            self._request(self.manifoldRequested, True)

    def _on_probe_released(self, x: float, y: float) -> None:
        self.probeReleased.emit(x, y)
        if self._shift_click:
            self._shift_click = False
            # After the click has finished selecting and decoding the point.
            QTimer.singleShot(0, self._add_clicked_point)

    def _add_clicked_point(self) -> None:
        index = self.plane.selected()
        self._request(self.addClickedRequested, -1 if index is None else int(index))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        # The plane reports clicks without their keys: remember whether Shift was held.
        if isinstance(event, QMouseEvent) and event.button() == Qt.MouseButton.LeftButton:
            if event.type() == QEvent.Type.MouseButtonPress:
                self._press_pos = event.position()
            elif event.type() == QEvent.Type.MouseButtonRelease:
                moved = self._press_pos is not None and (event.position() - self._press_pos).manhattanLength()
                self._shift_click = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier) \
                    and self._press_pos is not None and moved <= CLICK_SLOP_PX
                self._press_pos = None
        return False

    # -- questions (a test may replace any of them) -------------------------------------
    def ask_unsaved(self, text: str) -> str:
        """Save, discard or cancel? Returns :data:`SAVE`, :data:`DISCARD` or :data:`CANCEL`."""
        box = QMessageBox(self)
        box.setObjectName("unsavedDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Unsaved model")
        box.setText(text)
        buttons = QMessageBox.StandardButton
        box.setStandardButtons(buttons.Save | buttons.Discard | buttons.Cancel)
        box.setDefaultButton(buttons.Save)
        box.setEscapeButton(buttons.Cancel)
        answer = box.exec()
        return {buttons.Save: SAVE, buttons.Discard: DISCARD}.get(buttons(answer), CANCEL)

    def ask_restore_run(self, text: str) -> str:
        """Restore an interrupted training run? Returns "restore", "discard" or "later" (kept)."""
        box = QMessageBox(self)
        box.setObjectName("restoreRunDialog")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Restore the interrupted training?")
        box.setText(text)
        restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(restore)
        box.setEscapeButton(later)
        box.exec()
        clicked = box.clickedButton()
        return "restore" if clicked == restore else "discard" if clicked == discard else "later"

    def ask_yes_no(self, title: str, text: str) -> bool:
        """A question with Yes and No (No is the default)."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self, title, text, buttons.Yes | buttons.No, buttons.No)
        return answer == buttons.Yes

    def ask_use_best(self, text: str, answered: Callable[[bool], None]) -> Any:
        """Use the best snapshot or keep the final weights? Answers later through ``answered(bool)``."""
        return ask_use_best(self, text, answered)

    def ask_model_save_path(self, name: str) -> str | None:
        """Where to save the model (a folder); an existing one is replaced only if confirmed."""
        path, _ = QFileDialog.getSaveFileName(self, "Save the model as a folder", name)
        if not path or (os.path.exists(path) and not confirm_overwrite(self, path)):
            return None
        return path

    def ask_session_path(self, save: bool) -> str | None:
        """A session file to save (replacing one only if confirmed) or open; None if cancelled."""
        if not save:
            path, _ = QFileDialog.getOpenFileName(self, "Open a session", "", SESSION_FILTER)
            return path or None
        path, _ = QFileDialog.getSaveFileName(self, "Save the session", "session.json", SESSION_FILTER,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path and not path.lower().endswith(".json"):
            path += ".json"
        if not path or (os.path.exists(path) and not confirm_overwrite(self, path)):
            return None
        return path

    def ask_generated_set_path(self, suggested: str) -> str | None:
        """Where to write a generated data set: a folder or an ``.npz`` file; None if cancelled.
        (Replacing what is there is confirmed by the caller, which knows whether it is empty.)"""
        path, chosen = QFileDialog.getSaveFileName(self, "Write the generated data set", suggested,
                                                   ";;".join(GENERATED_FILTERS),
                                                   options=QFileDialog.Option.DontConfirmOverwrite)
        if path and chosen == GENERATED_FILTERS[1] and not path.lower().endswith(".npz"):
            path += ".npz"
        return path or None

    def ask_bookmark_name(self, default: str) -> str | None:
        """A name for a new bookmark; None if cancelled."""
        name, ok = QInputDialog.getText(self, "Bookmark the probe", "Name:", text=default)
        return name if ok else None

    # -- showing values -------------------------------------------------------------------
    def show_scene(self, scene: Any) -> None:
        """Show a new :class:`~latentlab.gui.state.Scene`: title, points, axes, choosers."""
        self._scene = scene
        self._update_title()
        new_model = scene.model_key != self._model_key
        if scene.data_key != self._data_key:
            self._data_key = scene.data_key
            self.plane.set_thumbnail_source(
                None if scene.item_image is None else (lambda i, f=scene.item_image: display_image(f(i))))
            if self.tools is not None:
                self.attributes.refresh_classes()
                self.browser.refresh()
        if new_model:
            self._model_key = scene.model_key
            self.side.configure(scene.latent_dim, scene.condition_names, scene.conditional)
            self.realness_action.setEnabled(scene.has_model and scene.model_config.capabilities.adversarial)
            self.side.show_output_kind(scene.output.kind if scene.output is not None else "image")
            if self.side.sequence is not None:
                self.side.sequence.reset_range()   # another model's outputs have their own scale
            self.clear_status()   # what was said about the last model is stale now
        if not scene.has_model:
            self.decoded.clear(NO_MODEL_HINT)
            self.set_hint(NO_MODEL_HINT)
            self.zbars.hide()   # nothing to show until a model exists
        else:
            self.zbars.show()
            self.set_hint(READY_HINT)
        self.side.show_plane(scene.plane_kind, scene.plane_dims)
        self.zbars.set_highlight(scene.plane_dims if scene.plane_kind == "dims" and scene.latent_dim > 2 else ())
        self._show_points(scene)
        if scene.axis_names != self._axis_names:   # a new label lays the plot out again: only when it changes
            self._axis_names = scene.axis_names
            self.plane.set_axis_names(*scene.axis_names)
        self._update_resumable()

    def _show_points(self, scene: Any) -> None:
        if scene.xy is None:
            if self._points_key is not None or self.plane.point_count():
                self.plane.set_points(empty_xy(), None, ())
                self.plane.set_point_errors(None)
            self._points_key, self._shown_xy = None, None
            return
        if scene.xy is self._shown_xy:
            return
        key = scene.layout_key()
        if key == self._points_key and self.plane.point_count() == len(scene.xy):
            # Same points, new positions (training, a new plane of the same kind): far cheaper.
            self.plane.update_points(scene.xy)
        else:
            self.plane.set_points(scene.xy, *self._point_classes_for(scene))
            self._points_key = key
            self._apply_marks(scene)
        self.plane.set_point_errors(scene.errors)   # an inverted generator's dots: faint where it fails
        self._shown_xy = scene.xy

    def show_point_classes(self, key: Any, labels: np.ndarray | None, names: tuple[str, ...] = ()) -> None:
        """Colour the points by ``labels`` (predicted classes named ``names``) while the scene's
        ``(model_key, data_key)`` is ``key``; None: by the data's own labels again."""
        self._point_classes = None if labels is None else (key, np.asarray(labels), tuple(names))
        scene = self._scene
        if scene is not None and scene.xy is not None and self.plane.point_count() == len(scene.xy):
            self.plane.set_point_labels(*self._point_classes_for(scene))

    def show_marked_points(self, key: Any, indices: np.ndarray | None, note: str | None = None) -> None:
        """Ring the points ``indices`` (the images whose labels a model learned from) while the
        scene's ``(model_key, data_key)`` is ``key``, with ``note`` in the legend; None: no rings."""
        self._marks = None if indices is None else (key, np.asarray(indices))
        self.plane.set_legend_note("marked", None if indices is None else note)
        if self._scene is not None:
            self._apply_marks(self._scene)

    def _apply_marks(self, scene: Any) -> None:
        marks = self._marks
        fits = marks is not None and marks[0] == (scene.model_key, scene.data_key) and scene.xy is not None \
            and self.plane.point_count() == len(scene.xy) and (not len(marks[1]) or marks[1].max() < len(scene.xy))
        self.plane.set_marked(marks[1] if fits else None)

    def _point_classes_for(self, scene: Any) -> tuple[np.ndarray | None, tuple[str, ...]]:
        chosen = self._point_classes
        if chosen is not None and chosen[0] == (scene.model_key, scene.data_key) \
                and scene.xy is not None and len(chosen[1]) == len(scene.xy):
            return chosen[1], chosen[2]
        return scene.labels, scene.class_names

    def show_probe(self, probe: Any) -> None:
        """Draw the probe where a :class:`~latentlab.gui.state.Probe` says it is."""
        if self.plane.probe_position() != probe.position:
            self.plane.set_probe(*probe.position)
        self.side.show_condition(probe.condition)

    def show_decoded(self, decoded: Any) -> None:
        """Show a decoded probe: its image, caption and code."""
        view = self.side.output_view()
        if decoded is None:
            view.clear(NO_MODEL_HINT)
            return
        if view is self.side.sequence and self._scene is not None and self._scene.output is not None:
            view.set_output(decoded.image, self._scene.output)
        else:
            view.set_image(decoded.image)
        view.set_caption(decoded.caption)
        if decoded.probe.z is not None:
            self.zbars.set_z(decoded.probe.z)

    def show_probe_score(self, view: Any) -> None:
        """Show how far the probe is from the data (a ``probe_score.ScoreView``; None: nothing)."""
        if view is None:
            self.plane.set_probe_level(None)
            self.side.nearest.clear()
            return
        s = view.score
        self.plane.set_probe_level(s.level)
        image = None if view.nearest_image is None else display_image(view.nearest_image)
        self.side.nearest.show_score(s.level, s.ratio, s.nearest, s.log_density, s.log_prior, image)

    def show_selection(self, index: int | None) -> None:
        """Ring data point ``index`` on the plane (None: no ring)."""
        if index is None or 0 <= index < self.plane.point_count():
            self.plane.set_selected(index)

    def show_path(self, xy: np.ndarray | None, waypoints: np.ndarray | None) -> None:
        """Draw the interpolation path (plane coordinates), or clear it with None."""
        self.plane.set_path(xy, waypoints)

    def show_arrow(self, ends: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Draw the attribute arrow from ``ends[0]`` to ``ends[1]``, or remove it with None."""
        if ends is None:
            self.plane.clear_arrow()
        else:
            self.plane.set_arrow(*ends)

    def show_mosaic(self, image: np.ndarray | None, rect: tuple[float, float, float, float] | None) -> None:
        """Put a decoded mosaic under the points (None: remove it)."""
        if image is None or rect is None:
            self.plane.clear_mosaic()
        else:
            self.plane.set_mosaic(image, rect)

    def show_realness(self, values: np.ndarray | None, rect: tuple[float, float, float, float] | None) -> None:
        """Put the discriminator's realness under the points (None: remove it)."""
        self.plane.set_realness(values, rect)

    def _show_attribute_choice(self, attribute: Any) -> None:
        # A restored attribute shows its classes and amount (the panel only follows its own
        # combos otherwise). Changing them here applies nothing: the probe is not on it.
        if attribute is not None and not self.tools.is_applied():
            self.attributes.set_classes(attribute.to_class, attribute.from_class)
            self.attributes.set_amount(attribute.amount)

    def show_run(self, run: Any) -> None:
        """Show training: the panel's state and progress, the loss curves, the final line."""
        previous, self._run = self._run, run
        panel = self.training_panel
        if previous is None or run.status != previous.status:
            panel.set_state(run.status)
        if previous is None or run.run_id != previous.run_id:
            # Another model or a new run: the curves start from the epochs it already has.
            self._flush_soon.cancel()
            self._loss_points.clear()
            self.loss_plot.load_history(list(run.history))
            self._plot_epochs = None
        progress = run.progress
        if progress is not None and (previous is None or progress is not previous.progress):
            self._show_progress(progress, run.epoch_offset)
        if run.status == "idle" and previous is not None and previous.status != "idle" \
                and previous.run_id == run.run_id:
            self.flush_loss_points()
            self.show_final_status(run)
        elif run.status == "running" and (previous is None or previous.status == "idle"):
            panel.set_status("Training…")
        idle = run.status == "idle"
        for action in (self.open_action, self.open_data_action, self.open_folder_action, self.recent_menu):
            action.setEnabled(idle)   # another model or data set would end the run: stop it first
        self._update_title()
        self._update_resumable()

    def _show_progress(self, p: Any, offset: int) -> None:
        steps = max(p.steps_per_epoch, 1)
        in_epoch = p.step - (p.epoch - 1) * steps
        fraction = min(1.0, p.step / (steps * max(p.epochs, 1)))
        # Continued training numbers its epochs after the model's earlier ones.
        self.training_panel.set_progress(p.epoch + offset, p.epochs + offset, fraction, p.eta_s, p.images_per_s,
                                         p.precision)
        if self._plot_epochs != p.epochs + offset:   # the curves' x axis spans the whole run
            self._plot_epochs = p.epochs + offset
            self.loss_plot.set_epochs(self._plot_epochs)
        x = offset + (float(p.epoch) if p.epoch_done else (p.epoch - 1) + min(max(in_epoch / steps, 0.0), 1.0))
        self._loss_points.append(("train", x, p.terms))
        if p.val:
            self._loss_points.append(("val", float(offset + p.epoch), p.val))
        self._flush_panels_soon()

    def show_quality(self, state: Any) -> None:
        """Show the sample-quality readings (a ``quality_watch.QualityState``). While the probe
        is dragged, a reading waits for the loss curves' next redraw: one longer frame, not two."""
        if self.probe_dragged():
            self._held_quality = state
            self._flush_panels_soon()
        else:
            self._held_quality = None
            self.quality.show_quality(state)

    def _flush_panels_soon(self) -> None:
        self._flush_soon.setTimeout(LOSS_FLUSH_MOVING_MS if self.probe_dragged() else LOSS_FLUSH_MS)
        self._flush_soon()

    def _flush_paced(self) -> None:
        self.pace(self.flush_loss_points)

    def flush_loss_points(self) -> None:
        """Draw the loss points gathered since the last flush, and a sample-quality reading
        held back while the probe moved.

        While the probe moves, the reading and the points are two calls of ``pace``: each takes a
        few milliseconds, and the pacer leaves the points for the next frame when the reading
        used up the spare time of this one.
        """
        self._flush_soon.cancel()
        held, self._held_quality = self._held_quality, None
        if held is not None:
            self.quality.show_quality(held)
        self.pace(self._draw_loss_points)

    def _draw_loss_points(self) -> None:
        points, self._loss_points = self._loss_points, []
        for split, x, terms in points:
            if split == "train":
                self.loss_plot.add_train(x, terms)
            else:
                self.loss_plot.add_val(x, terms)
        self.loss_plot.redraw_now()   # in this turn: the curves' redraw is this frame's work too

    def _update_title(self) -> None:
        scene, run = self._scene, self._run
        if scene is None or not scene.has_model:
            self.setWindowTitle(APP_TITLE)
            return
        unsaved = " (unsaved)" if run is not None and run.unsaved else ""
        self.setWindowTitle(f"{APP_TITLE} — {scene.model_name}{unsaved}")

    def _update_resumable(self) -> None:
        scene, run = self._scene, self._run
        if scene is None:
            return
        if run is None or not run.training:   # the panel is disabled while training; it keeps its state
            self.training_panel.set_resumable(bool(scene.has_model and scene.fits_data))
        self.describe_model_in_panel(scene)

    # -- the training panel's choices ---------------------------------------------------
    def training_choices(self) -> dict[str, Any]:
        """What the person chose in the training panel, to remember between launches."""
        return self.training_panel.choices()

    def apply_training_choices(self, choices: dict[str, Any]) -> None:
        """Restore remembered choices."""
        if choices:
            self.training_panel.apply_choices(choices)

    def choose_data_in_panel(self, source: dict[str, Any]) -> None:
        """The person opened a data set: the panel's data choice follows it."""
        self.training_panel.apply_settings({"data": panel_data_settings(source)})

    def describe_model_in_panel(self, scene: Any) -> None:
        """The panel describes the model on screen apart from the person's choices."""
        if scene is None or not scene.has_model:
            self.training_panel.describe_model(None)
            return
        history = self._run.history if self._run is not None else ()
        training = self._run is not None and self._run.training
        # The data it was trained on (from its file or its run), not the data on screen.
        self.training_panel.describe_model({
            **scene.model_config.to_dict(), "epochs": len(history), "data": scene.trained_on,
            "training": training, "resumable": bool(scene.fits_data) or training})

    def show_final_status(self, run: Any) -> None:
        """How the last run ended, under the training controls."""
        if run.outcome is None:   # it failed before the trainer returned: the message says why
            self.training_panel.set_status(run.message)
            return
        status, epoch, epochs, loss, message = run.outcome
        self.training_panel.show_result(status, epoch, epochs, loss, message)

    # -- status bar ---------------------------------------------------------------------
    def show_loading(self, message: str) -> None:
        """What the window shows before a controller is attached."""
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

    def clear_status(self) -> None:
        """Drop the passing message: the hint shows again."""
        self._hover_text = ""
        self.statusBar().clearMessage()

    def _on_point_hovered(self, index: int) -> None:
        bar = self.statusBar()
        if self._scene is not None and index >= 0:
            self._hover_text = self._scene.item_text(index)
            bar.showMessage(self._hover_text)
        elif self._hover_text and bar.currentMessage() == self._hover_text:
            # The mouse left the point: give the status bar back to the hint.
            self._hover_text = ""
            bar.clearMessage()

    def show_error(self, title: str, message: str) -> None:
        show_error(self, title, message)
        self.show_status(message.splitlines()[0] if message else title)

    def show_warning(self, title: str, message: str) -> QMessageBox:
        """Show a warning without blocking the caller (objectName ``"warningDialog"``)."""
        box = QMessageBox(self)   # the parent keeps it alive until it is closed
        box.setObjectName("warningDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(message)
        box.setStandardButtons(QMessageBox.StandardButton.Ok)
        box.finished.connect(lambda _result: box.deleteLater())
        box.open()
        return box

    def show_about(self) -> None:
        AboutDialog(self).open()

    def reset_view(self) -> None:
        """View ▸ Reset View: frame the points and the probe."""
        self.plane.reset_view()

    def refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = prefs.recent_models()
        for path in paths:
            action = self.recent_menu.addAction(os.path.basename(path.rstrip(os.sep)) or path)
            action.setToolTip(path)
            action.triggered.connect(functools.partial(self._open_recent, path))
        if not paths:
            self.recent_menu.addAction("No recent models").setEnabled(False)

    def _open_recent(self, path: str, *_: Any) -> None:
        self._request(self.openModelRequested, path)

    # -- layout -----------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        geometry, state = prefs.window_layout()
        if geometry is None or not self.restoreGeometry(geometry):
            self._first_run_size()
        if state is None or not self.restoreState(state, LAYOUT_VERSION):
            self._default_dock_sizes()

    def _default_dock_sizes(self) -> None:
        """First run: a training column wide enough for its form, a strip for curves and tools."""
        self.resizeDocks([self.training_dock], [320], Qt.Orientation.Horizontal)
        self.resizeDocks([self.loss_dock], [250], Qt.Orientation.Vertical)

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

    # -- threads, drops, closing --------------------------------------------------------
    def adopt_thread(self, thread: QThread) -> None:
        """Keep a helper thread (start-up loading) alive; closing the window waits for it."""
        self._helper_threads.append(thread)
        thread.finished.connect(functools.partial(self._forget_thread, thread))

    def _forget_thread(self, thread: QThread) -> None:
        if thread in self._helper_threads:
            self._helper_threads.remove(thread)

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
        elif not self.ready:
            self.show_status("Still loading the model; drop the images again in a moment.")
        else:
            self.filesDropped.emit(paths)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.closed and not self.before_close():
            event.ignore()   # the person chose to keep working
            return
        self.closed = True
        prefs.save_window_layout(QByteArray(self.saveGeometry()), QByteArray(self.saveState(LAYOUT_VERSION)))
        prefs.save_training_choices(self.training_choices())
        self.closing.emit()   # the controller stops its threads before this returns
        for thread in list(self._helper_threads):
            # Start-up loading cannot be interrupted (it is mostly an import); it is short.
            thread.wait()
        super().closeEvent(event)
