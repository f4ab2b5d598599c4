"""View ▸ Data Density: where the data's codes are dense on the plane, and where the holes are.

:class:`DensityOverlay` draws, under the plane's dots, the log-density of the off-manifold map
(:meth:`latentlab.core.offmanifold.ManifoldMap.log_density`: for a variational model the
aggregate posterior, the mixture of the encoder's Gaussians over the data; for any other model
a kernel density of the codes) over a grid covering the visible part of the plane. The grid is
computed on the inference worker (``submit``, latest wins), again when the view settles after
a pan or zoom and when the map is rebuilt for new codes. Bright is dense, dark is empty: the
holes an autoencoder leaves between its codes show as dark gaps, which the probe's ring calls
"off the data".

The Compare Families window gives each family's plane one too. It hears the host through plain
callables: ``scene()`` (anything with the ``plane`` the codes are drawn on),
``manifold_map()`` (the probe score's current map) and ``submit`` (the inference worker's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Signal
from superqt.utils import qdebounced

#: Grid cells per side of the visible plane (a k-d tree map; a scanned one, above 4-D, uses fewer).
#: Each cell sums a mixture over hundreds of codes, so the grid is coarse and the picture is
#: interpolated :data:`UPSAMPLE`-fold for display.
GRID = 72
SCAN_GRID = 40
UPSAMPLE = 4
#: Log-densities this many nats below the visible maximum are drawn as empty.
RANGE_NATS = 12.0
#: Ramp from empty to dense: the plane's background through deep blue to pale blue.
_STOPS = np.array([[21, 23, 28], [28, 52, 96], [64, 120, 178], [170, 210, 240]], np.float32)
#: Above the manifold mosaic, below the dots.
Z_DENSITY = -90
#: The view settles this long (ms) before the grid is recomputed.
SETTLE_MS = 150


def density_job(manifold_map: Any, origin: np.ndarray, basis: np.ndarray,
                rect: tuple[float, float, float, float], size: int):
    """An inference-worker job: log-densities ``[size, size]`` over ``rect`` (x0, y0, w, h).

    Row 0 is the bottom edge (smallest y). Cells are lifted into the latent space through the
    plane (``origin`` ``[D]``, ``basis`` ``[2, D]``); the grid is scored in bands so a newer
    request stops it between them.
    """
    x0, y0, w, h = rect

    def job(should_stop: Callable[[], bool]) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
        xs = x0 + (np.arange(size) + 0.5) * (w / size)
        ys = y0 + (np.arange(size) + 0.5) * (h / size)
        gx, gy = np.meshgrid(xs, ys)
        xy = np.stack([gx.ravel(), gy.ravel()], axis=1)
        z = origin[None, :] + xy @ basis
        out = np.empty(len(z))
        band = size * 8
        for start in range(0, len(z), band):
            if should_stop():
                return None
            out[start:start + band] = manifold_map.log_density(z[start:start + band])
        return out.reshape(size, size), rect

    return job


def upsample(grid: np.ndarray, factor: int = UPSAMPLE) -> np.ndarray:
    """``grid`` ``[H, W]`` interpolated linearly to ``[H * factor, W * factor]`` (same extent:
    new pixel centres between the old ones, edges held)."""
    h, w = grid.shape

    def positions(n: int) -> np.ndarray:
        return np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0.0, n - 1)

    def along(a: np.ndarray, pos: np.ndarray, axis: int) -> np.ndarray:
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, a.shape[axis] - 1)
        t = pos - lo
        shape = [1, 1]
        shape[axis] = -1
        return np.take(a, lo, axis=axis) * (1 - t.reshape(shape)) + np.take(a, hi, axis=axis) * t.reshape(shape)

    finite = np.where(np.isfinite(grid), grid, np.nanmin(np.where(np.isfinite(grid), grid, np.nan))
                      if np.isfinite(grid).any() else 0.0)
    return along(along(finite, positions(h), 0), positions(w), 1)


def colour(log_density: np.ndarray) -> np.ndarray:
    """Log-densities as RGB ``uint8`` ``[H, W, 3]``: relative to the maximum, over :data:`RANGE_NATS`."""
    finite = np.isfinite(log_density)
    top = float(log_density[finite].max()) if finite.any() else 0.0
    t = np.clip((np.where(finite, log_density, -np.inf) - top + RANGE_NATS) / RANGE_NATS, 0.0, 1.0)
    pos = t * (len(_STOPS) - 1)
    lo = np.minimum(pos.astype(np.int64), len(_STOPS) - 2)
    frac = (pos - lo)[..., None]
    rgb = _STOPS[lo] * (1.0 - frac) + _STOPS[lo + 1] * frac
    return (rgb + 0.5).astype(np.uint8)


class DensityOverlay(QObject):
    """The density image under the dots of ``plane_view`` (a LatentPlaneView); see the module.

    ``densityShown(bool)`` says whether an image is on the plane now.
    """

    densityShown = Signal(bool)

    def __init__(self, plane_view: Any, *, scene: Callable[[], Any], manifold_map: Callable[[], Any],
                 submit: Callable[..., Any], kind: str = "density", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view, self._scene, self._map, self._submit = plane_view, scene, manifold_map, submit
        self._kind = kind   # the worker's latest-wins key: one per overlay
        self.enabled = False
        self._drawn_for: Any = None      # the map the current image was computed from
        self._handle: Any = None
        self.last: np.ndarray | None = None   # the last log-density grid shown (row 0 at the bottom)
        self.item = pg.ImageItem()
        self.item.setZValue(Z_DENSITY)
        self.item.setVisible(False)
        plane_view.plotItem.addItem(self.item)
        self.schedule = qdebounced(self.refresh, timeout=SETTLE_MS, parent=self)
        # A resized plane shows more (or less) of the plane without a range change of its own.
        plane_view.plotItem.vb.sigResized.connect(self.schedule)

    def set_enabled(self, on: bool) -> None:
        """Show (and keep current) or remove the overlay."""
        self.enabled = bool(on)
        if self.enabled:
            self.refresh()
        else:
            self.clear()

    def on_score(self, _score: Any = None) -> None:
        """The probe was scored; a new map (new codes) redraws the overlay."""
        if self.enabled and self._map() is not self._drawn_for:
            self.schedule()

    def on_scene(self, _scene: Any = None) -> None:
        """Another scene: a plane or latent size of its own, so the old image goes at once."""
        if self.enabled:
            built = self._map()
            if built is None or built is not self._drawn_for:
                self.clear(keep_enabled=True)
            self.schedule()

    def clear(self, keep_enabled: bool = False) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.item.clear()
        self.item.setVisible(False)
        self._drawn_for = None
        self.last = None
        if not keep_enabled:
            self.enabled = False
        self.densityShown.emit(False)

    def refresh(self) -> None:
        """Recompute the grid for the visible plane (nothing without a map or plane)."""
        if not self.enabled:
            return
        built, scene = self._map(), self._scene()
        plane = getattr(scene, "plane", None)
        if built is None or plane is None:
            return
        origin = plane.origin.numpy().astype(np.float64)
        basis = plane.basis.numpy().astype(np.float64)
        if origin.shape[0] != built.dim:
            return   # the map is still that of another latent size
        rect = tuple(float(v) for v in self._view.visible_rect())
        if not (rect[2] > 0 and rect[3] > 0):
            return
        size = GRID if built.tree is not None else SCAN_GRID
        self._handle = self._submit(self._kind, density_job(built, origin, basis, rect, size),
                                    lambda found: self._show(built, found), lambda _message: None)

    def _show(self, built: Any, found: tuple[np.ndarray, tuple[float, float, float, float]] | None) -> None:
        if found is None or not self.enabled:
            return
        grid, (x0, y0, w, h) = found
        self.last = grid
        self.item.setImage(colour(upsample(grid)), levels=(0, 255), autoLevels=False)
        self.item.setRect(QRectF(x0, y0, w, h))
        self.item.setVisible(True)
        self._drawn_for = built
        self.densityShown.emit(True)
        # The view moved while the grid was computed: follow it once it settles.
        now = self._view.visible_rect()
        if any(abs(a - b) > 0.01 * max(w, h) for a, b, w, h in zip(now, (x0, y0, w, h), (w,) * 4, (h,) * 4)):
            self.schedule()
