"""Latent geometry for the GUI: choosing planes and drawing the decoded manifold.

The plane helpers wrap :mod:`latentlab.core.latent` with numpy in and out (the views
speak numpy). The jobs here run in the inference worker, each with its own model built
from a detached copy of the weights. :class:`ManifoldController` keeps a mosaic of decoded
images under the scatter in step with the visible region (or with equal-probability steps
of the prior), debounced, computed in the inference worker with its own model copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal
from superqt.utils import qdebounced

from latentlab.core import inference, latent, render
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import ModelConfig
from latentlab.gui.workers import InferenceWorker, JobHandle

PLANE_KINDS = ("pca", "dims", "points")
DEBOUNCE_MS = 120
MAX_CELLS_PER_SIDE = 24
MIN_CELL_PX = 36          # a decoded cell smaller than this on screen is unreadable
SEQUENCE_CELL_PX = 48     # a sequence output drawn in one mosaic cell
PRIOR_GRID_SIDE = 15      # cells per side before the view's size is known (see prior_grid_side)
ENCODE_CHUNK = 512        # rows per encode step; the worker checks for newer requests between chunks


# -- arrays and weights ---------------------------------------------------------------------

def to_display(images: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` in [0, 1] -> float32 ``H x W`` (grey) or ``H x W x 3``."""
    arr = images.detach().to("cpu", torch.float32).numpy()
    return arr[0].copy() if arr.shape[0] == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0))


def encode_job(model_config: ModelConfig, state: dict[str, torch.Tensor], data: Dataset):
    """A job for the inference worker: the data set's latent means as numpy ``[N, D]``."""
    def job(should_stop) -> np.ndarray | None:
        model = inference.model_from_state(model_config, state)
        return inference.encode_dataset(model, data, should_stop=should_stop)

    return job


# -- planes ---------------------------------------------------------------------------------

def initial_plane(dim: int, kind: str = "pca", dims: tuple[int, int] = (0, 1)) -> latent.Plane:
    """A plane to use before any codes exist (the prior's centre, standard axes)."""
    if dim == 1:
        return latent.pca_plane(torch.zeros(1, 1))
    if kind == "dims" and dim > 2:
        return latent.dims_plane(dims[0], dims[1], dim)
    return latent.dims_plane(0, 1, dim)


def make_plane(kind: str, codes: np.ndarray, dims: tuple[int, int], anchors: Sequence[int],
               previous: latent.Plane | None = None) -> latent.Plane:
    """The plane of ``kind`` for these codes.

    ``"pca"`` follows the codes' spread; its axis signs are matched to ``previous`` so
    the scatter does not flip while training re-encodes. ``"dims"`` uses latent axes
    ``dims``; ``"points"`` passes through the codes of the three ``anchors`` (indices).
    """
    z = _tensor(codes)
    dim = int(z.shape[1])
    if kind == "dims" and dim >= 2:
        return latent.dims_plane(int(dims[0]), int(dims[1]), dim)
    if kind == "points":
        if len(anchors) < 3:
            raise LatentLabError("Select three points on the plane first (click them one after another).")
        a, b, c = (z[int(i)] for i in anchors[-3:])
        return latent.three_point_plane(a, b, c)
    plane = latent.pca_plane(z)
    if previous is not None and previous.kind == "pca" and previous.dim == plane.dim and dim > 2:
        signs = torch.sign((plane.basis * previous.basis).sum(dim=1, keepdim=True))
        signs[signs == 0] = 1.0
        plane = latent.Plane(plane.origin, plane.basis * signs, "pca", plane.meta)
    return plane


def project(plane: latent.Plane, codes: np.ndarray) -> np.ndarray:
    """Plane coordinates ``[N, 2]`` (float32) of codes ``[N, D]``."""
    return plane.project(_tensor(codes)).numpy()


def lift(plane: latent.Plane, xy: np.ndarray) -> np.ndarray:
    """Codes ``[N, D]`` (float32) at plane coordinates ``[N, 2]``."""
    return plane.lift(_tensor(xy)).numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """``a`` as float32; read-only arrays (a scene's, a probe's) are copied, torch needs writable memory."""
    arr = np.asarray(a, dtype=np.float32)
    return torch.from_numpy(arr if arr.flags.writeable else arr.copy())


def axis_names(plane: latent.Plane | None, latent_dim: int, dims: tuple[int, int]) -> tuple[str, str]:
    """Names of a plane's horizontal and vertical axes ("z₀"/"z₁", "PC 1"/"PC 2", ...)."""
    kind = plane.kind if plane is not None else "dims"
    if latent_dim <= 2 or kind == "dims":
        i, j = dims if latent_dim > 2 else (0, 1)
        return sub_digits(f"z{i}"), sub_digits(f"z{j}")
    if kind == "pca":
        return "PC 1", "PC 2"
    return "through points (x)", "through points (y)"


def sub_digits(name: str) -> str:
    """``z12`` -> ``z₁₂``: latent axes read like the maths."""
    return name[0] + name[1:].translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


# -- grids ------------------------------------------------------------------------------------

def view_cells(width_px: float, height_px: float) -> tuple[int, int]:
    """How many decoded cells fit a view of this size in pixels (columns, rows)."""
    n_x = int(np.clip(width_px // MIN_CELL_PX, 2, MAX_CELLS_PER_SIDE))
    n_y = int(np.clip(height_px // MIN_CELL_PX, 2, MAX_CELLS_PER_SIDE))
    return n_x, n_y


def prior_grid_span(n: int) -> float:
    """Side, in plane units, of the square an ``n x n`` prior grid's tiles cover.

    The outermost grid points sit at ``±Phi^-1((n - 0.5) / n)`` and each tile is one grid
    step wide (see :func:`prior_grid_codes`), whatever the plane.
    """
    if n < 2:
        raise ValueError(f"a prior grid needs at least 2 cells per side, got {n}")
    outer = NormalDist().inv_cdf((n - 0.5) / n)
    return 2.0 * outer * n / (n - 1)


def prior_grid_side(pixels_per_unit: float) -> int:
    """Cells per side of the prior grid for a view showing ``pixels_per_unit`` screen pixels
    per plane unit: as many as fit with every cell at least :data:`MIN_CELL_PX` on screen
    (2 to :data:`MAX_CELLS_PER_SIDE`). A fixed count gave ~13-pixel cells at a usual zoom.
    """
    if not (math.isfinite(pixels_per_unit) and pixels_per_unit > 0):
        return 2
    for n in range(MAX_CELLS_PER_SIDE, 2, -1):
        if prior_grid_span(n) * pixels_per_unit / n >= MIN_CELL_PX:
            return n
    return 2


def view_grid_codes(plane: latent.Plane, rect: tuple[float, float, float, float],
                    n_x: int, n_y: int) -> torch.Tensor:
    """Codes at the centres of an ``n_x x n_y`` tiling of ``rect = (x0, y0, w, h)``, top row first."""
    x0, y0, w, h = rect
    cw, ch = w / n_x, h / n_y
    return latent.view_grid(plane, (x0 + cw / 2, x0 + w - cw / 2), (y0 + ch / 2, y0 + h - ch / 2), n_x, n_y)


def prior_grid_codes(plane: latent.Plane, n: int) -> tuple[torch.Tensor, tuple[float, float, float, float]]:
    """Equal-probability grid codes and the rectangle its tiles cover (x0, y0, w, h)."""
    codes, (x_min, x_max, y_min, y_max) = latent.prior_grid(plane, n, plane.dim)
    dx = (x_max - x_min) / max(n - 1, 1)
    dy = (y_max - y_min) / max(n - 1, 1)
    return codes, (x_min - dx / 2, y_min - dy / 2, x_max - x_min + dx, y_max - y_min + dy)


def mosaic_job(model_config: Any, state: dict[str, torch.Tensor], codes: torch.Tensor,
               n_rows: int, n_cols: int, condition: int | None):
    """A job for the inference worker: decode ``codes`` and tile them into one image array."""
    def job(should_stop) -> np.ndarray | None:
        if should_stop():
            return None
        model = inference.model_from_state(model_config, state)
        images = inference.decode(model, codes, condition)
        spec = render.output_spec(model_config)
        if spec.kind == "sequence":   # the mosaic is a picture: each sequence is drawn in its cell
            images = render.as_images(images, spec, size=SEQUENCE_CELL_PX)
        return to_display(latent.tile(images, n_rows, n_cols))

    return job


@dataclass(frozen=True, eq=False)
class MosaicInputs:
    """What one mosaic is decoded from: the model's config and weights (a detached copy),
    the plane, the class a conditional decoder uses (None otherwise), the visible rectangle
    ``(x0, y0, w, h)``, the view's size in pixels and its scale (pixels per plane unit; 0 when
    not known yet)."""

    config: ModelConfig
    state: dict[str, torch.Tensor]
    plane: latent.Plane
    condition: int | None
    rect: tuple[float, float, float, float]
    width_px: float
    height_px: float
    pixels_per_unit: float = 0.0


class ManifoldController(QObject):
    """Keeps a mosaic of decoded images under the scatter in step with the view.

    ``mode`` is ``"view"`` (a grid over the visible region) or ``"prior"`` (equal
    prior-probability steps, the classic manifold figure). :meth:`schedule` recomputes
    after a pause (superqt's ``qdebounced``); the work runs in the inference worker, whose
    handle delivers only the newest mosaic. ``inputs()`` gives what to decode now (None:
    nothing to draw). ``mosaicChanged(image, rect)`` carries each new mosaic, or
    ``(None, None)`` when it is switched off.
    """

    mosaicChanged = Signal(object, object)

    def __init__(self, worker: InferenceWorker, inputs: Callable[[], MosaicInputs | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._worker, self._inputs = worker, inputs
        self.enabled = False
        self.mode = "view"
        self.last_rect: tuple[float, float, float, float] | None = None
        self._handle: JobHandle | None = None
        # A burst of view changes (a pan, a zoom) costs one recomputation.
        self.schedule = qdebounced(self.recompute, timeout=DEBOUNCE_MS, parent=self)

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if self.enabled:
            self.schedule()
            return
        self.schedule.cancel()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.last_rect = None
        self.mosaicChanged.emit(None, None)

    def set_mode(self, mode: str) -> None:
        if mode not in ("view", "prior"):
            raise ValueError(f"unknown manifold mode {mode!r}")
        self.mode = mode
        if self.enabled:
            self.schedule()

    def recompute(self) -> bool:
        """Submit the mosaic for the current view now; False when there is nothing to draw."""
        if not self.enabled:
            return False
        inputs = self._inputs()
        if inputs is None:
            return False
        if self.mode == "prior":
            # As many cells as are readable at the view's scale (a fixed 15 gave 13-px cells).
            n = prior_grid_side(inputs.pixels_per_unit) if inputs.pixels_per_unit > 0 else PRIOR_GRID_SIDE
            codes, rect = prior_grid_codes(inputs.plane, n)
            n_cols = n_rows = n
        else:
            rect = tuple(float(v) for v in inputs.rect)
            if not (rect[2] > 0 and rect[3] > 0):
                return False
            n_cols, n_rows = view_cells(inputs.width_px, inputs.height_px)
            codes = view_grid_codes(inputs.plane, rect, n_cols, n_rows)
        job = mosaic_job(inputs.config, inputs.state, codes, n_rows, n_cols, inputs.condition)
        self._handle = self._worker.submit("manifold", job, lambda image, r=rect: self._show(image, r))
        return True

    def _show(self, image: np.ndarray | None, rect: tuple[float, float, float, float]) -> None:
        if image is None or not self.enabled:
            return
        self.last_rect = rect
        self.mosaicChanged.emit(image, rect)
