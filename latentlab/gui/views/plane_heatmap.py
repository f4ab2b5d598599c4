"""What a generator and its discriminator make of the latent plane, drawn under the dots.

* **Reproduction shading**: for a model whose data were placed by inverting its generator,
  each dot's opacity follows how well the generator reproduces the item (its inversion
  error): the best-reproduced items are drawn at full strength, the worst faint.
  :func:`error_opacities` maps errors to opacities.
* **Realness**: the discriminator's probability of "real" for the decoding of each plane
  point, D(G(z)), as an image under the dots (:class:`RealnessLayer`), dark purple where the
  critic is sure an image is fake, green where it takes it for real.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

#: The faintest a dot gets (the worst-reproduced items); the best are drawn at full strength.
MIN_OPACITY = 0.15
#: Errors between these percentiles spread over the opacities; beyond them they are clipped,
#: so a few outliers do not squeeze every other dot into one shade.
LOW_PERCENTILE, HIGH_PERCENTILE = 5.0, 95.0
# Legend lines are kept short: the legend's width is taken from the plane.
ERROR_NOTE = "faint = the generator<br>cannot reproduce it well"
# The realness ramp: fake (low) to real (high), dim enough that the class colours stay legible.
FAKE_RGB, REAL_RGB = (70, 38, 104), (34, 128, 76)
#: The realness image's opacity over the canvas (and over a mosaic beneath it).
REALNESS_OPACITY = 0.8
#: Below this spread the ramp covers this much around the values, so noise is not magnified.
MIN_SPAN = 0.02


def error_opacities(errors: np.ndarray) -> np.ndarray:
    """Opacity of each dot ``[N]`` in [:data:`MIN_OPACITY`, 1] from its error ``[N]``.

    Lower error, stronger dot; monotone in the error. Errors that are not finite get the
    faintest shade. All-equal errors give full strength to every dot.
    """
    err = np.asarray(errors, dtype=np.float64).reshape(-1)
    out = np.full(err.shape, MIN_OPACITY, dtype=np.float64)
    finite = np.isfinite(err)
    if not finite.any():
        return out
    lo, hi = np.percentile(err[finite], [LOW_PERCENTILE, HIGH_PERCENTILE])
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        out[finite] = 1.0
        return out
    badness = np.clip((err[finite] - lo) / (hi - lo), 0.0, 1.0)
    out[finite] = 1.0 - (1.0 - MIN_OPACITY) * badness
    return out


def realness_range(values: np.ndarray) -> tuple[float, float]:
    """The realness values the colour ramp runs between (at least :data:`MIN_SPAN` apart)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi - lo < MIN_SPAN:
        mid = (lo + hi) / 2.0
        lo, hi = max(0.0, mid - MIN_SPAN / 2), min(1.0, mid + MIN_SPAN / 2)
        if hi - lo < MIN_SPAN:   # at an end of [0, 1]
            lo, hi = (0.0, MIN_SPAN) if lo <= 0.0 else (1.0 - MIN_SPAN, 1.0)
    return lo, hi


class RealnessLayer:
    """The discriminator's realness D(G(z)) over a rectangle of the plane, as an image item."""

    def __init__(self) -> None:
        self.item = pg.ImageItem()
        self.item.setOpacity(REALNESS_OPACITY)
        self.item.setLookupTable(pg.ColorMap([0.0, 1.0], [FAKE_RGB, REAL_RGB]).getLookupTable(nPts=256))
        self.item.setVisible(False)
        self._values: np.ndarray | None = None
        self._rect: tuple[float, float, float, float] | None = None
        self._range = (0.0, 1.0)

    def show(self, values: np.ndarray, rect: tuple[float, float, float, float]) -> None:
        """Draw ``values`` ``[H, W]`` (probabilities; row 0 the top edge) over ``rect`` = (x0, y0, w, h)."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
            raise ValueError(f"realness must be [H, W], got {arr.shape}")
        x0, y0, w, h = (float(v) for v in rect)
        if not (np.isfinite([x0, y0, w, h]).all() and w > 0 and h > 0):
            raise ValueError(f"cannot draw realness over the rectangle {rect}")
        lo, hi = realness_range(arr)
        scaled = np.clip((np.nan_to_num(arr, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
        # The y axis points up and ImageItem's row 0 sits at the bottom: flip the rows.
        pixels = np.ascontiguousarray((scaled[::-1] * 255 + 0.5).astype(np.uint8))
        self.item.setImage(pixels, levels=(0, 255), autoLevels=False)
        self.item.setRect(QRectF(x0, y0, w, h))
        self.item.setVisible(True)
        self._values, self._rect, self._range = arr.copy(), (x0, y0, w, h), (lo, hi)

    def clear(self) -> None:
        """Remove the image."""
        self.item.clear()
        self.item.setVisible(False)
        self._values = self._rect = None

    def values(self) -> np.ndarray | None:
        """A copy of the realness values shown (row 0 the top edge), or None."""
        return None if self._values is None else self._values.copy()

    def rect(self) -> tuple[float, float, float, float] | None:
        """The plane rectangle (x0, y0, w, h) the values cover, or None."""
        return self._rect

    def note(self) -> str:
        """The legend's line for the image: what it shows and the values at its two ends."""
        lo, hi = self._range
        return (f"under: realness D(G(z))<br><span style='color:rgb{REAL_RGB}'>■</span> {hi:.2f} real "
                f"<span style='color:rgb{FAKE_RGB}'>■</span> {lo:.2f} fake")
