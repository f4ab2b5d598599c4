"""The data browser: find a data item by number or class, see it, add it to the path.

:class:`DataBrowserPanel` (objectName ``"dataBrowserPanel"``) shows one item large with
its number and class, and a strip of the items that follow it (within the chosen class)
to click through. "Add to path" encodes the item and appends it to the interpolation
path; "Show on plane" hands the item to the host (which selects it on the plane).

The host gives plain callables, so the panel needs no model and no data set:

=======================  ==========================================================
``count()``              the number of data items (0 without data)
``image(i)``             item ``i`` as ``[C, H, W]`` float in [0, 1]
``labels()``             ``[N]`` int labels, or None
``class_names()``        names of the classes (may be empty)
=======================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from latentlab.core.errors import LatentLabError
from latentlab.gui.views import dialogs
from latentlab.gui.views.qimage import array_to_qpixmap
from latentlab.gui.tools.strip import FrameStrip, chw_to_display
from latentlab.gui.tools.tools_controller import ToolsController

PREVIEW_PX = 112   # the large thumbnail's side
STRIP_ITEMS = 12   # how many following items the strip shows


class DataBrowserPanel(QWidget):
    """Browse the data set and add items to the interpolation path (see module doc).

    Signals
    -------
    showRequested(int): the user wants item ``i`` shown (selected) on the plane.
    """

    showRequested = Signal(int)

    def __init__(self, controller: ToolsController, *, count: Callable[[], int],
                 image: Callable[[int], np.ndarray], labels: Callable[[], np.ndarray | None],
                 class_names: Callable[[], Sequence[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataBrowserPanel")
        self.controller = controller
        self._count, self._image, self._labels, self._class_names = count, image, labels, class_names
        self._matches = np.zeros(0, dtype=np.int64)   # item numbers in the chosen class
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.preview = QLabel()
        self.preview.setObjectName("dataBrowserPreview")
        self.preview.setFixedSize(PREVIEW_PX, PREVIEW_PX)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.preview, 0, 0, 2, 1)
        layout.addLayout(self._build_controls(), 0, 1)
        self.strip = FrameStrip(thumb_size=40)
        self.strip.setToolTip("The items that follow; click one to look at it.")
        self.strip.frameClicked.connect(self._on_strip_clicked)
        layout.addWidget(self.strip, 1, 1)
        layout.setColumnStretch(1, 1)
        layout.setRowStretch(2, 1)
        self.refresh()

    def _build_controls(self) -> QVBoxLayout:
        column = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(QLabel("Class:"))
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("dataBrowserClass")
        self.class_combo.currentIndexChanged.connect(lambda _i: self._on_class_changed())
        row.addWidget(self.class_combo)
        row.addWidget(QLabel("Item:"))
        self.index_spin = QSpinBox()
        self.index_spin.setObjectName("dataBrowserIndex")
        self.index_spin.setToolTip("The item's number in the data set.")
        self.index_spin.valueChanged.connect(lambda _v: self._show_current())
        row.addWidget(self.index_spin)
        self.caption = QLabel()
        self.caption.setObjectName("dataBrowserCaption")
        row.addWidget(self.caption, 1)
        column.addLayout(row)
        buttons = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.add_button = QPushButton("Add to path")
        self.add_button.setObjectName("dataBrowserAdd")
        self.add_button.setToolTip("Encode this item and add it as a waypoint of the interpolation path.")
        self.show_button = QPushButton("Show on plane")
        self.show_button.setToolTip("Select this item on the plane and move the probe to it.")
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.add_button.clicked.connect(self.add_current)
        self.show_button.clicked.connect(lambda: self.showRequested.emit(self.current_index()))
        for b in (self.prev_button, self.next_button, self.add_button, self.show_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        column.addLayout(buttons)
        return column

    # -- state --------------------------------------------------------------------------
    def current_index(self) -> int:
        """The item shown now (-1 without data)."""
        return self.index_spin.value() if self._count() > 0 else -1

    def set_index(self, index: int) -> None:
        """Show item ``index`` (clamped to the data set)."""
        self.index_spin.setValue(int(index))
        self._show_current()

    def refresh(self) -> None:
        """Another data set: refill the class list and show its first item."""
        n = self._count()
        names = [str(v) for v in self._class_names()]
        labels = self._labels()
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItem("All classes", None)
        if labels is not None and n > 0:
            for k in np.unique(np.asarray(labels)):
                self.class_combo.addItem(names[k] if 0 <= k < len(names) else f"class {k}", int(k))
        self.class_combo.blockSignals(False)
        self.class_combo.setVisible(self.class_combo.count() > 1)
        self.index_spin.blockSignals(True)
        self.index_spin.setRange(0, max(n - 1, 0))
        self.index_spin.setValue(0)
        self.index_spin.blockSignals(False)
        self._on_class_changed()

    def _on_class_changed(self) -> None:
        n, labels, k = self._count(), self._labels(), self.class_combo.currentData()
        if k is None or labels is None:
            self._matches = np.arange(n, dtype=np.int64)
        else:
            self._matches = np.flatnonzero(np.asarray(labels) == k).astype(np.int64)
        if len(self._matches) and self.index_spin.value() not in self._matches:
            self.index_spin.blockSignals(True)
            self.index_spin.setValue(int(self._matches[0]))
            self.index_spin.blockSignals(False)
        self._show_current()

    def step(self, offset: int) -> None:
        """Go ``offset`` items forwards or backwards within the chosen class."""
        if not len(self._matches):
            return
        cur = self.index_spin.value()
        # From an item outside the class, one step goes to the nearest one on that side.
        side = "right" if offset > 0 else "left"
        at = int(np.searchsorted(self._matches, cur, side=side)) + offset - (1 if offset > 0 else 0)
        self.set_index(int(self._matches[at % len(self._matches)]))

    def _following(self) -> np.ndarray:
        at = int(np.searchsorted(self._matches, self.index_spin.value()))
        return self._matches[at:at + STRIP_ITEMS]

    # -- showing ------------------------------------------------------------------------
    def _show_current(self) -> None:
        n = self._count()
        has = n > 0
        for w in (self.index_spin, self.prev_button, self.next_button, self.add_button, self.show_button):
            w.setEnabled(has)
        if not has:
            self.preview.clear()
            self.preview.setText("No data")
            self.caption.setText("")
            self.strip.set_frames(None)
            return
        i = self.current_index()
        pixmap = array_to_qpixmap(chw_to_display(np.asarray(self._image(i), dtype=np.float32)))
        self.preview.setPixmap(pixmap.scaled(PREVIEW_PX, PREVIEW_PX, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.FastTransformation))
        self.caption.setText(f"of {n}" + self._class_text(i))
        following = self._following()
        frames = np.stack([np.asarray(self._image(int(j)), dtype=np.float32) for j in following]) \
            if len(following) else None
        self.strip.set_frames(frames)
        self.strip.set_current(0 if len(following) and following[0] == i else -1)

    def _class_text(self, i: int) -> str:
        labels = self._labels()
        if labels is None:
            return ""
        k = int(np.asarray(labels)[i])
        names = [str(v) for v in self._class_names()]
        return f" · class {names[k] if 0 <= k < len(names) else k}"

    def _on_strip_clicked(self, position: int) -> None:
        following = self._following()
        if 0 <= position < len(following):
            self.set_index(int(following[position]))

    def add_current(self) -> bool:
        """Encode the shown item and add it to the interpolation path; False on an error."""
        i = self.current_index()
        if i < 0:
            return False
        try:
            self.controller.add_item(i)
        except LatentLabError as exc:
            dialogs.show_error(self, "Cannot add the item", str(exc))
            return False
        return True
