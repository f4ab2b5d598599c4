"""View ▸ Compare Families…: up to four models side by side on the window's data, live.

One panel per model (:class:`~latentlab.gui.views.compare_view.FamilyPanel`: a small latent
plane and a decoded view) organises itself as that family trains; the families train one after
another (:class:`~latentlab.gui.tools.compare.CompareSession`) and Cancel stops them. Add
Model… brings a model from disk instead (what File ▸ Open Model reads, through the loader the
host gives) and Add Current Model the main window's: it is encoded on the same data and joins
as one more panel; a model that cannot take the data is refused with one message.

* **Linked brushing**: hovering a data item in any plane rings it in every plane; clicking one
  selects it everywhere; a class hidden or shown through the window's one legend of the classes
  (:class:`~latentlab.gui.views.compare_view.ClassLegend`, above the planes) is hidden or shown
  in every plane.
  A lasso (Shift + drag, or any drag while Lasso is on) drawn round items in one plane keeps
  exactly those items at full strength in every plane and fades the rest; Escape or a click
  on an empty spot clears it.
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

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)
from superqt.utils import qthrottled

from latentlab.core import compare as core
from latentlab.core.errors import LatentLabError
from latentlab.gui.tools.compare import FINISHED, CompareSession, eligible_families
from latentlab.gui.tools.density import DensityOverlay
from latentlab.gui.views import theme
from latentlab.gui.views.compare_view import ClassLegend, FamilyPanel, StripsView

NONE = "—"
#: The shared probe redraws once per pass of the event loop while dragged (ms): the first move
#: at once, the moves that queued up meanwhile as one, the last position winning. A longer
#: interval made every move of a steady drag wait for the throttle's timer (about half a frame
#: on average) before anything was drawn.
PROBE_INTERVAL_MS = 0


class CompareWindow(QWidget):
    """The Compare Families window over ``data`` (see the module docstring).

    ``make_trainer(plan)`` makes a training worker for a plan; ``submit`` is the inference
    worker's. ``load_model(path)`` reads a model file as File ▸ Open Model does (an object with
    ``.model`` and ``.path``; without it there is no Add Model…) and ``model_filter`` is its file
    chooser's filter; ``current_model()`` gives the main window's model and its name, or None.
    :meth:`ask_sheet_path`, :meth:`ask_gif_path` and :meth:`ask_model_path` are the questions
    tests replace.
    """

    def __init__(self, data: Any, *, make_trainer: Callable[[Any], Any], submit: Callable[..., Any],
                 threads: int | None = None, load_model: Callable[[str], Any] | None = None,
                 model_filter: str = "All files (*)",
                 current_model: Callable[[], tuple[Any, str] | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("compareWindow")
        self.setWindowTitle(f"Compare Families — {data.name}")
        self.data = data
        self.session = CompareSession(data, make_trainer=make_trainer, submit=submit, threads=threads, parent=self)
        self.panels: list[FamilyPanel] = []
        self.densities: list[DensityOverlay] = []
        self._submit = submit
        self._load_model, self._model_filter, self._current_model = load_model, model_filter, current_model
        self._selected: list[int] = []
        self._lasso: np.ndarray | None = None   # items a lasso holds, shown in every plane
        self._probe: tuple[int, float, float] | None = None
        self._shown_nearest: tuple[int, int] | None = None   # (dragged panel, item) the others show
        self._hidden: set[int] = set()   # classes hidden through the legend, in every plane
        self._build()
        self.session.slotsChanged.connect(self._rebuild_panels)
        self.session.slotAdded.connect(self._add_panel)
        self.session.statusChanged.connect(self._show_status)
        self.session.codesChanged.connect(self._show_codes)
        self.session.weightsChanged.connect(self._weights_changed)
        self.session.runningChanged.connect(self._running_changed)
        self.session.failed.connect(self.show_message)
        self._update_probe = qthrottled(self._show_probe, timeout=PROBE_INTERVAL_MS, leading=True, parent=self)
        self._escape = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self._escape.activated.connect(self.clear_lasso)
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
        self.lasso_button = QPushButton("Lasso")
        self.lasso_button.setObjectName("compareLassoButton")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("Drag round items in any plane to pick them out in every plane "
                                     "(Shift + drag does it too). Escape clears the lasso.")
        self.lasso_button.toggled.connect(self._lasso_mode_toggled)
        self.add_model_button = QPushButton("Add Model…")
        self.add_model_button.setObjectName("compareAddModelButton")
        self.add_model_button.setToolTip("Compare a trained model from disk (a model folder, a .latentlab "
                                         "file) beside the families, on the same data.")
        self.add_model_button.clicked.connect(lambda: self.add_model_file())
        self.add_model_button.setVisible(self._load_model is not None)
        self.add_current_button = QPushButton("Add Current Model")
        self.add_current_button.setObjectName("compareAddCurrentButton")
        self.add_current_button.setToolTip("Compare the model in the main window beside the families "
                                           "(its weights as they are now).")
        self.add_current_button.clicked.connect(self.add_current_model)
        self.add_current_button.setVisible(self._current_model is not None)
        for w in (self.latent_spin, self.epochs_spin, self.train_button, self.cancel_button):
            bar.addWidget(w)
        bar.addStretch(1)
        # A second row, so the window fits a 1024-pixel-wide screen.
        outputs = QHBoxLayout()
        for w in (self.add_model_button, self.add_current_button, self.lasso_button, self.density_box,
                  self.export_button, self.gif_button):
            outputs.addWidget(w)
        also = ", or add a trained model (Add Model…)" if self._load_model is not None else ""
        self.message = QLabel(f"{self.data.name}: {len(self.data):,} items. Choose families and press Train{also}.")
        self.message.setObjectName("compareMessage")
        self.message.setWordWrap(True)
        outputs.addWidget(self.message, 1)
        self.class_legend = ClassLegend()
        self.class_legend.set_classes(class_entries(self.data))
        self.class_legend.setVisible(self.data.labels is not None)
        self.class_legend.hiddenChanged.connect(self.show_classes)
        self.panel_row = QHBoxLayout()
        self.panel_row.setSpacing(4)
        self.strips = StripsView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addLayout(outputs)
        layout.addWidget(self.class_legend)
        layout.addLayout(self.panel_row, 1)
        layout.addWidget(self.strips)

    def chosen_families(self) -> list[str]:
        return [b.currentText() for b in self.family_boxes if b.currentText() != NONE]

    # -- actions --------------------------------------------------------------------------
    def start(self) -> None:
        """Train the chosen families one after another."""
        self.session.start(self.chosen_families(), self.latent_spin.value(), self.epochs_spin.value())

    def ask_model_path(self) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a model to the comparison", "", self._model_filter)
        return path or None

    def add_model_file(self, path: str | None = None) -> bool:
        """Add Model…: read the model at ``path`` (asked when None) and compare it beside the others."""
        if self._load_model is None:
            return False
        path = path or self.ask_model_path()
        if not path:
            return False
        try:
            opened = self._load_model(path)
        except Exception as exc:   # a file a person chose: say why, never a traceback
            self.show_message(f"Could not open the model {path}: {exc}")
            return False
        where = str(getattr(opened, "path", "") or path)
        if self.session.add_model(opened.model, model_name(where), where=where):
            self.show_message(f"Added {model_name(where)}; its plane appears once it has encoded "
                              f"{len(self.data):,} items of {self.data.name}.{self._make_room()}")
            return True
        return False

    def add_current_model(self) -> bool:
        """Add Current Model: the main window's model (a copy of its weights now) beside the others."""
        found = self._current_model() if self._current_model is not None else None
        if found is None or found[0] is None:
            self.show_message("The main window has no model to add; open or train one there first.")
            return False
        model, name = found
        if self.session.add_model(model, name or "current model", copy=True, where="from the main window"):
            self.show_message(f"Added the main window's model {name}.{self._make_room()}")
            return True
        return False

    def _make_room(self) -> str:
        """Leave out the last chosen families that would no longer fit beside the opened models
        (so Train works as it is); what was left out, as a sentence for the message."""
        opened = sum(s.opened for s in self.session.slots)
        chosen = [b for b in self.family_boxes if b.currentText() != NONE]
        dropped = []
        while chosen and opened + len(chosen) > core.MAX_FAMILIES:
            box = chosen.pop()
            dropped.append(box.currentText())
            box.setCurrentText(NONE)
        if not dropped:
            return ""
        return f" {', '.join(reversed(dropped))} left out of the families to train, to fit {core.MAX_FAMILIES} models."

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
        self._update_probe.cancel()
        for overlay in self.densities:
            overlay.schedule.cancel()
            overlay.clear()
            overlay.deleteLater()
        for panel in self.panels:
            self.panel_row.removeWidget(panel)
            panel.deleteLater()
        self.panels, self.densities, self._selected, self._probe = [], [], [], None
        self._shown_nearest = None   # the hidden classes and a lasso stay: they are the window's
        self.strips.set_rows([])
        for k in range(len(self.session.slots)):
            self._add_panel(k)
        for k, slot in enumerate(self.session.slots):   # models kept from before (opened ones)
            self._show_status(k)
            if slot.encoded is not None:
                self._show_codes(k)

    def _add_panel(self, k: int) -> None:
        """A panel (and a strip row) for model ``k``, the last one."""
        slot = self.session.slots[k]
        panel = FamilyPanel(slot.title, removable=slot.opened)
        panel.setObjectName(f"comparePanel{k}")
        panel.plane.pointHovered.connect(self._brush)
        panel.plane.pointSelected.connect(self.select_item)
        panel.removeRequested.connect(lambda k=k: self.session.remove(k))
        panel.plane.probeMoved.connect(lambda x, y, k=k: self.move_probe(k, x, y))
        panel.plane.probeReleased.connect(lambda x, y, k=k: self.move_probe(k, x, y))
        box = panel.plane.plotItem.vb
        box.lasso_enabled, box.lasso_mode = True, self.lasso_button.isChecked()
        box.sigLassoDrawn.connect(lambda corners, k=k: self.lasso(k, corners))
        box.sigLeftClicked.connect(lambda pos, k=k: self._plane_clicked(k, pos.x(), pos.y()))
        panel.prepare(len(self.data), self.session.labels, tuple(self.data.class_names))
        self.panel_row.addWidget(panel, 1)
        self.panels.append(panel)
        overlay = DensityOverlay(panel.plane, scene=lambda k=k: self.session.slots[k].encoded,
                                 manifold_map=lambda k=k: self._map_of(k), submit=self._submit,
                                 kind=f"compare-density-{k}", parent=self)
        panel.plane.viewChanged.connect(overlay.schedule)
        self.densities.append(overlay)
        if self.density_box.isChecked():
            overlay.set_enabled(True)
        self.strips.add_row(slot.title)
        self._caption_pair()

    def _show_status(self, k: int) -> None:
        if k >= len(self.panels):
            return
        slot = self.session.slots[k]
        text = slot.status if slot.status != "training" else f"training {slot.epoch}".strip()
        if slot.status == FINISHED and slot.epoch:
            text = f"finished ({slot.epoch})"
        self.panels[k].set_status(text + (f": {slot.message}" if slot.message else ""))

    def _show_codes(self, k: int) -> None:
        enc = self.session.slots[k].encoded
        if enc is None or k >= len(self.panels):
            return
        panel = self.panels[k]
        first = not panel.has_points()
        if first:
            panel.set_lasso(self._lasso)   # drawn with the points
        panel.set_points(enc.xy, self.session.labels, tuple(self.data.class_names))
        if first and self._hidden:
            panel.set_hidden_classes(self._hidden)
        if first or self._probe is None:
            # Until a probe is dragged, each probe rests on the path's first item and follows it
            # as its family trains (its plane coordinates would otherwise drift off the data).
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
        """A click in the classes' legend: exactly those classes are hidden in every plane."""
        self._hidden = set(hidden)
        self.class_legend.set_hidden(self._hidden)
        for panel in self.panels:
            if panel.has_points():
                panel.set_hidden_classes(self._hidden)

    def lasso(self, k: int, corners: np.ndarray) -> None:
        """A lasso drawn in plane ``k`` (corners ``[M, 2]`` in its coordinates): the items inside
        it (those of hidden classes left out) are picked out in every plane."""
        if not self.session.ready(k):
            self.panels[k].plane.plotItem.vb.clear_lasso()
            return
        inside = core.inside_polygon(self.session.slots[k].encoded.xy, corners)
        if self.session.labels is not None and self._hidden:
            inside &= ~np.isin(self.session.labels, sorted(self._hidden))
        indices = np.flatnonzero(inside)
        for j, panel in enumerate(self.panels):
            if j != k:
                panel.plane.plotItem.vb.clear_lasso()
        if not len(indices):
            self.clear_lasso()
            self.show_message("The lasso holds no items; draw round some points (Escape clears a lasso).")
            return
        self._lasso = indices
        for panel in self.panels:
            panel.set_lasso(indices)
        self.show_message(f"{len(indices):,} items lassoed in {self.session.slots[k].title}: they stand out in "
                          "every plane. Escape or a click on an empty spot clears the lasso.")

    def lassoed(self) -> np.ndarray | None:
        """The items a lasso picked out (None: no lasso)."""
        return None if self._lasso is None else self._lasso.copy()

    def clear_lasso(self) -> None:
        """Escape, or a click on an empty spot: every item at full strength again."""
        had = self._lasso is not None
        self._lasso = None
        for panel in self.panels:
            panel.plane.plotItem.vb.clear_lasso()
            if had:
                panel.set_lasso(None)
        if had:
            self.show_message("Lasso cleared.")

    def _lasso_mode_toggled(self, on: bool) -> None:
        for panel in self.panels:
            panel.plane.plotItem.vb.lasso_mode = on

    def _plane_clicked(self, k: int, x: float, y: float) -> None:
        if self._lasso is not None and self.panels[k].plane.point_at(x, y) < 0:
            self.clear_lasso()

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


def model_name(path: str) -> str:
    """A model's short name: its folder's or file's name without ``.latentlab`` / ``.onnx``."""
    name = os.path.basename(os.path.normpath(path))
    if name == "config.json":
        name = os.path.basename(os.path.dirname(os.path.normpath(path)))
    for suffix in (".latentlab", ".onnx"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path


def class_entries(data: Any) -> list[tuple[int, tuple[int, int, int], str]]:
    """``(class, colour, name)`` of every class present in ``data``, coloured as the planes colour them."""
    if data.labels is None or not len(data):
        return []
    labels = data.labels.numpy()
    names = list(data.class_names)
    present = np.unique(labels[labels >= 0])
    if not present.size:
        return []
    colours = theme.label_colors(max(len(names), int(present.max()) + 1))
    return [(int(k), colours[k], names[k] if k < len(names) else str(k)) for k in present]
