"""The main window's Export menu and its session files.

:class:`WindowExports` gathers what each export needs from the window (the decoded
image, the manifold grid, the path frames, the codes) and hands it to
:mod:`latentlab.gui.tools.export_dialogs`, which asks for options and a file and
confirms overwriting. Sessions (bookmarks, the path, the plane, the attribute) are saved
as JSON that names the model by path and content hash; opening one whose model changed
since shows a warning.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from latentlab.core.checkpoint import model_content_hash
from latentlab.core.errors import LatentLabError
from latentlab.core.session_file import Session as SessionFile
from latentlab.core.session_file import check_model, load_session, save_session
from latentlab.gui.views import dialogs
from latentlab.gui import manifold as grids
from latentlab.gui.tools import apply_session, collect_session, export_dialogs

if TYPE_CHECKING:
    from latentlab.gui.window.window_tools import WindowTools

SESSION_FILTER = "LatentLab sessions (*.json);;All files (*)"


def _ask_session_path(parent: QWidget, save: bool) -> str | None:
    """Ask for a session file to save or open; None if cancelled."""
    if save:
        path, _ = QFileDialog.getSaveFileName(parent, "Save the session", "session.json", SESSION_FILTER,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path and not path.lower().endswith(".json"):
            path += ".json"
    else:
        path, _ = QFileDialog.getOpenFileName(parent, "Open a session", "", SESSION_FILTER)
    return path or None


def show_warning(parent: QWidget, title: str, message: str) -> QMessageBox:
    """Show a warning without blocking the caller (objectName ``"warningDialog"``)."""
    box = QMessageBox(parent)   # the parent keeps it alive until it is closed
    box.setObjectName("warningDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.finished.connect(lambda _result: box.deleteLater())
    box.open()
    return box


class WindowExports:
    """Export menu actions and session files for one window (see the module doc)."""

    def __init__(self, tools: WindowTools) -> None:
        self.tools = tools
        self.window, self.session, self.controller = tools.window, tools.session, tools.controller
        self._pending: SessionFile | None = None
        self.session.codesChanged.connect(self._apply_pending)

    # -- images ---------------------------------------------------------------------------
    def export_decoded(self) -> str | None:
        """File ▸ Export ▸ Decoded Image…: the image at the probe, scaled up."""
        image = self.window.decoded.current_image()
        if image is None:
            self.window.show_error("Nothing to export", "Open or train a model first: nothing is decoded yet.")
            return None
        return export_dialogs.export_decoded_png(self.window, image)

    def manifold_images(self) -> tuple[np.ndarray, int]:
        """The manifold grid as images ``[N, C, H, W]`` (top row first) and its column count.

        The grid over the prior when the manifold is in prior mode, else over the view.
        """
        s, w = self.session, self.window
        if s.plane is None or not s.model_ready():
            raise LatentLabError("Open or train a model first: there is no manifold to export.")
        if w.manifold is not None and w.manifold.mode == "prior":
            codes, _ = grids.prior_grid_codes(s.plane, grids.PRIOR_GRID_SIDE)
            n_cols = grids.PRIOR_GRID_SIDE
        else:
            n_cols, n_rows = grids.view_cells(w.plane.width(), w.plane.height())
            codes = grids.view_grid_codes(s.plane, w.plane.visible_rect(), n_cols, n_rows)
        return self.controller.decode(codes.numpy()), n_cols

    def export_manifold_sheet(self) -> str | None:
        """File ▸ Export ▸ Manifold Sheet…: the decoded grid as one PNG."""
        try:
            images, n_cols = self.manifold_images()
        except LatentLabError as exc:
            self.window.show_error("Nothing to export", str(exc))
            return None
        return export_dialogs.export_grid_png(self.window, images, n_cols)

    def _frames(self) -> np.ndarray | None:
        frames = self.controller.frames()
        if frames is None:
            self.window.show_error("No path to export", NO_PATH_TEXT)
        return frames

    def export_strip(self) -> str | None:
        """File ▸ Export ▸ Interpolation Strip…"""
        frames = self._frames()
        return None if frames is None else export_dialogs.export_strip(self.window, frames)

    def _animation(self, export: Any) -> str | None:
        frames = self._frames()
        if frames is None:
            return None
        panel = self.tools.interpolation
        return export(self.window, frames, fps=panel.fps_spin.value(), loop=panel.loop_check.isChecked(),
                      pingpong=panel.pingpong_check.isChecked())

    def export_gif(self) -> str | None:
        """File ▸ Export ▸ Interpolation GIF…"""
        return self._animation(export_dialogs.export_gif)

    def export_apng(self) -> str | None:
        """File ▸ Export ▸ Interpolation APNG…"""
        return self._animation(export_dialogs.export_apng)

    # -- codes ----------------------------------------------------------------------------
    def export_data_codes(self) -> str | None:
        """File ▸ Export ▸ Latent Codes…: every data item's code, with its label."""
        s = self.session
        if s.codes is None or s.data is None:
            self.window.show_error("No codes yet", "Open a model and a matching data set, then wait for "
                                   "the plane to fill: the codes are what it shows.")
            return None
        labels = None if s.data.labels is None else s.data.labels.numpy()
        names = list(s.data.class_names) if labels is not None else None
        return export_dialogs.export_codes(self.window, s.codes, labels, names)

    def export_path_codes(self) -> str | None:
        """File ▸ Export ▸ Path Codes…: the interpolation path's codes in order."""
        path = self.controller.path()
        if path is None:
            self.window.show_error("No path to export", NO_PATH_TEXT)
            return None
        return export_dialogs.export_codes(self.window, path)

    # -- sessions -------------------------------------------------------------------------
    def _plane_record(self) -> dict[str, Any]:
        s = self.session
        record: dict[str, Any] = {"kind": s.plane_kind, "dims": [int(v) for v in s.plane_dims]}
        if s.plane_kind == "points":
            record["anchors"] = [int(i) for i in s.selected[-3:]]
        return record

    def save_session_as(self, path: str | None = None) -> str | None:
        """File ▸ Save Session…: bookmarks, the path, the plane and the attribute as JSON."""
        s, w = self.session, self.window
        if s.model is None or not s.model_path:
            w.show_error("Save the model first", "A session refers to its model by file. Save the model "
                         "(File ▸ Save Model…) or open a saved one, then save the session.")
            return None
        path = path or _ask_session_path(w, save=True)
        if not path or (os.path.exists(path) and not dialogs.confirm_overwrite(w, path)):
            return None
        try:
            record = collect_session(self.controller, os.path.abspath(s.model_path),
                                     model_content_hash(s.model_path), self._plane_record())
            save_session(path, record)
        except LatentLabError as exc:
            w.show_error("Could not save the session", str(exc))
            return None
        w.show_status(f"Saved the session to {path}")
        return path

    def open_session(self, path: str | None = None) -> bool:
        """File ▸ Open Session…: open its model if another is current, then restore it."""
        w, s = self.window, self.session
        path = path or _ask_session_path(w, save=False)
        if not path:
            return False
        try:
            record = load_session(path)
        except LatentLabError as exc:
            w.show_error("Could not open the session", str(exc))
            return False
        if not self._open_its_model(record):
            return False
        current = ""
        if s.model_path:
            try:
                current = model_content_hash(s.model_path)
            except LatentLabError:
                current = ""
        warning = check_model(record, current)
        if s.codes is None:
            self._pending = record     # attribute vectors need the codes: finish when they come
        else:
            self._apply(record)
        if warning:
            show_warning(w, "The model has changed", warning)
        w.show_status(f"Opened the session {os.path.basename(path)}")
        return True

    def _open_its_model(self, record: SessionFile) -> bool:
        s, w = self.session, self.window
        target = record.model_path
        # samefile raises when either file is gone (the current model may have been deleted).
        same = bool(s.model_path) and bool(target) and os.path.exists(target) \
            and os.path.exists(s.model_path) and os.path.samefile(target, s.model_path)
        if target and not same and os.path.exists(target):
            return w.open_model(target)
        if s.model is None:
            w.show_error("Could not open the session", f"Its model “{target}” does not exist. "
                         "Open the model first, then the session.")
            return False
        return True

    def _apply_pending(self) -> None:
        if self._pending is not None and self.session.codes is not None:
            record, self._pending = self._pending, None
            self._apply(record)

    def _apply(self, record: SessionFile) -> None:
        self.window.apply_plane_record(record.plane)
        self.tools.guard("Could not restore the session", lambda: apply_session(self.controller, record))
        self.tools.redraw_overlays()


NO_PATH_TEXT = ("There is no path yet. Shift+click two or more points on the plane (or use the "
                "Interpolation panel) to make one.")
