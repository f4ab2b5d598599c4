"""Widgets and small helpers of the main window that need no torch.

:class:`LatentSidePanel` sits right of the plane: a title, the decoded image, the z
bars, the CVAE class chooser and the plane chooser. :class:`ReadableDockTabs` keeps the
titles of tabbed docks whole. The helpers turn values into what widgets show.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QComboBox, QFrame, QHBoxLayout, QLabel, QScrollArea, QSpinBox, QStackedWidget, QTabBar, QVBoxLayout, QWidget,
)

from latentlab.gui.views.nearest_view import NearestView
from latentlab.gui.views.decoded_view import DecodedView
from latentlab.gui.views.zbar import ZBarChart

DECODED_TITLE = "Decoded at the probe"
PLANE_CHOICES = (("pca", "PCA of the codes"), ("dims", "Two dimensions"), ("points", "Through three points"))


class LatentSidePanel(QWidget):
    """Decoded image (large), the z bars beneath, the CVAE label and the plane chooser."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel(DECODED_TITLE)
        self.title.setObjectName("decodedTitle")
        self.title.setToolTip("The decoder's image for the latent code under the probe ✛ on the plane.")
        # A small caption-like heading: bold, the application's default size.
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        layout.addWidget(self.title)
        self.decoded = DecodedView()
        # The decoded output is drawn by kind: an image, or (made when first needed, since it
        # needs torch) a drawing of pen strokes or signal curves.
        self.output_stack = QStackedWidget()
        self.output_stack.addWidget(self.decoded)
        self.sequence: Any = None
        self.output_kind = "image"
        layout.addWidget(self.output_stack, 1)
        self.nearest = NearestView()
        layout.addWidget(self.nearest)
        self.zbars = ZBarChart()
        layout.addWidget(self.zbars)
        self.condition_row = QWidget()
        row = QHBoxLayout(self.condition_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Class"))
        self.condition = QComboBox()
        self.condition.setObjectName("conditionSelector")
        self.condition.setToolTip("The class the conditional decoder draws; the latent point stays the same.")
        row.addWidget(self.condition, 1)
        layout.addWidget(self.condition_row)
        self.plane_row = QWidget()
        prow = QHBoxLayout(self.plane_row)
        prow.setContentsMargins(0, 0, 0, 0)
        prow.addWidget(QLabel("Plane"))
        self.plane_kind = QComboBox()
        self.plane_kind.setObjectName("planeChooser")
        for key, label in PLANE_CHOICES:
            self.plane_kind.addItem(label, key)
        self.plane_kind.setToolTip("Which 2-D slice of the latent space the plane shows. "
                                   "“Through three points” uses the three points you selected last.")
        prow.addWidget(self.plane_kind, 1)
        layout.addWidget(self.plane_row)
        # The two dimensions get a row of their own: beside the chooser they would make the
        # panel wider whenever "Two dimensions" is chosen.
        self.dims_row = QWidget()
        drow = QHBoxLayout(self.dims_row)
        drow.setContentsMargins(0, 0, 0, 0)
        drow.addWidget(QLabel("Axes"))
        self.dim_x, self.dim_y = QSpinBox(), QSpinBox()
        for box, name, value in ((self.dim_x, "planeDimX", 0), (self.dim_y, "planeDimY", 1)):
            box.setObjectName(name)
            box.setPrefix("z")
            box.setValue(value)
            box.setToolTip("Latent dimension on this axis.")
            drow.addWidget(box, 1)
        layout.addWidget(self.dims_row)
        self.configure(0, (), False)   # no model yet: no class or plane to choose

    def show_output_kind(self, kind: str) -> None:
        """Show the view for the model's output kind: ``"image"`` or ``"sequence"``."""
        if kind == "sequence" and self.sequence is None:
            from latentlab.gui.views.sequence_view import SequenceView

            self.sequence = SequenceView()
            self.sequence.setObjectName("sequenceView")
            self.output_stack.addWidget(self.sequence)
        self.output_kind = kind
        self.output_stack.setCurrentWidget(self.sequence if kind == "sequence" else self.decoded)
        self.title.setText(DECODED_TITLE if kind == "image" else "Decoded sequence at the probe")

    def output_view(self) -> Any:
        """The view drawing decoded outputs now (the image view or the sequence view)."""
        return self.sequence if self.output_kind == "sequence" else self.decoded

    def configure(self, latent_dim: int, class_names: tuple[str, ...], conditional: bool) -> None:
        """Show only the controls that mean something for this model."""
        self.condition.blockSignals(True)
        self.condition.clear()
        for k, name in enumerate(class_names):
            self.condition.addItem(f"{k}: {name}" if name != str(k) else name, k)
        self.condition.blockSignals(False)
        self.condition_row.setVisible(conditional and self.condition.count() > 0)
        self.plane_row.setVisible(latent_dim > 2)
        for box in (self.dim_x, self.dim_y):
            box.blockSignals(True)
            box.setRange(0, max(latent_dim - 1, 0))
            box.blockSignals(False)
        self.show_plane("pca", (0, min(1, max(latent_dim - 1, 0))))

    def show_plane(self, kind: str, dims: tuple[int, int]) -> None:
        """Set the chooser to the plane on screen (without asking for it again)."""
        for widget in (self.plane_kind, self.dim_x, self.dim_y):
            widget.blockSignals(True)
        self.plane_kind.setCurrentIndex(max(0, self.plane_kind.findData(kind)))
        self.dim_x.setValue(int(dims[0]))
        self.dim_y.setValue(int(dims[1]))
        for widget in (self.plane_kind, self.dim_x, self.dim_y):
            widget.blockSignals(False)
        self.update_dims_visibility()

    def show_condition(self, label: int) -> None:
        """Select class ``label`` in the chooser (without asking for it again)."""
        row = self.condition.findData(int(label))
        if row >= 0 and row != self.condition.currentIndex():
            self.condition.blockSignals(True)
            self.condition.setCurrentIndex(row)
            self.condition.blockSignals(False)

    def chosen_plane(self) -> tuple[str, tuple[int, int]]:
        """The plane kind and the two dimensions the chooser shows."""
        return str(self.plane_kind.currentData()), (self.dim_x.value(), self.dim_y.value())

    def update_dims_visibility(self) -> None:
        """The two dimension boxes only mean something for the "Two dimensions" plane."""
        self.dims_row.setVisible(self.plane_row.isVisibleTo(self) and self.plane_kind.currentData() == "dims")


def empty_xy() -> np.ndarray:
    """No points: what the plane shows without data or a model."""
    return np.zeros((0, 2), dtype=np.float32)


def display_image(chw: np.ndarray) -> np.ndarray:
    """A data item ``[C, H, W]`` as the layout Qt images take: ``H x W`` or ``H x W x 3``."""
    arr = np.asarray(chw)
    return arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0))


def scrolling(panel: QWidget) -> QScrollArea:
    """``panel`` in a scroll area: a short dock scrolls instead of making the window taller."""
    area = QScrollArea()
    area.setObjectName(f"{panel.objectName()}Scroll")
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(panel)
    return area


def panel_data_settings(source: dict[str, Any]) -> dict[str, Any]:
    """A data set's ``source`` (see core.data) as the training panel's data settings."""
    out: dict[str, Any] = {"spec": source.get("path") or source.get("kind")}
    if source.get("size"):
        out["image_size"] = source["size"]
    if source.get("color"):
        out["color"] = source["color"]
    for key in ("window", "stride"):   # a series cut into windows: the panel's window fields follow
        if source.get("kind") in ("series", "stream") and isinstance(source.get(key), int):
            out[key] = source[key]
    return out


class ReadableDockTabs(QObject):
    """Keeps the titles of a window's tabbed docks whole: never "Lo…" or "Interpolat…".

    Qt elides the titles of docks tabbed together once they do not fit, and with ten tools
    under the plane a 1024-pixel window shows only their first letters. Each tab bar the
    window makes (it makes them as docks are tabbed, and again when a dock is moved) gets
    whole titles and scroll arrows instead, as it is polished.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        window.installEventFilter(self)
        for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
            readable_tabs(bar)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.ChildPolished and isinstance(event.child(), QTabBar):
            readable_tabs(event.child())
        return False


def readable_tabs(bar: QTabBar) -> None:
    """Whole titles on ``bar``, scrolled with its arrows when they do not all fit."""
    bar.setElideMode(Qt.TextElideMode.ElideNone)
    bar.setUsesScrollButtons(True)
