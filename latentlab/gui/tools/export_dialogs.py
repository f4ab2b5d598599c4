"""Export what the decoder makes: ask for options and a file, then call the core writers.

Each ``export_*`` function asks for its options (:func:`_ask_options`, a small
:class:`ExportOptionsDialog`), then for a path (:func:`_ask_save_path`), confirms
replacing an existing file (:func:`latentlab.gui.views.dialogs.confirm_overwrite`) and writes
with :mod:`latentlab.core.export`. It returns the path written, or None when the user
cancelled or the write failed; a failure is shown with :func:`latentlab.gui.views.dialogs.show_error`.
``_ask_options`` and ``_ask_save_path`` are module functions so tests can replace them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from latentlab.core import export as core_export
from latentlab.core.errors import LatentLabError
from latentlab.gui.views import dialogs

PNG_FILTER = "PNG images (*.png)"
GIF_FILTER = "GIF animations (*.gif)"
APNG_FILTER = "Animated PNG (*.png *.apng)"
MP4_FILTER = "MP4 video (*.mp4)"
CODES_FILTER = "CSV table (*.csv);;NumPy array (*.npy);;NumPy archive (*.npz)"


class ExportOptionsDialog(QDialog):
    """Scale, and for animations frames per second, loop and ping-pong.

    ``options`` names the fields to show (any of ``"scale"``, ``"fps"``, ``"loop"``,
    ``"pingpong"``) with their starting values; :meth:`values` reads them back.
    """

    def __init__(self, title: str, options: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportOptionsDialog")
        self.setWindowTitle(title)
        form = QFormLayout(self)
        self.fields: dict[str, QSpinBox | QCheckBox] = {}
        if "scale" in options:
            self.fields["scale"] = self._spin(form, "Scale (pixels per pixel):", 1, 32, options["scale"])
        if "fps" in options:
            self.fields["fps"] = self._spin(form, "Frames per second:", 1, 60, options["fps"])
        for key, text in (("loop", "Loop forever"), ("pingpong", "Ping-pong (forwards, then back)")):
            if key in options:
                box = QCheckBox(text)
                box.setChecked(bool(options[key]))
                box.setObjectName(f"export_{key}")
                form.addRow(box)
                self.fields[key] = box
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _spin(self, form: QFormLayout, text: str, lo: int, hi: int, value: Any) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(lo, hi)
        spin.setValue(int(value))
        spin.setObjectName(f"export_{text.split()[0].lower()}")
        form.addRow(text, spin)
        return spin

    def values(self) -> dict[str, Any]:
        """The chosen options: ints for spins, bools for check boxes."""
        return {k: (w.value() if isinstance(w, QSpinBox) else w.isChecked()) for k, w in self.fields.items()}


def _ask_options(parent: QWidget | None, title: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """Show :class:`ExportOptionsDialog`; the chosen values, or None if cancelled."""
    dialog = ExportOptionsDialog(title, options, parent)
    try:
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()


def _ask_save_path(parent: QWidget | None, caption: str, name_filter: str, default_name: str) -> str | None:
    """Ask for a file to write; None if cancelled. Overwriting is confirmed separately."""
    path, _ = QFileDialog.getSaveFileName(parent, caption, default_name, name_filter,
                                          options=QFileDialog.Option.DontConfirmOverwrite)
    return path or None


def _with_suffix(path: str, suffixes: Sequence[str]) -> str:
    # Dialogs on some platforms return the typed name without the filter's extension.
    return path if path.lower().endswith(tuple(suffixes)) else path + suffixes[0]


def _run(parent: QWidget | None, caption: str, name_filter: str, default_name: str,
         suffixes: Sequence[str], write: Callable[[str], None]) -> str | None:
    path = _ask_save_path(parent, caption, name_filter, default_name)
    if not path:
        return None
    path = _with_suffix(path, suffixes)
    if os.path.exists(path) and not dialogs.confirm_overwrite(parent, path):
        return None
    try:
        write(path)
    except LatentLabError as exc:
        dialogs.show_error(parent, "Could not export", str(exc))
        return None
    return path


def _as_chw(image: np.ndarray) -> np.ndarray:
    """``[C, H, W]``, ``H x W`` or ``H x W x 3`` float -> ``[C, H, W]`` for the core writers."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 2:
        return arr[None]
    if arr.ndim == 3 and arr.shape[0] not in (1, 3) and arr.shape[2] in (1, 3):
        return np.ascontiguousarray(arr.transpose(2, 0, 1))
    return arr


def export_decoded_png(parent: QWidget | None, image: np.ndarray, default_scale: int = 8) -> str | None:
    """Save one decoded image (``[C, H, W]`` or ``H x W (x 3)``) as PNG."""
    opts = _ask_options(parent, "Export image", {"scale": default_scale})
    if opts is None:
        return None
    chw = _as_chw(image)
    return _run(parent, "Save image", PNG_FILTER, "decoded.png", (".png",),
                lambda p: core_export.save_png(p, chw, scale=opts["scale"]))


def export_grid_png(parent: QWidget | None, images: np.ndarray, n_cols: int, default_scale: int = 2) -> str | None:
    """Save images ``[N, C, H, W]`` as one sheet with ``n_cols`` columns."""
    opts = _ask_options(parent, "Export grid", {"scale": default_scale})
    if opts is None:
        return None
    return _run(parent, "Save grid", PNG_FILTER, "grid.png", (".png",),
                lambda p: core_export.save_grid(p, _tensor(images), n_cols, scale=opts["scale"]))


def export_strip(parent: QWidget | None, frames: np.ndarray, default_scale: int = 2) -> str | None:
    """Save frames ``[M, C, H, W]`` side by side as one PNG."""
    opts = _ask_options(parent, "Export strip", {"scale": default_scale})
    if opts is None:
        return None
    return _run(parent, "Save strip", PNG_FILTER, "interpolation.png", (".png",),
                lambda p: core_export.save_strip(p, _tensor(frames), scale=opts["scale"]))


def _animation(parent: QWidget | None, frames: np.ndarray, fps: int, loop: bool, pingpong: bool,
               kind: str, name: str = "interpolation") -> str | None:
    # A video has no loop flag: players loop it themselves.
    options = {"scale": 4, "fps": fps, "pingpong": pingpong} if kind == "MP4" else \
        {"scale": 4, "fps": fps, "loop": loop, "pingpong": pingpong}
    opts = _ask_options(parent, f"Export {kind}", options)
    if opts is None:
        return None
    name_filter, suffixes = {"GIF": (GIF_FILTER, (".gif",)), "APNG": (APNG_FILTER, (".png", ".apng")),
                             "MP4": (MP4_FILTER, (".mp4",))}[kind]

    def write(path: str) -> None:
        if kind == "MP4":
            from latentlab.core.video import save_mp4   # imageio-ffmpeg only when a video is asked for

            save_mp4(path, _tensor(frames), fps=opts["fps"], pingpong=opts["pingpong"], scale=opts["scale"])
            return
        writer = core_export.save_gif if kind == "GIF" else core_export.save_apng
        # 0 loops forever; to play once, a GIF has no loop extension and an APNG plays 1 time.
        once = None if kind == "GIF" else 1
        writer(path, _tensor(frames), fps=opts["fps"], loop=0 if opts["loop"] else once,
               pingpong=opts["pingpong"], scale=opts["scale"])

    return _run(parent, f"Save {kind}", name_filter, f"{name}{suffixes[0]}", suffixes, write)


def export_gif(parent: QWidget | None, frames: np.ndarray, fps: int = 12, loop: bool = True,
               pingpong: bool = False, name: str = "interpolation") -> str | None:
    """Save frames ``[M, C, H, W]`` as an animated GIF."""
    return _animation(parent, frames, fps, loop, pingpong, "GIF", name)


def export_apng(parent: QWidget | None, frames: np.ndarray, fps: int = 12, loop: bool = True,
                pingpong: bool = False, name: str = "interpolation") -> str | None:
    """Save frames ``[M, C, H, W]`` as an animated PNG (lossless)."""
    return _animation(parent, frames, fps, loop, pingpong, "APNG", name)


def export_mp4(parent: QWidget | None, frames: np.ndarray, fps: int = 12, loop: bool = True,
               pingpong: bool = False, name: str = "interpolation") -> str | None:
    """Save frames ``[M, C, H, W]`` as an MP4 video (H.264; ``loop`` is left to the player)."""
    return _animation(parent, frames, fps, loop, pingpong, "MP4", name)


def export_codes(parent: QWidget | None, codes: np.ndarray, labels: np.ndarray | None = None,
                 names: Sequence[str] | None = None) -> str | None:
    """Save codes ``[N, D]`` (and labels) as CSV, NPY or NPZ, chosen by the file name."""
    return _run(parent, "Save codes", CODES_FILTER, "codes.csv", core_export.CODE_FORMATS,
                lambda p: core_export.save_codes(p, np.asarray(codes, np.float32), labels, names))


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
