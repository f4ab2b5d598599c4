"""Look at the plane, decoded view and z bars by hand: ``python -m latentlab.gui._demo_widgets``.

Synthetic data only (ten Gaussian clusters); the "decoder" draws a blob where the probe is.
"""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtWidgets import QApplication, QHBoxLayout, QVBoxLayout, QWidget

from latentlab.gui.decoded_view import DecodedView
from latentlab.gui.plane_view import LatentPlaneView
from latentlab.gui.zbar import ZBarChart


def _fake_decode(x: float, y: float) -> np.ndarray:
    """A 28x28 blob whose place follows (x, y): enough to see the view respond."""
    grid = np.linspace(-4, 4, 28)
    gx, gy = np.meshgrid(grid, -grid)
    return np.exp(-((gx - x) ** 2 + (gy - y) ** 2)).astype(np.float32)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=70_000)
    centres = rng.normal(scale=3.0, size=(10, 2))
    xy = centres[labels] + rng.normal(scale=0.6, size=(70_000, 2))

    window = QWidget()
    plane, decoded, bars = LatentPlaneView(), DecodedView(), ZBarChart()
    side = QVBoxLayout()
    side.addWidget(decoded, 3)
    side.addWidget(bars, 1)
    layout = QHBoxLayout(window)
    layout.addWidget(plane, 3)
    layout.addLayout(side, 1)

    def show(x: float, y: float) -> None:
        decoded.set_image(_fake_decode(x, y))
        decoded.set_caption(f"z = ({x:.2f}, {y:.2f})")
        bars.set_z(np.r_[x, y, np.sin(np.arange(14) + x) * y])

    plane.set_points(xy, labels, [f"class {k}" for k in range(10)])
    plane.set_thumbnail_source(lambda i: _fake_decode(*xy[i]))
    plane.probeMoved.connect(show)
    bars.set_highlight((0, 1))
    decoded.clear("Drag the probe")
    window.resize(1100, 650)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
