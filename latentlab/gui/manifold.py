"""Latent geometry for the GUI: choosing planes and drawing the decoded manifold.

The plane helpers wrap :mod:`latentlab.core.latent` with numpy in and out (the views
speak numpy). The jobs here run in the inference worker, each with its own model built
from a detached copy of the weights. :class:`ManifoldController` keeps a mosaic of decoded images under the
scatter in step with the visible region (or with equal-probability steps of the prior),
debounced, computed in the inference worker with its own model copy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from PySide6.QtCore import QObject, QTimer, Signal

from latentlab.core import inference, latent
from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import ModelConfig

PLANE_KINDS = ("pca", "dims", "points")
FRAME_MS = 16             # decode a dragged probe at most once per frame
DEBOUNCE_MS = 120
MAX_CELLS_PER_SIDE = 24
MIN_CELL_PX = 36          # a decoded cell smaller than this on screen is unreadable
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
    z = torch.from_numpy(np.asarray(codes, dtype=np.float32))
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
    return plane.project(torch.from_numpy(np.asarray(codes, dtype=np.float32))).numpy()


def lift(plane: latent.Plane, xy: np.ndarray) -> np.ndarray:
    """Codes ``[N, D]`` (float32) at plane coordinates ``[N, 2]``."""
    return plane.lift(torch.from_numpy(np.asarray(xy, dtype=np.float32))).numpy()


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
        return to_display(latent.tile(images, n_rows, n_cols))

    return job


class ProbeController(QObject):
    """Decodes the probe: throttled while dragged, at once on release or new weights.

    A drag reports every mouse move, far more often than frames are drawn; only the
    latest position is kept and decoded on a single-shot frame timer. The decoded image,
    its caption and the full latent vector go to ``decoded`` and ``zbars``; ``status``
    receives a line when a point cannot be decoded.

    A tool may put the probe on a code off the plane (a traversal slider, an attribute
    vector): :meth:`show_z` keeps that exact code until the user moves the probe again.
    ``probeDecoded`` is emitted after each decode, so the tools can follow the probe.
    """

    probeDecoded = Signal()

    def __init__(self, session: Any, view: Any, decoded: Any, zbars: Any,
                 status: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session, self.view, self.decoded, self.zbars, self.status = session, view, decoded, zbars, status
        self._pending: tuple[float, float] | None = None
        self._exact_z: np.ndarray | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._decode_pending)
        view.probeMoved.connect(self.on_moved)
        view.probeReleased.connect(self.on_released)
        session.weightsUpdated.connect(self.decode_current)
        session.conditionChanged.connect(self.decode_current)

    def on_moved(self, x: float, y: float) -> None:
        self._exact_z = None
        self._pending = (x, y)
        if not self._timer.isActive():
            self._timer.start()

    def on_released(self, x: float, y: float) -> None:
        self.stop()
        self.decode_at(x, y)

    def stop(self) -> None:
        self._timer.stop()
        self._pending = None

    def _decode_pending(self) -> None:
        if self._pending is not None:
            x, y = self._pending
            self._pending = None
            self.decode_at(x, y)

    def decode_current(self, *_: Any) -> None:
        """Decode wherever the probe is now (new weights, plane or class)."""
        z = self._exact_z
        if z is not None and self.session.plane is not None and len(z) == self.session.latent_dim:
            self.show_z(z)
        else:
            self.decode_at(*self.view.probe_position())

    def decode_at(self, x: float, y: float) -> None:
        """Decode plane point ``(x, y)`` (the probe leaves any exact code it was on)."""
        self._exact_z = None
        s = self.session
        if not s.model_ready() or s.plane is None:
            return
        try:
            image = s.decode_at(x, y)
        except Exception as exc:   # one bad point must not break the drag loop
            self.status(f"Could not decode this point: {exc}")
            return
        self._show(image, x, y)

    def show_z(self, z: np.ndarray) -> None:
        """Put the probe on code ``z`` ``[D]``: drawn at its projection, decoded exactly."""
        s = self.session
        if not s.model_ready() or s.plane is None:
            return
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        x, y = (float(v) for v in project(s.plane, z[None])[0])
        self.stop()
        self.view.set_probe(x, y)
        self._exact_z = z.copy()
        s.probe_z = z.copy()
        self._show(s.decode_z(z), x, y)

    def _show(self, image: np.ndarray, x: float, y: float) -> None:
        self.decoded.set_image(image)
        self.decoded.set_caption(probe_caption(self.session, x, y))
        self.zbars.set_z(self.session.probe_z)
        self.probeDecoded.emit()


def probe_caption(session: Any, x: float, y: float) -> str:
    """The decoded view's caption: the latent vector when short, else plane coordinates."""
    z = session.probe_z
    if z is not None and len(z) <= 4:
        text = "z = (" + ", ".join(f"{v:.2f}" for v in z) + ")"
    else:
        text = f"plane ({x:.2f}, {y:.2f})"
    cfg = session.config
    if cfg is not None and cfg.is_conditional:
        k = session.condition
        text += f" · class {cfg.label_names[k] if k < len(cfg.label_names) else k}"
    return text


class ManifoldController(QObject):
    """Keeps the plane view's mosaic of decoded images up to date.

    ``mode`` is ``"view"`` (a grid over the visible region) or ``"prior"`` (equal
    prior-probability steps, the classic manifold figure). Recomputation is debounced
    and runs in the session's inference worker; stale results are dropped.
    """

    mosaicChanged = Signal()

    def __init__(self, session: Any, view: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view = view
        self.enabled = False
        self.mode = "view"
        self.last_rect: tuple[float, float, float, float] | None = None
        self._pending_rect: tuple[float, float, float, float] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.recompute)
        session.inference.resultReady.connect(self._on_result)
        for signal in (view.viewChanged, session.codesChanged, session.weightsUpdated, session.modelChanged,
                       session.conditionChanged):
            signal.connect(self.schedule)

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if self.enabled:
            self.schedule()
        else:
            self._timer.stop()
            self.session.inference.cancel("manifold")
            self.view.clear_mosaic()
            self.last_rect = None
            self.mosaicChanged.emit()

    def set_mode(self, mode: str) -> None:
        if mode not in ("view", "prior"):
            raise ValueError(f"unknown manifold mode {mode!r}")
        self.mode = mode
        self.schedule()

    def schedule(self) -> None:
        """Recompute a little later; a burst of view changes costs one recomputation."""
        if self.enabled:
            self._timer.start()

    def recompute(self) -> bool:
        """Submit the mosaic for the current view now; False when there is nothing to draw."""
        session = self.session
        if not self.enabled or session.model is None or session.plane is None:
            return False
        state = session.latest_state()
        plane = session.plane
        if self.mode == "prior":
            codes, rect = prior_grid_codes(plane, PRIOR_GRID_SIDE)
            n_cols = n_rows = PRIOR_GRID_SIDE
        else:
            rect = tuple(float(v) for v in self.view.visible_rect())
            if not (rect[2] > 0 and rect[3] > 0):
                return False
            n_cols, n_rows = view_cells(self.view.width(), self.view.height())
            codes = view_grid_codes(plane, rect, n_cols, n_rows)
        condition = session.condition if session.config.is_conditional else None
        self._pending_rect = rect
        session.inference.submit("manifold", mosaic_job(session.config, state, codes, n_rows, n_cols, condition))
        return True

    def _on_result(self, kind: str, generation: int, image: Any) -> None:
        if kind != "manifold" or image is None or not self.enabled:
            return
        if not self.session.inference.is_current(kind, generation) or self._pending_rect is None:
            return
        self.last_rect = self._pending_rect
        self.view.set_mosaic(image, self.last_rect)
        self.mosaicChanged.emit()
