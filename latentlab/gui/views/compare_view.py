"""Widgets of the Compare Families window: one small-multiple panel per family, and the strips.

Plain views: they show the values they are given and re-emit what the person does; the
logic lives in :mod:`latentlab.gui.tools.compare_window`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QGraphicsEllipseItem, QGraphicsItem, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout,
    QWidget,
)

from latentlab.gui.views import theme
from latentlab.gui.views.decoded_view import DecodedView
from latentlab.gui.views.plane_view import LatentPlaneView

#: Above the selection ring, below the probe.
_Z_HIGHLIGHT = 45
#: Height of one interpolation strip in pixels.
STRIP_HEIGHT = 52
#: A plane whose codes fill less than this share of its view (along both axes) is framed anew.
REFIT_BELOW = 0.6
#: Classes given a button of their own in the legend.
MAX_CLASSES = 20
#: How strongly the items outside a lasso still show.
UNLASSOED_OPACITY = 0.12


class FamilyPanel(QWidget):
    """One family: its title and status, a small latent plane and one decoded view.

    ``plane`` is a :class:`LatentPlaneView` (its signals are the panel's) without a legend of
    its own (the window shows the classes once, :class:`ClassLegend`); a ring drawn by
    :meth:`set_highlight` marks the data item brushed in any panel, and :meth:`set_lasso`
    fades every item but a lassoed set. ``removeRequested()`` says that its × was pressed
    (shown with ``removable``, for a model a person opened).
    """

    removeRequested = Signal()

    def __init__(self, title: str, parent: QWidget | None = None, *, removable: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("comparePanel")
        self.title = QLabel(title)
        self.title.setObjectName("comparePanelTitle")
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setToolTip(title)
        # A long model name is cut (whole in the tooltip), never widening the panel.
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.remove_button = QToolButton()
        self.remove_button.setObjectName("comparePanelRemove")
        self.remove_button.setText("×")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip("Take this model out of the comparison")
        self.remove_button.setVisible(removable)
        self.remove_button.clicked.connect(lambda: self.removeRequested.emit())
        self.status = QLabel("waiting")
        self.status.setObjectName("comparePanelStatus")
        self.status.setStyleSheet(f"color: {theme.MUTED};")
        self.plane = LatentPlaneView(side_legend=False)
        self.plane.setMinimumSize(160, 140)
        self.plane.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.decoded = DecodedView()
        self.decoded.setMinimumSize(80, 80)
        self.decoded.setMaximumHeight(150)
        self.decoded.clear("training…")
        # A plain ellipse a fixed 16 pixels across: pyqtgraph asks every item under the mouse
        # for its bounds on each move, and a scatter item's bounds cost a millisecond or more.
        self._highlight = QGraphicsEllipseItem(-8.0, -8.0, 16.0, 16.0)
        self._highlight.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self._highlight.setPen(pg.mkPen(theme.ACCENT, width=2.5))
        self._highlight.setZValue(_Z_HIGHLIGHT)
        # Only drawn: the ring sits under the cursor while hovering and must never take the click
        # that selects the item (pyqtgraph sends clicks to enabled items only).
        self._highlight.setEnabled(False)
        self._highlight.setVisible(False)
        self.plane.plotItem.addItem(self._highlight)
        self._xy: np.ndarray | None = None
        self._highlighted: int | None = None
        self._lassoed: np.ndarray | None = None
        self._prepared: tuple | None = None   # (n, labels, class names) of prepare()
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.status)
        layout.addWidget(self.plane, 3)
        layout.addWidget(self.decoded, 1)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def has_points(self) -> bool:
        return self._xy is not None

    def prepare(self, n: int, labels: np.ndarray | None, class_names: Sequence[str] = ()) -> None:
        """Build the scatter of ``n`` items, coloured by ``labels``, before there are codes to
        show (no dot is drawn until :meth:`set_points`): the first codes then only move the
        points, instead of building the scatter while a family trains."""
        if self._xy is None:
            self.plane.set_points(np.full((n, 2), np.nan), labels, class_names)
            self.plane.frame((-1.0, -1.0, 2.0, 2.0))   # the waiting probe in the middle, not at an edge
            self._prepared = (n, None if labels is None else np.asarray(labels), tuple(class_names))

    def set_points(self, xy: np.ndarray, labels: np.ndarray | None, class_names: Sequence[str] = ()) -> None:
        """Show the codes ``xy`` ``[N, 2]``: the first time as a new scatter, then moving the points."""
        first = self._xy is None
        if first and self._prepared_for(len(xy), labels, class_names):
            self.plane.update_points(xy, follow=False)
            self.plane.auto_range()
        elif first or len(self._xy) != len(xy):
            self.plane.set_points(xy, labels, class_names)
        else:
            self.plane.update_points(xy, follow=self._outgrown(xy))
        self._xy = np.asarray(xy)
        if first:
            self.set_lasso(self._lassoed)
        self.set_highlight(self._highlighted)

    def _outgrown(self, xy: np.ndarray) -> bool:
        """Whether the view no longer frames codes ``xy`` well: some lie outside it, or all of
        them fill less than :data:`REFIT_BELOW` of it along both axes. A new range costs the GUI
        thread more than moving the points (axes, labels, every item told), and while a family
        trains it would be paid at every placement; the view follows only when it must."""
        finite = xy[np.isfinite(xy).all(axis=1)]
        if not len(finite):
            return False
        x0, y0, w, h = self.plane.visible_rect()
        if not (w > 0 and h > 0):
            return True
        lo, hi = finite.min(axis=0), finite.max(axis=0)
        if lo[0] < x0 or lo[1] < y0 or hi[0] > x0 + w or hi[1] > y0 + h:
            return True
        return max((hi[0] - lo[0]) / w, (hi[1] - lo[1]) / h) < REFIT_BELOW

    def _prepared_for(self, n: int, labels: np.ndarray | None, class_names: Sequence[str]) -> bool:
        if self._prepared is None:
            return False
        size, prepared_labels, names = self._prepared
        if size != n or names != tuple(class_names) or (prepared_labels is None) != (labels is None):
            return False
        return labels is None or np.array_equal(prepared_labels, labels)

    def set_lasso(self, indices: np.ndarray | None) -> None:
        """Show items ``indices`` at full strength and fade the rest (None: all at full strength)."""
        self._lassoed = None if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if self._xy is None:
            return
        if self._lassoed is None:
            self.plane.point_cloud.set_opacities(None)
            return
        opacity = np.full(len(self._xy), UNLASSOED_OPACITY)
        opacity[self._lassoed[(self._lassoed >= 0) & (self._lassoed < len(opacity))]] = 1.0
        self.plane.point_cloud.set_opacities(opacity)

    def lassoed(self) -> np.ndarray | None:
        """The items shown at full strength by a lasso (None: no lasso)."""
        return None if self._lassoed is None else self._lassoed.copy()

    def set_hidden_classes(self, hidden: set[int]) -> None:
        """Hide exactly the classes in ``hidden`` (a class chosen in another panel)."""
        labels = self.plane.point_labels()
        if labels is None:
            return
        for k in set(np.unique(labels[labels >= 0]).tolist()) | set(hidden) | self.plane.hidden_classes():
            if (k in hidden) != (k in self.plane.hidden_classes()):
                self.plane.set_class_visible(int(k), k not in hidden)

    def set_highlight(self, index: int | None) -> None:
        """Ring data item ``index`` (None: no ring)."""
        self._highlighted = index
        if index is None or index < 0 or self._xy is None or index >= len(self._xy):
            self._highlight.setVisible(False)
            return
        self._highlight.setPos(float(self._xy[index, 0]), float(self._xy[index, 1]))
        self._highlight.setVisible(True)

    def highlighted(self) -> int | None:
        """The data item ringed now, or None."""
        return self._highlighted if self._highlight.isVisible() else None


class ClassLegend(QWidget):
    """The classes of the compared data, once for all the planes: a button per class in its
    colour (pressed: shown). A click hides or shows that class; ``hiddenChanged(set)`` says
    which classes are hidden now."""

    hiddenChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareClasses")
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._buttons: dict[int, QToolButton] = {}

    def set_classes(self, entries: Sequence[tuple[int, tuple[int, int, int], str]]) -> None:
        """One button per ``(class, colour, name)``, all shown (at most :data:`MAX_CLASSES`)."""
        while self._layout.count():
            item = self._layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._buttons = {}
        if entries:
            title = QLabel("Classes")
            title.setStyleSheet(f"color: {theme.MUTED};")
            self._layout.addWidget(title)
        for k, colour, name in list(entries)[:MAX_CLASSES]:
            button = QToolButton()
            button.setObjectName(f"compareClass{k}")
            button.setText(name)
            button.setIcon(_swatch(colour))
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setCheckable(True)
            button.setChecked(True)
            button.setAutoRaise(True)
            button.setToolTip(f"Show or hide {name} in every plane")
            button.toggled.connect(lambda _on, b=button: _mark_hidden(b))
            button.toggled.connect(lambda _on: self.hiddenChanged.emit(self.hidden()))
            _mark_hidden(button)
            self._layout.addWidget(button)
            self._buttons[k] = button
        if len(entries) > MAX_CLASSES:
            self._layout.addWidget(QLabel(f"… {len(entries) - MAX_CLASSES} more"))
        self._layout.addStretch(1)

    def hidden(self) -> set[int]:
        return {k for k, b in self._buttons.items() if not b.isChecked()}

    def set_hidden(self, hidden: set[int]) -> None:
        """Show the classes in ``hidden`` as hidden (no signal)."""
        for k, button in self._buttons.items():
            button.blockSignals(True)
            button.setChecked(k not in hidden)
            button.blockSignals(False)
            _mark_hidden(button)

    def button(self, k: int) -> QToolButton:
        return self._buttons[k]


def _mark_hidden(button: QToolButton) -> None:
    """A hidden class's button is struck through and muted; a shown one reads normally."""
    hidden = not button.isChecked()
    font = button.font()
    font.setStrikeOut(hidden)
    button.setFont(font)
    button.setStyleSheet(f"color: {theme.MUTED};" if hidden else "")


def _swatch(colour: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(10, 10)
    pixmap.fill(QColor(*colour))
    return QIcon(pixmap)


def strip_picture(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Pictures of one size side by side with a 1-pixel white gutter."""
    rows = [np.asarray(f, np.float32) for f in frames]
    gutter = np.ones((rows[0].shape[0], 1, *rows[0].shape[2:]), np.float32)
    parts: list[np.ndarray] = []
    for k, f in enumerate(rows):
        if k:
            parts.append(gutter)
        parts.append(f)
    return np.concatenate(parts, axis=1)


class StripsView(QWidget):
    """The interpolation strips of every family, one above another, each with its family's name."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("compareStrips")
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setVerticalSpacing(2)
        self._rows: list[tuple[QLabel, DecodedView]] = []
        self.caption = QLabel("")
        self.caption.setStyleSheet(f"color: {theme.MUTED};")
        self._layout.addWidget(self.caption, 0, 0, 1, 2)

    def set_rows(self, titles: Sequence[str]) -> None:
        """One empty row per family."""
        for label, view in self._rows:
            self._layout.removeWidget(label)
            self._layout.removeWidget(view)
            label.deleteLater()
            view.deleteLater()
        self._rows = []
        for title in titles:
            self.add_row(title)

    def add_row(self, title: str) -> None:
        """One more empty row, at the bottom."""
        k = len(self._rows)
        label = QLabel(title)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        label.setMinimumWidth(90)
        label.setMaximumWidth(220)
        label.setToolTip(title)
        view = DecodedView()
        view.setObjectName(f"compareStrip{k}")
        view.setFixedHeight(STRIP_HEIGHT)
        view.setMinimumWidth(120)
        view.clear("")
        self._layout.addWidget(label, k + 1, 0)
        self._layout.addWidget(view, k + 1, 1)
        self._rows.append((label, view))

    def set_strip(self, k: int, frames: Sequence[np.ndarray] | None) -> None:
        """Show family ``k``'s decodes along the path (None: nothing yet)."""
        view = self._rows[k][1]
        if frames:
            view.set_image(strip_picture(frames))
        else:
            view.clear("")

    def strip(self, k: int) -> np.ndarray | None:
        """The picture shown in row ``k`` (None when empty)."""
        return self._rows[k][1].current_image()

    def row_count(self) -> int:
        return len(self._rows)
