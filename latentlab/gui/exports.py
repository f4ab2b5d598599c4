"""File ▸ Export: what each export needs, gathered from values, handed to the export dialogs.

:class:`Exports` belongs to the application's controller. It reads the current
:class:`~latentlab.gui.state.Scene`, the last decoded probe and the latent tools, asks for
options and a file through :mod:`latentlab.gui.tools.export_dialogs` (which confirms
overwriting) and writes with the core exporters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from latentlab.core.errors import LatentLabError
from latentlab.gui import manifold as grids
from latentlab.gui.probe_decoder import DecodedProbe
from latentlab.gui.state import Scene
from latentlab.gui.tools import ToolsController, export_dialogs, traversal_export

NO_PATH_TEXT = ("There is no path yet. Shift+click two or more points on the plane (or use the "
                "Interpolation panel) to make one.")
KINDS = ("decoded", "manifold", "strip", "gif", "apng", "mp4", "traversal", "codes", "path_codes")


class Exports:
    """The Export menu's actions for one window (see the module doc).

    ``window`` is the dialogs' parent and shows errors; its plane gives the visible region
    and its interpolation panel the animation options. ``scene()``, ``decoded()`` and
    ``manifold_mode()`` give the current values.
    """

    def __init__(self, window: Any, tools: ToolsController, scene: Callable[[], Scene],
                 decoded: Callable[[], DecodedProbe | None], manifold_mode: Callable[[], str]) -> None:
        self.window, self.tools = window, tools
        self._scene, self._decoded, self._manifold_mode = scene, decoded, manifold_mode

    def export(self, kind: str) -> str | None:
        """Export ``kind`` (one of :data:`KINDS`); the file written, or None."""
        exports = {"decoded": self.export_decoded, "manifold": self.export_manifold_sheet,
                   "strip": self.export_strip, "gif": self.export_gif, "apng": self.export_apng,
                   "mp4": self.export_mp4, "traversal": self.export_traversal,
                   "codes": self.export_data_codes, "path_codes": self.export_path_codes}
        if kind not in exports:
            raise ValueError(f"unknown export {kind!r}; expected one of {KINDS}")
        return exports[kind]()

    def export_decoded(self) -> str | None:
        """The image at the probe, scaled up."""
        decoded = self._decoded()
        if decoded is None or not self._scene().model_ready:
            self.window.show_error("Nothing to export", "Open or train a model first: nothing is decoded yet.")
            return None
        return export_dialogs.export_decoded_png(self.window, decoded.image)

    def manifold_images(self) -> tuple[np.ndarray, int]:
        """The manifold grid as images ``[N, C, H, W]`` (top row first) and its column count:
        over the prior when the manifold is in prior mode, else over the view."""
        scene = self._scene()
        if scene.plane is None or not scene.model_ready:
            raise LatentLabError("Open or train a model first: there is no manifold to export.")
        if self._manifold_mode() == "prior":
            codes, _ = grids.prior_grid_codes(scene.plane, grids.PRIOR_GRID_SIDE)
            n_cols = grids.PRIOR_GRID_SIDE
        else:
            view = self.window.plane
            n_cols, n_rows = grids.view_cells(view.width(), view.height())
            codes = grids.view_grid_codes(scene.plane, view.visible_rect(), n_cols, n_rows)
        return self.tools.decode(codes.numpy()), n_cols

    def export_manifold_sheet(self) -> str | None:
        """The decoded grid as one PNG."""
        try:
            images, n_cols = self.manifold_images()
        except LatentLabError as exc:
            self.window.show_error("Nothing to export", str(exc))
            return None
        return export_dialogs.export_grid_png(self.window, images, n_cols)

    def _frames(self) -> np.ndarray | None:
        frames = self.tools.frames()
        if frames is None:
            self.window.show_error("No path to export", NO_PATH_TEXT)
        return frames

    def export_strip(self) -> str | None:
        """The interpolation path's frames side by side."""
        frames = self._frames()
        return None if frames is None else export_dialogs.export_strip(self.window, frames)

    def _animation(self, export: Callable[..., str | None]) -> str | None:
        frames = self._frames()
        if frames is None:
            return None
        panel = self.window.interpolation
        return export(self.window, frames, fps=panel.fps_spin.value(), loop=panel.loop_check.isChecked(),
                      pingpong=panel.pingpong_check.isChecked())

    def export_gif(self) -> str | None:
        """The path as an animated GIF, with the interpolation panel's playback options."""
        return self._animation(export_dialogs.export_gif)

    def export_apng(self) -> str | None:
        """The path as an animated PNG, with the interpolation panel's playback options."""
        return self._animation(export_dialogs.export_apng)

    def export_mp4(self) -> str | None:
        """The path as an MP4 video, at the interpolation panel's frame rate."""
        return self._animation(export_dialogs.export_mp4)

    def export_traversal(self) -> str | None:
        """One latent dimension swept from the probe, as an animation (the plane's x axis by default)."""
        scene = self._scene()
        default = scene.plane_dims[0] if scene.plane_kind == "dims" else 0
        return traversal_export.export_traversal(self.window, self.tools, default_dim=default,
                                                 fps=self.window.interpolation.fps_spin.value())

    def export_data_codes(self) -> str | None:
        """Every data item's code, with its label."""
        scene = self._scene()
        if scene.codes is None:
            self.window.show_error("No codes yet", "Open a model and a matching data set, then wait for "
                                   "the plane to fill: the codes are what it shows.")
            return None
        names = list(scene.class_names) if scene.labels is not None else None
        return export_dialogs.export_codes(self.window, np.array(scene.codes), scene.labels, names)

    def export_path_codes(self) -> str | None:
        """The interpolation path's codes in order."""
        path = self.tools.path()
        if path is None:
            self.window.show_error("No path to export", NO_PATH_TEXT)
            return None
        return export_dialogs.export_codes(self.window, path)
