"""Form fields for the training panel: number fields that keep what was typed, and helpers.

A :class:`NumberField` never changes the text a person typed: no clamping to a range, no
reverting to the last good value, no rounding. A value it cannot use is marked at the
field (the ``invalid`` property, a tinted background and the reason in its tooltip) and
reported by :meth:`NumberField.problem`, so the panel can say why Start is disabled.
The arrows and the Up/Down keys step within the valid range; the learning rate steps
along 1-2-5 (1e-3, 2e-3, 5e-3, 1e-2).

The helpers build combo boxes and read or write a field's value as the plain Python value
:meth:`~latentlab.gui.views.training_panel.TrainingPanel.settings` carries. Like the panel,
this module must not import torch.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QFormLayout, QGroupBox, QWidget

from latentlab.gui.views.formatting import format_learning_rate, is_number

# Mixed into the field's background when its text cannot be used.
INVALID_TINT = QColor(224, 72, 72)
_TINT_SHARE = 0.28
_STEP = QAbstractSpinBox.StepEnabledFlag


class NumberField(QAbstractSpinBox):
    """A whole or real number typed as text, checked but never altered (see the module doc).

    Parameters
    ----------
    label
        The field's name in messages ("Epochs", "Learning rate").
    kind
        ``int`` or ``float``.
    value
        The initial value.
    minimum, maximum
        The usable range, inclusive; None for no bound.
    positive
        For real numbers: the value must be above 0 (``minimum`` is then not used).
    why_maximum
        Why there is an upper bound, said in the message when it is passed.
    ladder
        Step along 1-2-5 per decade instead of by 1 (for learning rates).
    """

    edited = Signal()   # the text changed (its problem may have changed with it)

    _LADDER = (1.0, 2.0, 5.0)

    def __init__(self, label: str, kind: type, value: float, *, minimum: float | None = None,
                 maximum: float | None = None, positive: bool = False, why_maximum: str = "",
                 ladder: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if kind not in (int, float):
            raise ValueError(f"a number field holds int or float, not {kind!r}")
        self.label = label
        self.kind = kind
        self._minimum, self._maximum = minimum, maximum
        self._positive = positive
        self._why_maximum = why_maximum
        self._ladder = ladder
        self._tip = ""
        self._normal_palette = QPalette(self.palette())
        self.setAccelerated(True)
        self.lineEdit().textChanged.connect(self._on_text_changed)
        self.setValue(value)
        self._on_text_changed()

    # ------------------------------------------------------------- the number
    def parsed(self) -> float | None:
        """The number the text spells (range not checked), or None when it spells none."""
        text = self.text().strip()
        try:
            number = int(text) if self.kind is int else float(text)
        except ValueError:
            return None
        return number if self.kind is int or math.isfinite(number) else None

    def problem(self) -> str | None:
        """Why the text cannot be used, in a sentence; None when it can."""
        text = self.text().strip()
        if not text:
            return f"{self.label} is empty: type a number."
        number = self.parsed()
        if number is None:
            if self.kind is float and _is_float(text):
                return f"{self.label} must be a finite number, not “{text}”."
            what = "a whole number" if self.kind is int else "a number"
            return f"{self.label}: “{text}” is not {what}."
        return self.range_problem(number)

    def range_problem(self, number: float) -> str | None:
        """Why ``number`` is outside the usable range; None when it is inside."""
        if self._positive and not number > 0:
            return f"{self.label} must be greater than 0, not {self._show(number)}."
        if self._minimum is not None and number < self._minimum:
            return f"{self.label} must be at least {self._show(self._minimum)}, not {self._show(number)}."
        if self._maximum is not None and number > self._maximum:
            why = f" ({self._why_maximum})" if self._why_maximum else ""
            return f"{self.label} can be at most {self._show(self._maximum)}{why}, not {self._show(number)}."
        return None

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is a number of this field's kind inside its range."""
        if not is_number(value) or (self.kind is int and not isinstance(value, int)):
            return False
        return self.range_problem(value) is None   # type: ignore[arg-type]

    def value(self) -> float | None:  # type: ignore[override]
        """The number typed, or None while the text cannot be used (see :meth:`problem`)."""
        return self.parsed() if self.problem() is None else None

    def setValue(self, value: float) -> None:  # noqa: N802 (the name Qt's spin boxes use)
        """Show ``value`` (as typed text; it is checked like typing)."""
        self.lineEdit().setText(self._show(value))

    def is_valid(self) -> bool:
        """Whether the text is a usable number."""
        return self.problem() is None

    def set_tip(self, tip: str) -> None:
        """The field's tooltip; a problem is added below it while there is one."""
        self._tip = tip
        self._on_text_changed()

    def _show(self, number: float) -> str:
        if self.kind is int:
            return str(int(number))
        return format_learning_rate(float(number))

    # ------------------------------------------------------------- marking
    def _on_text_changed(self, *_args: object) -> None:
        problem = self.problem()
        invalid = problem is not None
        if bool(self.property("invalid")) != invalid:
            self.setProperty("invalid", invalid)
            self.setPalette(_tinted(self._normal_palette) if invalid else self._normal_palette)
        self.setToolTip(self._tip + (f"\n\n⚠ {problem}" if problem else ""))
        self.edited.emit()

    # ------------------------------------------------------------- stepping
    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802 (Qt override)
        number = self.parsed()
        if number is None or self.isReadOnly():
            return _STEP.StepNone
        flags = _STEP.StepNone
        if self._maximum is None or number < self._maximum:
            flags |= _STEP.StepUpEnabled
        low = 0 if self._positive else self._minimum
        if low is None or number > low:
            flags |= _STEP.StepDownEnabled
        return flags

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        number = self.parsed()
        if number is None:
            return
        if self._ladder and number > 0:
            for _ in range(abs(steps)):
                number = self._next_on_ladder(number, up=steps > 0)
        else:
            number += steps
        # An arrow press stays inside the range; only typing can leave it (and is then marked).
        if self._maximum is not None:
            number = min(number, self._maximum)
        if self._minimum is not None:
            number = max(number, self._minimum)
        self.setValue(number)
        self.lineEdit().selectAll()

    def _next_on_ladder(self, value: float, up: bool) -> float:
        exponent = math.floor(math.log10(value))
        candidates = sorted(m * 10.0**e for e in (exponent - 1, exponent, exponent + 1) for m in self._LADDER)
        tolerance = value * 1e-9
        if up:
            return next(c for c in candidates if c > value + tolerance)
        return next(c for c in reversed(candidates) if c < value - tolerance)

    # ------------------------------------------------------------- size
    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        hint = super().sizeHint()
        return QSize(max(hint.width(), self.fontMetrics().horizontalAdvance("0" * 10) + 30), hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        hint = super().minimumSizeHint()
        return QSize(max(hint.width(), self.fontMetrics().horizontalAdvance("0" * 5) + 30), hint.height())


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tinted(palette: QPalette) -> QPalette:
    """``palette`` with its text background blended towards red."""
    out = QPalette(palette)
    for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
        base = palette.color(group, QPalette.ColorRole.Base)
        mixed = QColor(*(round((1 - _TINT_SHARE) * a + _TINT_SHARE * b) for a, b in
                         ((base.red(), INVALID_TINT.red()), (base.green(), INVALID_TINT.green()),
                          (base.blue(), INVALID_TINT.blue()))))
        out.setColor(group, QPalette.ColorRole.Base, mixed)
    return out


def form_group(title: str) -> tuple[QGroupBox, QFormLayout]:
    """A titled group box with a form layout inside."""
    group = QGroupBox(title)
    form = QFormLayout(group)
    form.setVerticalSpacing(3)   # the panel must fit a 700-pixel-high screen with little scrolling
    form.setContentsMargins(6, 4, 6, 4)
    return group, form


def combo_box(choices: tuple[tuple[str, str], ...]) -> QComboBox:
    """A combo box of ``(key, label)`` choices; each item's data is its key."""
    box = QComboBox()
    for key, label in choices:
        box.addItem(label, key)
    # Narrow enough for a narrow dock: a long choice ("MNIST digits (bundled)") is elided,
    # not a reason for the whole panel to need a horizontal scroll bar.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(10)
    return box


def read_field(field: QWidget) -> Any:
    """The field's value: a combo box's key, or a number field's number (None while invalid)."""
    if isinstance(field, QComboBox):
        return str(field.currentData())
    return field.value()  # type: ignore[attr-defined]


def write_field(field: QWidget, value: object) -> None:
    """Set ``value`` if the field can hold it as it is; anything else is ignored."""
    if isinstance(field, QComboBox):
        select_key(field, value)
    elif isinstance(field, NumberField) and field.accepts(value):
        field.setValue(value)  # type: ignore[arg-type]


def select_key(box: QComboBox, key: object) -> bool:
    """Select the item whose data is ``key``; False (and no change) if there is none."""
    index = box.findData(key) if isinstance(key, str) else -1
    if index < 0:
        return False
    box.setCurrentIndex(index)
    return True
