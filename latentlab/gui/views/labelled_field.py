"""The training panel's "Labelled images" field: every label, or only the first N of them.

A family that classifies (``capabilities.classifies``, e.g. ``ssvae``) can learn from a few
labels and many unlabelled images; the field's number becomes
``TrainingSettings.labelled`` (see :mod:`latentlab.core.partial_labels`). Its text is
``all`` (every training label, ``labelled=None``) or a whole number of at least 1. Like every
:class:`~latentlab.gui.views.training_fields.NumberField`, it never changes what was typed;
text it cannot use is marked and keeps Start disabled. The arrows step along 1-2-5 from
10 labels upwards, and from ``all`` to 100 (a usual few-label run).
"""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from latentlab.gui.views.training_fields import NumberField

ALL_TEXT = "all"
FIRST_STEP = 100   # the arrows' first number from "all"
TIP = ("How many training images keep their label: “all”, or a number N (balanced over the classes, "
       "chosen with the seed); the other images train the model unlabelled. For families that classify.")
DISABLED_TIP = ("Only a family that classifies (e.g. the semi-supervised VAE) can learn from unlabelled images; "
                "this family uses every label.")
_STEP = QAbstractSpinBox.StepEnabledFlag


class LabelledField(NumberField):
    """``all`` or a whole number ≥ 1 (see the module doc); :meth:`value` is None for ``all``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Labelled images", int, 1, minimum=1, ladder=True, parent=parent)
        self.lineEdit().setText(ALL_TEXT)
        self.set_tip(TIP)

    def is_all(self) -> bool:
        """Whether the text asks for every label."""
        return self.text().strip().lower() == ALL_TEXT

    def problem(self) -> str | None:
        if self.is_all():
            return None
        problem = super().problem()
        if problem is not None and self.parsed() is None:
            return f"Labelled images: type “all” or a whole number, not “{self.text().strip()}”."
        return problem

    def value(self) -> int | None:  # type: ignore[override]
        """The number of labels to keep, or None for every label (and while invalid)."""
        return None if self.is_all() else super().value()  # type: ignore[return-value]

    def accepts(self, value: object) -> bool:
        return value is None or super().accepts(value)

    def setValue(self, value: float | None) -> None:  # noqa: N802 (the name Qt's spin boxes use)
        """Show ``value``; None shows ``all``."""
        if value is None:
            self.lineEdit().setText(ALL_TEXT)
        else:
            super().setValue(value)

    def set_available(self, available: bool) -> None:
        """Enable the field for a family that classifies; otherwise disable it and say why."""
        self.setEnabled(available)
        self.set_tip(TIP if available else DISABLED_TIP)

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802 (Qt override)
        if self.is_all() and not self.isReadOnly():
            return _STEP.StepUpEnabled | _STEP.StepDownEnabled
        return super().stepEnabled()

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt override)
        if self.is_all():
            self.setValue(FIRST_STEP)
            self.lineEdit().selectAll()
            return
        super().stepBy(steps)
