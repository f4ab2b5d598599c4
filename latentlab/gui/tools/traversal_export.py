"""File ▸ Export ▸ Traversal Animation…: one latent dimension swept from the probe, as GIF, APNG or MP4.

The probe's code stays fixed except for the chosen dimension, which sweeps ``-r σ`` to ``+r σ``
(σ = 1, the prior) in the chosen number of steps (:func:`latentlab.core.latent.traversal`, the
same sweep as a row of the traversal panel, finer). The frames are decoded through the tools'
host and written by :mod:`latentlab.gui.tools.export_dialogs`, which asks for the animation's
own options (scale, frame rate, ping-pong) and the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import traversal
from latentlab.gui.tools import export_dialogs
from latentlab.gui.tools.tools_controller import ToolsController
from latentlab.gui.views import dialogs

__all__ = ["FORMATS", "TraversalExportDialog", "export_traversal", "traversal_frames"]

FORMATS = ("MP4", "GIF", "APNG")
DEFAULT_STEPS = 48
MAX_STEPS = 600


def traversal_frames(tools: ToolsController, dim: int, steps: int, sigma_range: float) -> np.ndarray:
    """Frames ``[steps, C, H, W]``: the probe's code with dimension ``dim`` swept across ±``sigma_range``."""
    z = tools.probe()
    if not 0 <= dim < z.size:
        raise LatentLabError(f"There is no latent dimension {dim}; this model has {z.size}.")
    codes = traversal(torch.from_numpy(z), [dim], sigma_range=sigma_range, steps=steps)[0].numpy()
    return tools.decode(codes)


class TraversalExportDialog(QDialog):
    """Which dimension, how many steps, how far, and which format (objectName ``"traversalExportDialog"``)."""

    def __init__(self, latent_dim: int, default_dim: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("traversalExportDialog")
        self.setWindowTitle("Export a traversal")
        form = QFormLayout(self)
        self.dim_combo = QComboBox()
        for k in range(latent_dim):
            self.dim_combo.addItem(f"z{k}".translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")), k)
        self.dim_combo.setCurrentIndex(min(max(default_dim, 0), latent_dim - 1))
        form.addRow("Dimension:", self.dim_combo)
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(2, MAX_STEPS)
        self.steps_spin.setValue(DEFAULT_STEPS)
        form.addRow("Frames:", self.steps_spin)
        self.range_spin = QDoubleSpinBox()
        self.range_spin.setRange(0.5, 6.0)
        self.range_spin.setSingleStep(0.5)
        self.range_spin.setValue(3.0)
        self.range_spin.setSuffix(" σ")
        form.addRow("From −r to +r:", self.range_spin)
        self.format_combo = QComboBox()
        self.format_combo.addItems(FORMATS)
        form.addRow("Format:", self.format_combo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict[str, Any]:
        return {"dim": int(self.dim_combo.currentData()), "steps": self.steps_spin.value(),
                "sigma_range": float(self.range_spin.value()), "format": self.format_combo.currentText()}


def _ask_traversal(parent: QWidget | None, latent_dim: int, default_dim: int) -> dict[str, Any] | None:
    """Show :class:`TraversalExportDialog`; its values, or None if cancelled (tests replace this)."""
    dialog = TraversalExportDialog(latent_dim, default_dim, parent)
    try:
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()


def export_traversal(parent: QWidget | None, tools: ToolsController, default_dim: int = 0,
                     fps: int = 12) -> str | None:
    """Ask what to sweep and how to save it, then write it; the path written, or None."""
    if tools.probe_or_none() is None:
        dialogs.show_error(parent, "Nothing to export", "Open or train a model first: there is no probe to sweep from.")
        return None
    opts = _ask_traversal(parent, tools.latent_dim(), default_dim)
    if opts is None:
        return None
    try:
        frames = traversal_frames(tools, opts["dim"], opts["steps"], opts["sigma_range"])
    except LatentLabError as exc:
        dialogs.show_error(parent, "Could not export", str(exc))
        return None
    export = {"MP4": export_dialogs.export_mp4, "GIF": export_dialogs.export_gif,
              "APNG": export_dialogs.export_apng}[opts["format"]]
    return export(parent, frames, fps=fps, loop=True, pingpong=True, name=f"traversal-z{opts['dim']}")
