"""Shared by the latent-plane tests: a shown plane view, optionally with random points."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtWidgets import QApplication

from latentlab.gui.views.plane_view import LatentPlaneView


@pytest.fixture
def no_mouse_rate_limit(monkeypatch) -> None:
    # pyqtgraph drops mouse moves closer than 10 ms apart; synthetic events come faster.
    monkeypatch.setitem(pg.CONFIG_OPTIONS, "mouseRateLimit", 0)


def shown_plane(qtbot, size: tuple[int, int] = (600, 500), points: int = 0,
                spread: float = 2.0) -> LatentPlaneView:
    """A plane view on screen at ``size``; ``points`` random codes (10 classes) when asked."""
    widget = LatentPlaneView()
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    if points:
        rng = np.random.default_rng(0)
        widget.set_points(rng.normal(size=(points, 2)) * spread, rng.integers(0, 10, points),
                          [str(k) for k in range(10)])
        QApplication.processEvents()
    return widget
