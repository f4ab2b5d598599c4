"""The attribute panel: push the probe from one class towards another.

:class:`AttributePanel` (objectName ``"attributePanel"``) picks a *from* class (or "All
data": the mean of every code) and a *to* class; their mean codes' difference is the
attribute vector (:func:`latentlab.core.latent.attribute_vector`). Apply moves the probe
to ``base + amount * vector``; moving the amount slider afterwards slides it along the
same line, and the plane shows the vector as an arrow from the base (through the
controller's ``arrowChanged``). Without labels the panel is disabled and says why.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from latentlab.core.errors import LatentLabError
from latentlab.gui.views import dialogs
from latentlab.gui.tools.tools_controller import ToolsController

AMOUNT_RANGE = 2.0
TICKS_PER_UNIT = 100
DEFAULT_AMOUNT = 1.0
NO_LABELS_HINT = "Attribute vectors need a labelled data set; this one has no labels."


class AttributePanel(QWidget):
    """From-class, to-class, amount, Apply and Clear (see module doc)."""

    def __init__(self, controller: ToolsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attributePanel")
        self.controller = controller
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.hint = QLabel()
        self.hint.setObjectName("attributeHint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        form = QFormLayout()
        self.from_combo = QComboBox()
        self.from_combo.setObjectName("attributeFrom")
        self.to_combo = QComboBox()
        self.to_combo.setObjectName("attributeTo")
        form.addRow("From:", self.from_combo)
        form.addRow("To:", self.to_combo)
        self.amount_slider = QSlider(Qt.Orientation.Horizontal)
        self.amount_slider.setObjectName("attributeAmount")
        ticks = int(AMOUNT_RANGE * TICKS_PER_UNIT)
        self.amount_slider.setRange(-ticks, ticks)
        self.amount_slider.setValue(int(DEFAULT_AMOUNT * TICKS_PER_UNIT))
        self.amount_label = QLabel()
        amount_row = QHBoxLayout()
        amount_row.addWidget(self.amount_slider, 1)
        amount_row.addWidget(self.amount_label)
        form.addRow("Amount:", amount_row)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("attributeApply")
        self.apply_button.setToolTip("Move the probe along the vector by the amount")
        self.clear_button = QPushButton("Clear")
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.apply_button.clicked.connect(self.apply)
        self.clear_button.clicked.connect(controller.clear_attribute)
        self.amount_slider.valueChanged.connect(self._on_amount)
        self.from_combo.currentIndexChanged.connect(self._on_classes_changed)
        self.to_combo.currentIndexChanged.connect(self._on_classes_changed)
        controller.modelRefreshed.connect(self._show_amount)
        self.refresh_classes()

    def amount(self) -> float:
        """The amount the slider shows."""
        return self.amount_slider.value() / TICKS_PER_UNIT

    def set_amount(self, amount: float) -> None:
        """Move the amount slider (clamped to ±2)."""
        self.amount_slider.setValue(round(float(amount) * TICKS_PER_UNIT))

    def refresh_classes(self) -> None:
        """Fill the class lists from the data set; disable the panel without labels."""
        names = self.controller.class_names()
        count = self.controller.class_count()
        labelled = self.controller.has_labels() and count > 0
        previous = (self.from_combo.currentData(), self.to_combo.currentData())
        for combo in (self.from_combo, self.to_combo):
            combo.blockSignals(True)
            combo.clear()
        self.from_combo.addItem("All data", None)
        for k in range(count if labelled else 0):
            text = names[k] if k < len(names) else f"class {k}"
            self.from_combo.addItem(text, k)
            self.to_combo.addItem(text, k)
        self._select(self.from_combo, previous[0])
        self._select(self.to_combo, previous[1])
        for combo in (self.from_combo, self.to_combo):
            combo.blockSignals(False)
        for w in (self.from_combo, self.to_combo, self.amount_slider, self.apply_button, self.clear_button):
            w.setEnabled(labelled)
        self.hint.setText("Move the probe from one class towards another." if labelled else NO_LABELS_HINT)
        self._show_amount()

    @staticmethod
    def _select(combo: QComboBox, data: object) -> None:
        k = combo.findData(data)
        combo.setCurrentIndex(k if k >= 0 else 0)

    def set_classes(self, to_class: int, from_class: int | None = None) -> None:
        """Select the classes in the combos (as a user would)."""
        self._select(self.from_combo, from_class)
        self._select(self.to_combo, to_class)

    def _guard(self, action: Callable[[], object]) -> bool:
        try:
            action()
        except LatentLabError as exc:
            dialogs.show_error(self, "Attribute vector", str(exc))
            return False
        return True

    def _choose(self) -> None:
        to_class = self.to_combo.currentData()
        if to_class is None:
            raise LatentLabError(NO_LABELS_HINT)
        a = self.controller.attribute
        from_class = self.from_combo.currentData()
        if a is None or a.to_class != to_class or a.from_class != from_class:
            self.controller.set_attribute(to_class, from_class, self.amount())

    def apply(self) -> bool:
        """Apply the chosen vector to the probe by the slider's amount; False on an error."""
        return self._guard(lambda: (self._choose(), self.controller.apply(self.amount())))

    def _on_classes_changed(self, _index: int) -> None:
        # While the probe sits on the vector, other classes re-apply from the same base.
        if self.controller.is_applied():
            self.apply()

    def _on_amount(self, _ticks: int) -> None:
        self._show_amount()
        if self.controller.is_applied():
            self._guard(lambda: self.controller.apply(self.amount()))

    def _show_amount(self) -> None:
        self.amount_label.setText(f"{self.amount():+.2f}")
