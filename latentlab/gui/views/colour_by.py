"""The plane's "Colour by" choice: the data's true labels or a classifying model's predictions.

Shown under the plane chooser for a model whose family classifies (e.g. ``ssvae``); the
accuracy of the predictions stands beside it, and under that what the classifier makes of the
image decoded under the probe ("Classifier: 7 (93 %)"). A plain widget: it emits the choice and shows
the values it is given.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from superqt import QElidingLabel

TRUE_LABEL, PREDICTED = "label", "predicted"
CHOICES = ((TRUE_LABEL, "True label"), (PREDICTED, "Predicted class"))


class ColourByBar(QWidget):
    """"Colour by [True label | Predicted class]" and the accuracy; ``choiceChanged(key)``."""

    choiceChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("colourByBar")
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Colour by"))
        self.combo = QComboBox()
        self.combo.setObjectName("colourByChooser")
        for key, text in CHOICES:
            self.combo.addItem(text, key)
        self.combo.setToolTip("Colour the points by the data's labels or by the class the model predicts "
                              "for each image.")
        self.combo.currentIndexChanged.connect(lambda _row: self.choiceChanged.emit(self.choice()))
        row.addWidget(self.combo, 1)
        column.addLayout(row)
        # A line of its own: beside the chooser it would widen the side panel.
        self.accuracy = QElidingLabel()
        self.accuracy.setObjectName("predictionAccuracy")
        self.accuracy.setVisible(False)
        column.addWidget(self.accuracy)
        self.probe_class = QElidingLabel()
        self.probe_class.setObjectName("probeClass")
        self.probe_class.setVisible(False)
        column.addWidget(self.probe_class)
        self.setVisible(False)

    def choice(self) -> str:
        """:data:`TRUE_LABEL` or :data:`PREDICTED`."""
        return str(self.combo.currentData())

    def set_choice(self, key: str) -> None:
        """Show ``key`` as chosen without emitting :attr:`choiceChanged`."""
        row = self.combo.findData(key)
        if row >= 0:
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(row)
            self.combo.blockSignals(False)

    def show_accuracy(self, text: str, tip: str = "") -> None:
        """The accuracy beside the chooser ("" hides it)."""
        self.accuracy.setText(text)
        self.accuracy.setToolTip(tip or text)
        self.accuracy.setVisible(bool(text))

    def show_probe_class(self, text: str, tip: str = "") -> None:
        """What the classifier says of the decoded probe image ("" hides the line)."""
        self.probe_class.setText(text)
        self.probe_class.setToolTip(tip or text)
        self.probe_class.setVisible(bool(text))
