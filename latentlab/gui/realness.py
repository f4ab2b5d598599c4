"""The discriminator's realness D(G(z)) over the visible plane (View ▸ Discriminator Realness).

For a model with a discriminator (a GAN, a VAE-GAN), :class:`RealnessController` asks the
inference worker for ``inversion.realness`` at the centres of a grid of small cells over the
visible region and a margin around it, and hands the values to the view as a heat map under
the dots (a GAN Lab idea: where on the plane the generator convinces its critic).

It recomputes when the weights or the plane change (at most about once a second while
training sends snapshots) and when the view leaves the computed region or zooms far enough
that its cells would look coarse; small pans and zooms reuse the image already shown.
Latest request wins, like the mosaic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal
from superqt.utils import qdebounced, qthrottled

from latentlab.core import inference, inversion
from latentlab.core.models.base import ModelConfig
from latentlab.gui.manifold import MosaicInputs, view_grid_codes
from latentlab.gui.workers import InferenceWorker, JobHandle

#: Screen pixels per realness cell when computed, and the most cells per side.
CELL_PX = 8
MAX_CELLS_PER_SIDE = 112
#: The computed region reaches this fraction of the visible width and height past each edge.
MARGIN = 0.25
#: Zoomed in by more than this since the last computation, the cells are too coarse: recompute.
MAX_ZOOM_IN = 1.6
DEBOUNCE_MS = 150
WEIGHTS_INTERVAL_MS = 1000
CHUNK = 1024   # codes per call to the discriminator; a newer request is noticed between chunks


def has_discriminator(config: ModelConfig | None) -> bool:
    """Whether a model of ``config`` has a discriminator whose realness can be drawn."""
    return config is not None and bool(config.capabilities.adversarial)


def grid_shape(rect: tuple[float, float, float, float], width_px: float, height_px: float,
               visible: tuple[float, float, float, float]) -> tuple[int, int]:
    """Cells (columns, rows) over ``rect`` so a cell of the ``visible`` part is about
    :data:`CELL_PX` screen pixels of a ``width_px`` × ``height_px`` view."""
    cols = width_px / CELL_PX * rect[2] / max(visible[2], 1e-12)
    rows = height_px / CELL_PX * rect[3] / max(visible[3], 1e-12)
    return int(np.clip(round(cols), 4, MAX_CELLS_PER_SIDE)), int(np.clip(round(rows), 4, MAX_CELLS_PER_SIDE))


def expanded(rect: tuple[float, float, float, float], margin: float = MARGIN) -> tuple[float, float, float, float]:
    """``rect`` (x0, y0, w, h) grown by ``margin`` of its size on every side."""
    x0, y0, w, h = rect
    return x0 - margin * w, y0 - margin * h, w * (1 + 2 * margin), h * (1 + 2 * margin)


def realness_job(config: ModelConfig, state: dict[str, torch.Tensor], codes: torch.Tensor,
                 rows: int, cols: int):
    """A job for the inference worker: realness ``[rows, cols]`` of ``codes`` (top row first)."""
    def job(should_stop: Callable[[], bool]) -> np.ndarray | None:
        model = inference.model_from_state(config, state)
        parts = []
        for part in codes.split(CHUNK):
            if should_stop():
                return None
            parts.append(inversion.realness(model, part))
        return np.concatenate(parts).reshape(rows, cols)

    return job


class RealnessController(QObject):
    """Keeps the realness heat map in step with the model, the plane and the view.

    ``inputs()`` gives the weights, plane and view now (None: nothing to draw).
    ``realnessChanged(values, rect)`` carries each new map (``[H, W]``, row 0 the top edge,
    over plane rectangle ``(x0, y0, w, h)``), or ``(None, None)`` to remove it; ``failed(message)``
    says a computation failed.
    """

    realnessChanged = Signal(object, object)
    failed = Signal(str)

    def __init__(self, worker: InferenceWorker, inputs: Callable[[], MosaicInputs | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker, self._inputs = worker, inputs
        self.enabled = False
        self._handle: JobHandle | None = None
        self._basis: tuple[Any, Any] | None = None   # (state, plane) of the map shown or coming
        self._rect: tuple[float, float, float, float] | None = None   # the region it covers
        self._visible_w = 0.0    # the visible width it was computed for
        self.shown = False
        # A pan or zoom costs one look at the end; new weights at most one map a second.
        self.schedule = qdebounced(self.update_map, timeout=DEBOUNCE_MS, parent=self)
        self.refresh = qthrottled(self.update_map, timeout=WEIGHTS_INTERVAL_MS, leading=True, parent=self)

    def set_enabled(self, on: bool) -> None:
        """Switch the heat map on (computed now) or off (removed)."""
        self.enabled = bool(on)
        if self.enabled:
            self.update_map()
        else:
            self._drop()

    def update_map(self, *_: Any) -> bool:
        """Submit a new map if the weights, the plane or the view changed enough; True if one was."""
        if not self.enabled:
            return False
        inputs = self._inputs()
        if inputs is None or not has_discriminator(inputs.config):
            self._drop()
            return False
        visible = tuple(float(v) for v in inputs.rect)
        if not (visible[2] > 0 and visible[3] > 0 and inputs.width_px > 0 and inputs.height_px > 0):
            return False
        if not self._stale(inputs, visible):
            return False
        rect = expanded(visible)
        cols, rows = grid_shape(rect, inputs.width_px, inputs.height_px, visible)
        codes = view_grid_codes(inputs.plane, rect, cols, rows)
        self._basis, self._rect, self._visible_w = (inputs.state, inputs.plane), rect, visible[2]
        job = realness_job(inputs.config, inputs.state, codes, rows, cols)
        self._handle = self._worker.submit("realness", job, lambda values, r=rect: self._show(values, r),
                                           on_error=self._failed)
        return True

    def _stale(self, inputs: MosaicInputs, visible: tuple[float, float, float, float]) -> bool:
        """Whether the map shown (or coming) no longer fits: other weights or plane, the view
        outside its region, or zoomed in so far its cells look coarse."""
        if self._basis is None or self._rect is None:
            return True
        state, plane = self._basis
        if state is not inputs.state or plane is not inputs.plane:
            return True
        x0, y0, w, h = self._rect
        vx, vy, vw, vh = visible
        inside = vx >= x0 and vy >= y0 and vx + vw <= x0 + w and vy + vh <= y0 + h
        return not inside or vw * MAX_ZOOM_IN < self._visible_w

    def _show(self, values: np.ndarray | None, rect: tuple[float, float, float, float]) -> None:
        if values is None or not self.enabled:
            return
        self.shown = True
        self.realnessChanged.emit(values, rect)

    def _failed(self, message: str) -> None:
        self._basis = self._rect = None   # the next change tries again
        self.failed.emit(message)

    def _drop(self) -> None:
        self.schedule.cancel()
        self.refresh.cancel()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._basis = self._rect = None
        if self.shown:
            self.shown = False
            self.realnessChanged.emit(None, None)
