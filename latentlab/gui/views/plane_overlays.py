"""What the latent plane draws besides the scatter and the probe: a path, an arrow, a mosaic.

:class:`PlaneOverlaysMixin` is part of :class:`latentlab.gui.views.plane_view.LatentPlaneView`,
which creates the items it fills (``_path``, ``_waypoints``, ``_arrow``, ``_mosaic``).
:func:`check_xy` validates the ``[N, 2]`` point arrays both modules take.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from latentlab.gui.views.plane_items import ArrowOverlay


# How strongly the points show while a mosaic of decoded images lies beneath them.
MOSAIC_POINT_OPACITY = 0.35


def check_xy(xy: np.ndarray) -> np.ndarray:
    """``xy`` as a contiguous float64 ``[N, 2]`` array; ValueError for any other shape."""
    arr = np.asarray(xy, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"points must have shape [N, 2], got {arr.shape}")
    return np.ascontiguousarray(arr)


class PlaneOverlaysMixin:
    """Path, arrow and mosaic methods of the latent plane (see the module doc)."""

    _path: pg.PlotCurveItem
    _waypoints: pg.ScatterPlotItem
    _arrow: ArrowOverlay
    _mosaic: pg.ImageItem
    _points: pg.GraphicsObject

    # ------------------------------------------------------------ path, arrow
    def set_path(self, xy: np.ndarray | None, waypoints: np.ndarray | None = None) -> None:
        """Draw a polyline ``xy`` ``[M, 2]`` with markers at ``waypoints`` ``[K, 2]``."""
        if xy is None:
            self._path.setData([], [])
        else:
            line = check_xy(xy)
            self._path.setData(line[:, 0], line[:, 1])
        if waypoints is None:
            self._waypoints.setData([], [])
        else:
            marks = check_xy(waypoints)
            self._waypoints.setData(marks[:, 0], marks[:, 1])

    def set_arrow(self, start_xy: Sequence[float], end_xy: Sequence[float]) -> None:
        """Draw an arrow from ``start_xy`` to ``end_xy`` (plane coordinates)."""
        self._arrow.set((float(start_xy[0]), float(start_xy[1])),
                        (float(end_xy[0]), float(end_xy[1])))

    def clear_arrow(self) -> None:
        """Remove the arrow."""
        self._arrow.clear()

    # ------------------------------------------------------------------ mosaic
    def set_mosaic(self, image: np.ndarray, rect: tuple[float, float, float, float]) -> None:
        """Show ``image`` (HxW or HxWx3, float in [0, 1]) beneath the points.

        ``rect`` = (x0, y0, w, h) in plane coordinates; row 0 of the image is the top edge
        (largest y), as in a picture.
        """
        arr = np.asarray(image)
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3)):
            raise ValueError(f"mosaic must be [H, W] or [H, W, 3], got {arr.shape}")
        x0, y0, w, h = (float(v) for v in rect)
        if arr.dtype != np.uint8:
            arr = (np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255 + 0.5)
        # The y axis points up, ImageItem's row 0 sits at the rect's bottom: flip the rows.
        upright = np.ascontiguousarray(arr[::-1].astype(np.uint8, copy=False))
        self._mosaic.setImage(upright, levels=(0, 255), autoLevels=False)
        self._mosaic.setRect(QRectF(x0, y0, w, h))
        self._mosaic.setVisible(True)
        # Full-strength dots all but cover the decoded images beneath them.
        self._points.setOpacity(MOSAIC_POINT_OPACITY)

    def clear_mosaic(self) -> None:
        """Remove the mosaic image."""
        self._mosaic.clear()
        self._mosaic.setVisible(False)
        self._points.setOpacity(1.0)

    def mosaic_item(self) -> pg.ImageItem:
        """The ImageItem holding the mosaic (for inspection)."""
        return self._mosaic
