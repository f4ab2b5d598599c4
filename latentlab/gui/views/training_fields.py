"""Form fields for the training panel: the learning-rate spin box and small field helpers.

The helpers build combo and spin boxes and read or write a field's value as the plain
Python value :meth:`~latentlab.gui.views.training_panel.TrainingPanel.settings` carries. Like
the panel, this module must not import torch.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QSpinBox, QWidget

from latentlab.gui.views.formatting import format_learning_rate, is_number


class LearningRateSpinBox(QDoubleSpinBox):
    """A spin box for learning rates: shows ``1e-3``, steps along 1-2-5 (1e-3, 2e-3, 5e-3, 1e-2)."""

    _LADDER = (1.0, 2.0, 5.0)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Enough decimals that Qt's rounding never alters a value like 3e-7.
        self.setDecimals(12)
        self.setRange(1e-7, 10.0)
        self.setValue(1e-3)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt override)
        return format_learning_rate(value)

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt override)
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            # Half-typed numbers ("", "1e", "1e-", "0.") may still become valid.
            partial = stripped == "" or stripped[-1:] in ("e", "E", "-", "+", ".")
            state = QValidator.State.Intermediate if partial else QValidator.State.Invalid
            return state, text, pos
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        value = self.value()
        for _ in range(abs(steps)):
            value = self._next(value, up=steps > 0)
        self.setValue(value)

    def _next(self, value: float, up: bool) -> float:
        exponent = math.floor(math.log10(value))
        candidates = sorted(m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in self._LADDER)
        tolerance = value * 1e-9
        if up:
            return next(c for c in candidates if c > value + tolerance)
        return next(c for c in reversed(candidates) if c < value - tolerance)


def form_group(title: str) -> tuple[QGroupBox, QFormLayout]:
    """A titled group box with a form layout inside."""
    group = QGroupBox(title)
    return group, QFormLayout(group)


def combo_box(choices: tuple[tuple[str, str], ...]) -> QComboBox:
    """A combo box of ``(key, label)`` choices; each item's data is its key."""
    box = QComboBox()
    for key, label in choices:
        box.addItem(label, key)
    return box


def spin_box(low: int, high: int, value: int) -> QSpinBox:
    """An accelerated integer spin box over ``[low, high]`` showing ``value``."""
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setAccelerated(True)
    return box


def read_field(field: QWidget) -> Any:
    """The field's value: a combo box's key, a float or an int."""
    if isinstance(field, QComboBox):
        return str(field.currentData())
    if isinstance(field, QDoubleSpinBox):
        return float(field.value())
    return field.value()  # type: ignore[attr-defined]


def write_field(field: QWidget, value: object) -> None:
    """Set ``value`` if the field can hold it exactly; anything else is ignored."""
    if isinstance(field, QComboBox):
        select_key(field, value)
    elif isinstance(field, QDoubleSpinBox) and _fits(value, field):
        field.setValue(float(value))  # type: ignore[arg-type]
    elif isinstance(field, QSpinBox) and _fits(value, field):
        field.setValue(int(value))  # type: ignore[call-overload]


def select_key(box: QComboBox, key: object) -> bool:
    """Select the item whose data is ``key``; False (and no change) if there is none."""
    index = box.findData(key) if isinstance(key, str) else -1
    if index < 0:
        return False
    box.setCurrentIndex(index)
    return True


def _fits(value: object, box: QSpinBox | QDoubleSpinBox) -> bool:
    """Whether ``value`` is a number the box holds as-is (a spin box would silently clamp)."""
    whole = isinstance(value, int) or isinstance(box, QDoubleSpinBox)
    return is_number(value) and whole and box.minimum() <= value <= box.maximum()  # type: ignore[operator]
