"""Colours and style constants shared by LatentLab's widgets.

One place decides how the app looks: the dark canvas behind plots, the qualitative
palette that tells classes apart, the probe's colours. Widgets call
:func:`ensure_pyqtgraph_config` in their constructors; it is cheap and idempotent.
"""

from __future__ import annotations

import colorsys
import logging
import math

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPen, QPixmapCache
from PySide6.QtWidgets import QGraphicsItem

RGB = tuple[int, int, int]

# Canvas and text.
BACKGROUND = "#15171c"
PANEL = "#1d2027"
FOREGROUND = "#d6d9e0"
MUTED = "#8a909c"
GRID = "#2a2e37"
ACCENT = "#ffb347"  # paths, arrows, highlighted bars: warm, apart from every class colour
SELECTION = "#ffffff"

# Probe: a bright stroke over a dark halo stays visible on light and dark points alike.
PROBE_COLOR = "#ffe94d"
PROBE_HOVER_COLOR = "#ffffff"
PROBE_HALO = (0, 0, 0, 200)
PROBE_SIZE_PX = 24
# The probe's ring by how far it is from the data (the off-manifold score): on, near, off.
LEVEL_COLORS = {"on": "#6fdc8c", "near": "#ffc24d", "off": "#ff6b6b"}

# Points of the latent scatter.
POINT_SIZE_PX = 4
POINT_ALPHA = 190
UNLABELLED_COLOR: RGB = (110, 190, 255)

# Bars of the z chart.
BAR_COLOR = "#5b8bd6"
BAR_HIGHLIGHT_COLOR = ACCENT

# A qualitative palette tuned for a dark canvas: 12 hues of similar brightness, ordered so
# that neighbouring class indices (0 and 1, 1 and 2, ...) get clearly different colours.
LABEL_PALETTE: tuple[RGB, ...] = (
    (78, 154, 255),   # blue
    (255, 146, 52),   # orange
    (82, 208, 110),   # green
    (255, 88, 102),   # red
    (185, 132, 255),  # violet
    (200, 150, 110),  # tan
    (255, 128, 210),  # pink
    (175, 178, 186),  # grey
    (220, 220, 70),   # olive yellow
    (60, 215, 215),   # cyan
    (150, 230, 60),   # lime
    (255, 200, 140),  # peach
)

_configured = False


def ensure_pyqtgraph_config() -> None:
    """Set pyqtgraph's global options LatentLab relies on (safe to call many times).

    Row-major image order makes numpy images appear upright instead of transposed;
    antialiasing off keeps 70,000-point scatters fast.
    """
    global _configured
    if not _configured:
        pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
        _configured = True


def label_colors(n: int) -> list[RGB]:
    """Return ``n`` distinguishable RGB colours for class labels ``0 .. n-1``.

    The first 12 come from :data:`LABEL_PALETTE`; beyond that, hues step by the golden
    ratio so that any number of classes still get distinct, well-spread colours.
    """
    if n < 0:
        raise ValueError(f"number of colours must be >= 0, got {n}")
    colors = list(LABEL_PALETTE[:n])
    golden = 0.618033988749895
    hue = 0.11
    while len(colors) < n:
        hue = (hue + golden) % 1.0
        # Alternate lightness a little so adjacent generated hues differ in more than hue.
        light = 0.62 if len(colors) % 2 else 0.52
        r, g, b = colorsys.hls_to_rgb(hue, light, 0.75)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def qcolor(rgb: RGB | str, alpha: int = 255) -> QColor:
    """Build a QColor from an ``(r, g, b)`` tuple or a ``#rrggbb`` string."""
    color = QColor(rgb) if isinstance(rgb, str) else QColor(*rgb)
    color.setAlpha(alpha)
    return color


log = logging.getLogger(__name__)

# Grid lines sit beneath a plot's contents (the view box is at z = -100).
_GRID_Z = -150.0
# Room for the cached axes of a few full-screen plots (Qt's default of 10 MB holds one or two).
_PIXMAP_CACHE_KB = 64 * 1024


#: An axis longer than this many pixels, or with more ticks than this on one level, gets no
#: ticks (see FlatGridAxis.tickValues); a real screen's axis has a few thousand pixels at most.
MAX_AXIS_PX = 100_000
MAX_TICKS = 10_000


class FlatGridAxis(pg.AxisItem):
    """An AxisItem whose grid lines are opaque colours pre-blended with the background.

    pyqtgraph draws grid lines with a translucent pen over the whole plot, and blending
    every pixel of ~100 long lines costs several milliseconds per repaint on a small CPU
    (opaque lines are ~15 times cheaper). Blending once against the known background
    looks the same wherever the grid shows; :func:`use_flat_grid` also moves the axis
    beneath the plot's contents, so points and curves cover the lines as before.
    """

    def __init__(self, orientation: str, background: str = BACKGROUND, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        # The space for the tick labels grows as they need and never shrinks. Left to shrink,
        # it could feed back on itself in the plane, whose axes keep one scale: the left axis
        # narrows for shorter labels, the bottom axis gets longer, the locked aspect changes
        # the vertical range, the labels grow back, and round again at every layout. A soak of
        # the window caught it alternating between two widths for over a minute.
        # Two levels of ticks and grid lines, major and minor: pyqtgraph's third, at a tenth of
        # the major spacing, is all but invisible in a flat grid, and laying it out and
        # measuring its labels in Python took about a third of every pan or zoom frame.
        self.setStyle(autoReduceTextSpace=False, maxTickLevel=1, maxTextLevel=1)
        self._background = QColor(background)
        self._flat_pens: dict[int, QPen] = {}
        self._warned = False   # a degenerate axis is logged once

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 (pyqtgraph's name)
        """pyqtgraph's ticks, but none for an axis whose ticks could not all be drawn.

        pyqtgraph lays out every tick of every level at once (and compares each new level with
        the ticks before it, all against all), with more ticks the longer it thinks the axis
        is: 40,000 ticks, for an axis of a billion pixels, took 8 s. An axis whose range or
        length is not finite, longer than :data:`MAX_AXIS_PX`, or with more than
        :data:`MAX_TICKS` ticks on a level (a view caught in a degenerate transform) gets no
        ticks for that paint instead of stalling the GUI thread.
        """
        span = abs(maxVal - minVal) * abs(self.scale)
        if not (math.isfinite(minVal) and math.isfinite(maxVal) and math.isfinite(size)) \
                or not 0 < size <= MAX_AXIS_PX:
            return self._no_ticks(minVal, maxVal, size)
        if span > 0:
            low, high = sorted((minVal * self.scale, maxVal * self.scale))
            for spacing, _offset in self.tickSpacing(low, high, size):
                if not spacing > 0 or span / spacing > MAX_TICKS:
                    return self._no_ticks(minVal, maxVal, size)
        return super().tickValues(minVal, maxVal, size)

    def _no_ticks(self, minVal, maxVal, size) -> list:
        if not self._warned:
            self._warned = True
            log.warning("no ticks for the %s axis of %r..%r over %r pixels", self.orientation, minVal, maxVal, size)
        return []

    def generateDrawSpecs(self, p):  # noqa: N802 (pyqtgraph's name)
        specs = super().generateDrawSpecs(p)
        if specs is None or self.grid is False:
            return specs
        axis_spec, tick_specs, text_specs = specs
        return axis_spec, [(self._flat_pen(pen), a, b) for pen, a, b in tick_specs], text_specs

    def _flat_pen(self, pen: QPen) -> QPen:
        color = pen.color()
        if color.alpha() == 255:
            return pen
        key = color.rgba()
        flat = self._flat_pens.get(key)
        if flat is None:
            flat = QPen(pen)
            flat.setColor(blend(color, self._background))
            self._flat_pens[key] = flat
        return flat


def blend(color: QColor, background: QColor) -> QColor:
    """The opaque colour that ``color`` (with its alpha) shows over ``background``."""
    a = color.alphaF()
    return QColor(*(round(a * fg + (1.0 - a) * bg) for fg, bg in
                    ((color.red(), background.red()), (color.green(), background.green()),
                     (color.blue(), background.blue()))))


def flat_grid_axes(background: str = BACKGROUND) -> dict[str, FlatGridAxis]:
    """Axis items for ``PlotWidget(axisItems=...)``: left and bottom with flat grids."""
    return {name: FlatGridAxis(name, background=background) for name in ("left", "bottom")}


def use_flat_grid(plot_item: pg.PlotItem, alpha: float) -> None:
    """Show the grid of ``plot_item``'s :class:`FlatGridAxis` axes beneath its contents."""
    plot_item.showGrid(x=True, y=True, alpha=alpha)
    # An axis with its grid spans the whole plot, so every repaint, however small (the probe
    # moving a few pixels), painted it again through Python. Cached as a pixmap it is only
    # redrawn when it changes (a pan, a zoom, a resize); small repaints copy the pixels.
    QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), _PIXMAP_CACHE_KB))
    for name in ("left", "bottom"):
        axis = plot_item.getAxis(name)
        # PlotItem puts axes at z = 0.5, above the view box; the labels never overlap it.
        axis.setZValue(_GRID_Z)
        axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
