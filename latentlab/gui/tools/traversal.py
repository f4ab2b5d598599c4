"""The traversal panel: one row per latent dimension of the probe's code.

Each row of :class:`TraversalPanel` (objectName ``"traversalPanel"``) has a slider from
``-3σ`` to ``+3σ`` that sets that one coordinate of the probe's code live, and a strip of
the images decoded while that dimension sweeps the same range with the others held at
the probe (:func:`latentlab.core.latent.traversal`). σ is 1 (the prior) unless
:meth:`TraversalPanel.set_scale` gives one per dimension.

Models with more than :data:`MAX_ROWS` dimensions show the ones carrying the most KL
(:func:`latentlab.core.latent.top_kl_dims`), from ``kl_per_dim``: an array ``[D]`` or a
callable returning one. Strips are refreshed after the probe stops moving (debounced),
and only for rows on screen; rows scrolled into view later catch up.

The panel has no scroll area of its own: the window puts each tool panel in one, and a
second one inside it showed two vertical scroll bars. The rows on screen are the ones
inside the nearest enclosing scroll area's viewport (or inside the panel, without one).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shiboken6
import torch
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (QAbstractScrollArea, QGridLayout, QLabel, QScrollBar, QSlider, QVBoxLayout,
                               QWidget)

from latentlab.core.latent import top_kl_dims, traversal
from latentlab.gui.tools.strip import FrameStrip
from latentlab.gui.tools.tools_controller import ToolsController

MAX_ROWS = 32
STEPS = 7
SIGMA_RANGE = 3.0
TICKS_PER_SIGMA = 100    # slider resolution: 0.01 σ
REFRESH_MS = 120         # wait this long after the last probe move before decoding strips
THUMB = 32

KlSource = np.ndarray | Callable[[], np.ndarray | None] | None


class _Row:
    """The widgets of one latent dimension."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.name = QLabel(f"z{dim}")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(f"traversalSlider{dim}")
        ticks = int(SIGMA_RANGE * TICKS_PER_SIGMA)
        self.slider.setRange(-ticks, ticks)
        self.slider.setMinimumWidth(90)
        self.value = QLabel("0.00")
        self.value.setMinimumWidth(44)
        self.strip = FrameStrip(thumb_size=THUMB, fit=STEPS)   # the panel scrolls, not each row
        self.stale = True


class TraversalPanel(QWidget):
    """Sliders and traversal strips for the probe's latent dimensions (see module doc)."""

    def __init__(self, controller: ToolsController, kl_per_dim: KlSource = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("traversalPanel")
        self.controller = controller
        self._kl: KlSource = kl_per_dim
        self._scale: np.ndarray | None = None
        self.rows: list[_Row] = []
        self._dim = -1
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        layout.addStretch(1)
        self._layout = layout
        self._body: QWidget | None = None
        self._watched: QScrollBar | None = None   # the enclosing scroll area's bar we follow
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_MS)
        self._refresh_timer.timeout.connect(self.refresh_strips)
        controller.probeChanged.connect(self._on_probe_changed)
        controller.modelRefreshed.connect(self._on_model_refreshed)
        self.rebuild()

    # -- configuration ----------------------------------------------------------------
    def set_kl_per_dim(self, kl_per_dim: KlSource) -> None:
        """Where the KL of each dimension comes from (array, callable or None); rebuilds rows."""
        self._kl = kl_per_dim
        self.rebuild()

    def set_scale(self, scale: np.ndarray | None) -> None:
        """σ per dimension ``[D]`` (e.g. the data's spread), or None for 1."""
        self._scale = None if scale is None else np.asarray(scale, dtype=np.float32).reshape(-1)
        self._sync_sliders()
        self.schedule_refresh()

    def shown_dims(self) -> list[int]:
        """The latent dimensions that have a row, in row order."""
        return [r.dim for r in self.rows]

    def _choose_dims(self, dim: int) -> list[int]:
        if dim <= MAX_ROWS:
            return list(range(dim))
        kl = self._kl() if callable(self._kl) else self._kl
        if kl is None or np.size(kl) != dim:
            return list(range(MAX_ROWS))
        return top_kl_dims(torch.as_tensor(np.asarray(kl, dtype=np.float32)), MAX_ROWS)

    def _sigma(self, dim: int) -> float:
        if self._scale is None or self._scale.size <= dim:
            return 1.0
        return float(self._scale[dim]) or 1.0

    # -- rows -------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Recreate the rows for the current model's latent size."""
        dim = self.controller.latent_dim()
        self._dim = dim
        self.rows = [_Row(k) for k in self._choose_dims(dim)] if dim else []
        body = QWidget()
        grid = QGridLayout(body)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        for r, row in enumerate(self.rows):
            grid.addWidget(row.name, r, 0)
            grid.addWidget(row.slider, r, 1)
            grid.addWidget(row.value, r, 2)
            grid.addWidget(row.strip, r, 3)
            row.slider.valueChanged.connect(lambda v, row=row: self._on_slider(row, v))
        grid.setColumnStretch(3, 1)
        if self._body is not None:   # the previous rows go with their widgets
            self._layout.removeWidget(self._body)
            self._body.setParent(None)
            self._body.deleteLater()
        self._body = body
        self._layout.insertWidget(1, body)   # under the hint, above the stretch
        if not dim:
            self.hint.setText("Open or train a model to sweep its latent dimensions one at a time.")
        elif dim > MAX_ROWS:
            self.hint.setText(f"The {MAX_ROWS} of {dim} dimensions with the most KL (the most used).")
        else:
            self.hint.setText("Each slider moves one coordinate of the probe; each strip sweeps it from −3σ to +3σ.")
        self._sync_sliders()
        self.schedule_refresh()

    def _sync_sliders(self) -> None:
        z = None if not self.rows else self.controller.probe_or_none()
        for row in self.rows:
            value = 0.0 if z is None else float(np.asarray(z).reshape(-1)[row.dim])
            ticks = round(value / self._sigma(row.dim) * TICKS_PER_SIGMA)
            row.slider.blockSignals(True)
            row.slider.setValue(max(row.slider.minimum(), min(row.slider.maximum(), ticks)))
            row.slider.blockSignals(False)
            row.value.setText(f"{value:.2f}")

    def _on_slider(self, row: _Row, ticks: int) -> None:
        z = self.controller.probe()
        z[row.dim] = ticks / TICKS_PER_SIGMA * self._sigma(row.dim)
        self.controller.move_probe(z)

    def _on_probe_changed(self, _z: object) -> None:
        self._sync_sliders()
        self.schedule_refresh()

    def _on_model_refreshed(self) -> None:
        if self.controller.latent_dim() != self._dim:
            self.rebuild()
        else:
            self.schedule_refresh()

    # -- strips -----------------------------------------------------------------------
    def schedule_refresh(self) -> None:
        """Mark every strip stale and decode the visible ones once the probe rests."""
        for row in self.rows:
            row.stale = True
        self._refresh_timer.start()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        # Rows hidden until now (a closed dock, a background tab) still need their strips.
        super().showEvent(event)
        self._follow_scrolling()
        self._refresh_timer.start()

    def scroll_area(self) -> QAbstractScrollArea | None:
        """The scroll area the panel is shown in (the window's), or None."""
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QAbstractScrollArea):
            parent = parent.parentWidget()
        return parent

    def _follow_scrolling(self) -> None:
        # Scrolling shows rows whose strips may be stale; decode those, nothing else.
        area = self.scroll_area()
        bar = area.verticalScrollBar() if area is not None else None
        if bar is self._watched:
            return
        if self._watched is not None and shiboken6.isValid(self._watched):
            self._watched.valueChanged.disconnect(self._refresh_timer.start)
        self._watched = bar
        if bar is not None:
            bar.valueChanged.connect(self._refresh_timer.start)

    def _on_screen(self, row: _Row) -> bool:
        # Geometry, not visibleRegion(): the latter is only known after a paint.
        if not (self.isVisible() and row.strip.isVisible()):
            return False
        area = self.scroll_area()
        viewport = area.viewport() if area is not None else self
        top_left = row.strip.mapTo(viewport, row.strip.rect().topLeft())
        return viewport.rect().intersects(row.strip.rect().translated(top_left))

    def refresh_strips(self, only_visible: bool = True) -> list[int]:
        """Decode the traversal strips of stale rows (on screen only, by default).

        Returns the dimensions whose strips were decoded.
        """
        z = self.controller.probe_or_none()
        todo = [r for r in self.rows if r.stale and (not only_visible or self._on_screen(r))]
        if z is None or not todo:
            return []
        scale = None
        if self._scale is not None and self._scale.size == self._dim:
            scale = torch.from_numpy(np.where(self._scale == 0, 1.0, self._scale).astype(np.float32))
        codes = traversal(torch.as_tensor(np.asarray(z, dtype=np.float32)), [r.dim for r in todo],
                          SIGMA_RANGE, STEPS, scale).numpy()
        images = self.controller.decode(codes.reshape(-1, codes.shape[-1]))
        for k, row in enumerate(todo):
            row.strip.set_frames(images[k * STEPS:(k + 1) * STEPS])
            row.stale = False
        return [r.dim for r in todo]
