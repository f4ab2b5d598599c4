"""View ▸ Compare Families…: up to four families side by side on the window's data, live.

One panel per family (:class:`~latentlab.gui.views.compare_view.FamilyPanel`: a small latent
plane and a decoded view) organises itself as that family trains; the families train one after
another (:class:`~latentlab.gui.tools.compare.CompareSession`) and Cancel stops them.

* **Linked brushing**: hovering a data item in any plane rings it in every plane; clicking one
  selects it everywhere; a class hidden or shown through one plane's legend is in every plane.
* **One shared probe**: dragging the probe in a plane decodes that model there; every other
  panel shows its own reconstruction of the data item nearest the probe (the off-manifold
  map's ``nearest``), and its probe moves onto that item, so the same image is compared across
  families. The dragged probe's ring is coloured on / near / off the data.
* **Linked interpolation**: the path between two data items (the data set's story by default,
  e.g. a full and a half moon; the last two items clicked otherwise) is drawn in every plane and
  decoded by every model into strips one above another; Export Sheet… writes them as one PNG
  (:func:`latentlab.core.compare.save_sheet`), Export GIF… as an animation
  (:func:`latentlab.core.compare.save_animation`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)
from superqt.utils import qthrottled

from latentlab.core import compare as core
from latentlab.core.errors import LatentLabError
from latentlab.gui.tools.compare import FINISHED, CompareSession, eligible_families
from latentlab.gui.tools.density import DensityOverlay
from latentlab.gui.views import theme
from latentlab.gui.views.compare_view import FamilyPanel, StripsView

NONE = "—"
#: The shared probe redraws at most this often while dragged (ms); the last position always wins.
PROBE_INTERVAL_MS = 16


class CompareWindow(QWidget):
    """The Compare Families window over ``data`` (see the module docstring).

    ``make_trainer(plan)`` makes a training worker for a plan; ``submit`` is the inference
    worker's. :meth:`ask_sheet_path` is the question tests replace.
    """

    def __init__(self, data: Any, *, make_trainer: Callable[[Any], Any], submit: Callable[..., Any],
                 threads: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("compareWindow")
        self.setWindowTitle(f"Compare Families — {data.name}")
        self.data = data
        self.session = CompareSession(data, make_trainer=make_trainer, submit=submit, threads=threads, parent=self)
        self.panels: list[FamilyPanel] = []
        self.densities: list[DensityOverlay] = []
        self._submit = submit
        self._selected: list[int] = []
        self._probe: tuple[int, float, float] | None = None
        self._shown_nearest: tuple[int, int] | None = None   # (dragged panel, item) the others show
        self._hidden: set[int] = set()   # classes hidden through a legend, in every plane
        self._build()
        self.session.slotsChanged.connect(self._rebuild_panels)
        self.session.statusChanged.connect(self._show_status)
        self.session.codesChanged.connect(self._show_codes)
        self.session.weightsChanged.connect(self._weights_changed)
        self.session.runningChanged.connect(self._running_changed)
        self.session.failed.connect(self.show_message)
        self._update_probe = qthrottled(self._show_probe, timeout=PROBE_INTERVAL_MS, leading=True, parent=self)
        self._fit_to_screen()

    def _fit_to_screen(self) -> None:
        """Open at a comfortable size that never exceeds the screen (a 1024×700 one included)."""
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width, height = 1280, 800
        if screen is not None:
            width, height = min(width, screen.width()), min(height, screen.height() - 40)
        self.resize(width, height)

    # -- building -----------------------------------------------------------------------
    def _build(self) -> None:
        eligible = eligible_families(self.data)
        defaults = [f for f in core.DEFAULT_FAMILIES if f in eligible]
        self.family_boxes: list[QComboBox] = []
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Families"))
        for k in range(core.MAX_FAMILIES):
            box = QComboBox()
            box.setObjectName(f"compareFamily{k}")
            box.addItems([NONE, *eligible])
            box.setCurrentText(defaults[k] if k < len(defaults) else NONE)
            bar.addWidget(box)
            self.family_boxes.append(box)
        self.latent_spin = QSpinBox()
        self.latent_spin.setRange(1, 64)
        self.latent_spin.setValue(2)
        self.latent_spin.setPrefix("latent ")
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setValue(5)
        self.epochs_spin.setSuffix(" epochs")
        self.train_button = QPushButton("Train")
        self.train_button.setObjectName("compareTrainButton")
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("compareCancelButton")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.session.cancel)
        self.export_button = QPushButton("Export Sheet…")
        self.export_button.setObjectName("compareExportButton")
        self.export_button.clicked.connect(self.export_sheet)
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.setObjectName("compareGifButton")
        self.gif_button.clicked.connect(self.export_gif)
        self.density_box = QCheckBox("Data density")
        self.density_box.setObjectName("compareDensityBox")
        self.density_box.setToolTip("Shade each plane by how dense its codes are: the holes between codes show dark.")
        self.density_box.toggled.connect(self._density_toggled)
        for w in (self.latent_spin, self.epochs_spin, self.train_button, self.cancel_button):
            bar.addWidget(w)
        bar.addStretch(1)
        # A second row, so the window fits a 1024-pixel-wide screen.
        outputs = QHBoxLayout()
        for w in (self.density_box, self.export_button, self.gif_button):
            outputs.addWidget(w)
        self.message = QLabel(f"{self.data.name}: {len(self.data):,} items. Choose families and press Train.")
        self.message.setObjectName("compareMessage")
        self.message.setWordWrap(True)
        outputs.addWidget(self.message, 1)
        self.panel_row = QHBoxLayout()
        self.panel_row.setSpacing(4)
        self.strips = StripsView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addLayout(outputs)
        layout.addLayout(self.panel_row, 1)
        layout.addWidget(self.strips)

    def chosen_families(self) -> list[str]:
        return [b.currentText() for b in self.family_boxes if b.currentText() != NONE]

    # -- actions --------------------------------------------------------------------------
    def start(self) -> None:
        """Train the chosen families one after another."""
        self.session.start(self.chosen_families(), self.latent_spin.value(), self.epochs_spin.value())

    def ask_sheet_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison sheet", "compare.png", "PNG images (*.png)")
        return path or None

    def ask_gif_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the comparison as a GIF", "compare.gif", "GIF images (*.gif)")
        return path or None

    def export_sheet(self) -> None:
        """Export Sheet…: the planes and strips of every family as one PNG."""
        self._export(self.ask_sheet_path(), self.session.save_sheet)

    def export_gif(self) -> None:
        """Export GIF…: every family walking the interpolation side by side."""
        self._export(self.ask_gif_path(), self.session.save_animation)

    def _export(self, path: str | None, write: Callable[[str], None]) -> None:
        if not path:
            return
        try:
            write(path)
        except (LatentLabError, OSError) as exc:
            self.show_message(str(exc))
            return
        self.show_message(f"Wrote {path}")

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop training (bounded wait); called when this window or the main window closes."""
        self._update_probe.cancel()
        for overlay in self.densities:
            overlay.schedule.cancel()
            overlay.clear()
        return self.session.shutdown(timeout_ms)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    # -- what the session says --------------------------------------------------------------
    def _rebuild_panels(self) -> None:
        for overlay in self.densities:
            overlay.schedule.cancel()
            overlay.clear()
            overlay.deleteLater()
        for panel in self.panels:
            self.panel_row.removeWidget(panel)
            panel.deleteLater()
        self.panels, self.densities, self._selected, self._probe = [], [], [], None
        self._shown_nearest, self._hidden = None, set()
        for k, slot in enumerate(self.session.slots):
            panel = FamilyPanel(slot.title)
            panel.setObjectName(f"comparePanel{k}")
            panel.plane.pointHovered.connect(self._brush)
            panel.plane.pointSelected.connect(self.select_item)
            panel.classesChanged.connect(self.show_classes)
            panel.plane.probeMoved.connect(lambda x, y, k=k: self.move_probe(k, x, y))
            panel.plane.probeReleased.connect(lambda x, y, k=k: self.move_probe(k, x, y))
            self.panel_row.addWidget(panel, 1)
            self.panels.append(panel)
            overlay = DensityOverlay(panel.plane, scene=lambda k=k: self.session.slots[k].encoded,
                                     manifold_map=lambda k=k: self._map_of(k), submit=self._submit,
                                     kind=f"compare-density-{k}", parent=self)
            panel.plane.viewChanged.connect(overlay.schedule)
            self.densities.append(overlay)
            if self.density_box.isChecked():
                overlay.set_enabled(True)
        self.strips.set_rows([s.title for s in self.session.slots])
        self._caption_pair()

    def _show_status(self, k: int) -> None:
        slot = self.session.slots[k]
        text = slot.status if slot.status != "training" else f"training {slot.epoch}".strip()
        if slot.status == FINISHED and slot.epoch:
            text = f"finished ({slot.epoch})"
        self.panels[k].set_status(text + (f": {slot.message}" if slot.message else ""))

    def _show_codes(self, k: int) -> None:
        enc = self.session.slots[k].encoded
        panel = self.panels[k]
        first = not panel.has_points()
        panel.set_points(enc.xy, self.session.labels, tuple(self.data.class_names))
        if first and self._hidden:
            panel.set_hidden_classes(self._hidden)
        if first:
            a = self.session.pair[0]
            panel.plane.set_probe(float(enc.xy[a, 0]), float(enc.xy[a, 1]))
        self._show_interpolation(k)
        self._shown_nearest = None
        if k < len(self.densities):
            self.densities[k].on_score()   # a new map: the density follows
        if self._probe is not None:
            self._show_probe()
        elif self.session.ready(k):
            panel.decoded.set_image(self.session.decode_at(k, *panel.plane.probe_position()))
            panel.decoded.set_caption("probe")

    def _map_of(self, k: int) -> Any:
        enc = self.session.slots[k].encoded if k < len(self.session.slots) else None
        return None if enc is None else enc.map

    def _density_toggled(self, on: bool) -> None:
        for overlay in self.densities:
            overlay.set_enabled(on)

    def _weights_changed(self, k: int) -> None:
        self._shown_nearest = None
        if self.session.ready(k) and self._probe is not None:
            self._update_probe()

    def _running_changed(self, running: bool) -> None:
        if running:
            self.show_message(f"Training {len(self.session.slots)} families on {self.data.name}, one after "
                              "another; each plane organises itself as its model learns.")
        elif self.session.slots:
            self.show_message("Hover or click an item to find it in every plane; drag a probe to compare "
                              "each model's reconstruction of the item nearest to it; click two items to "
                              "interpolate between them.")
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        for box in self.family_boxes:
            box.setEnabled(not running)
        self.latent_spin.setEnabled(not running)
        self.epochs_spin.setEnabled(not running)

    # -- linked brushing, probe and interpolation ----------------------------------------------
    def _brush(self, index: int) -> None:
        """Ring the hovered item in every plane (the last selected one when nothing is hovered)."""
        shown = index if index >= 0 else (self._selected[-1] if self._selected else None)
        for panel in self.panels:
            panel.set_highlight(shown)

    def show_classes(self, hidden: set[int]) -> None:
        """A legend click in one plane: the same classes are hidden in every plane."""
        self._hidden = set(hidden)
        for panel in self.panels:
            if panel.has_points():
                panel.set_hidden_classes(self._hidden)

    def select_item(self, index: int) -> None:
        """Select data item ``index`` in every plane; the last two selected items are the path's ends."""
        if index < 0:
            return
        for panel in self.panels:
            if panel.has_points():
                panel.plane.set_selected(index)
            panel.set_highlight(index)
        if not self._selected or self._selected[-1] != index:
            self._selected = [*self._selected, index][-2:]
        if len(self._selected) == 2:
            self.session.set_pair(*self._selected)
            self._caption_pair()
            for k in range(len(self.panels)):
                self._show_interpolation(k)

    def move_probe(self, k: int, x: float, y: float) -> None:
        """The probe of panel ``k`` is at (x, y): decode there, show the others the nearest item."""
        self._probe = (k, float(x), float(y))
        self._update_probe()

    def _show_probe(self) -> None:
        if self._probe is None:
            return
        k, x, y = self._probe
        if not self.session.ready(k):
            return
        panel = self.panels[k]
        panel.decoded.set_image(self.session.decode_at(k, x, y))
        score = self.session.nearest(k, x, y)
        panel.decoded.set_caption(f"probe: {score.level} the data (ratio {score.ratio:.2f})")
        panel.plane.set_probe_level(score.level)
        near = int(score.nearest)
        if (k, near) == self._shown_nearest:
            return   # the others already show this item: redrawing three planes per move costs frames
        self._shown_nearest = (k, near)
        for j, other in enumerate(self.panels):
            other.set_highlight(near)
            if j == k or not self.session.ready(j):
                continue
            xy = self.session.slots[j].encoded.xy
            other.plane.set_probe(float(xy[near, 0]), float(xy[near, 1]))
            other.plane.set_probe_level(None)
            other.decoded.set_image(self.session.reconstruction(j, near))
            other.decoded.set_caption(f"item {near}, reconstructed")

    def _caption_pair(self) -> None:
        a, b = self.session.pair
        names = self.data.class_names
        if self.data.labels is not None and names:
            ends = f"{a} ({names[int(self.data.labels[a])]}) → {b} ({names[int(self.data.labels[b])]})"
        else:
            ends = f"{a} → {b}"
        self.strips.caption.setText(f"Interpolation between items {ends}; click two items to choose others.")
        self.strips.caption.setStyleSheet(f"color: {theme.MUTED};")

    def _show_interpolation(self, k: int) -> None:
        if not self.session.ready(k):
            return
        path, frames = self.session.interpolation(k)
        self.panels[k].plane.set_path(path, path[[0, -1]])
        self.strips.set_strip(k, frames)
