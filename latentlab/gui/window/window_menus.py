"""The main window's menus and the file actions behind them.

:class:`WindowMenusMixin` is part of :class:`latentlab.gui.window.main_window.MainWindow`. The
menus exist from the first paint; the latent tools (and so the session, export and tool
entries) arrive with the session, so those entries forward to ``window.tools`` and say
"still loading" until then.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu

from latentlab.gui import settings as prefs
from latentlab.gui.views.dialogs import AboutDialog, confirm_overwrite

MODEL_FILTER = "LatentLab models (config.json *.latentlab);;All files (*)"
DATA_FILTER = "Data files (*-ubyte *-ubyte.gz *.idx *.idx.gz *.npz *.npy);;All files (*)"
STILL_LOADING = "Still loading the model; try again in a moment."

# (menu text, object name, what it calls on window.tools, shortcut)
EXPORT_ENTRIES = (
    ("&Decoded Image…", "exportDecodedAction", "exports.export_decoded", None),
    ("&Manifold Sheet…", "exportManifoldAction", "exports.export_manifold_sheet", None),
    ("Interpolation &Strip…", "exportStripAction", "exports.export_strip", None),
    ("Interpolation &GIF…", "exportGifAction", "exports.export_gif", None),
    ("Interpolation &APNG…", "exportApngAction", "exports.export_apng", None),
    ("&Latent Codes…", "exportCodesAction", "exports.export_data_codes", None),
    ("&Path Codes…", "exportPathCodesAction", "exports.export_path_codes", None),
)
TOOL_ENTRIES = (
    ("Add &Selected Point to Path", "addSelectedAction", "add_selected", None),
    ("Add &Probe to Path", "addProbeAction", "add_probe", None),
    ("&Bookmark Probe…", "bookmarkProbeAction", "bookmark_probe", "Ctrl+B"),
)


class WindowMenusMixin:
    """Menus and file actions of the main window (see the module doc)."""

    def _action(self, menu: QMenu, text: str, slot: Callable[..., Any], name: str,
                shortcut: Any = None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _tool_slot(self, dotted: str) -> Callable[..., Any]:
        """A slot calling ``window.tools.<dotted>()`` once the tools exist."""
        def call(*_: Any) -> Any:
            target = self.tools
            if target is None:
                self.show_status(STILL_LOADING)
                return None
            for part in dotted.split("."):
                target = getattr(target, part)
            return target()
        return call

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
        self._action(view_menu, "&Reset View", self.plane.auto_range, "resetViewAction", "Ctrl+0")
        view_menu.addSeparator()
        view_menu.addAction(self.training_dock.toggleViewAction())
        view_menu.addAction(self.loss_dock.toggleViewAction())
        tools_menu = self.tools_menu = bar.addMenu("&Tools")
        for text, name, dotted, shortcut in TOOL_ENTRIES:
            self._action(tools_menu, text, self._tool_slot(dotted), name, shortcut)
        self._action(tools_menu, "Browse &Data…", self._raise_data_browser, "browseDataAction")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About LatentLab", self.show_about, "aboutAction")

    def _build_file_menu(self, file_menu: QMenu) -> None:
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
        self.open_session_action = self._action(file_menu, "Open Session…", self._tool_slot("exports.open_session"),
                                                "openSessionAction")
        self.save_session_action = self._action(file_menu, "Save Session…",
                                                self._tool_slot("exports.save_session_as"), "saveSessionAction")
        export_menu = self.export_menu = file_menu.addMenu("&Export")
        export_menu.setObjectName("exportMenu")
        for text, name, dotted, shortcut in EXPORT_ENTRIES:
            self._action(export_menu, text, self._tool_slot(dotted), name, shortcut)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, "quitAction", QKeySequence.StandardKey.Quit)

    def _raise_data_browser(self) -> None:
        if self.tools is None:
            self.show_status(STILL_LOADING)
            return
        dock = self.tools.docks["data"]
        dock.show()
        dock.raise_()

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

    def show_about(self) -> None:
        AboutDialog(self).open()
