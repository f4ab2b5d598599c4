"""Beside the decoded image: how far the probe is from the data, and the nearest real item."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QWidget

from latentlab.gui.views import theme
from latentlab.gui.views.decoded_view import DecodedView

THUMB_PX = 56
LEVEL_WORDS = {"on": "On the data", "near": "Near the data", "off": "Off the data"}


def describe(level: str, ratio: float, nearest: int, log_density: float, log_prior: float | None) -> str:
    """The panel's words for a score (rich text, the level in its colour)."""
    color = theme.LEVEL_COLORS.get(level, theme.FOREGROUND)
    head = f'<b style="color:{color}">● {LEVEL_WORDS.get(level, level)}</b>'
    spacing = f"{ratio:.1f}× the local spacing from item {nearest:,}"
    density = (f"log q(z) {log_density:.1f} · log p(z) {log_prior:.1f}" if log_prior is not None
               else f"log density {log_density:.1f}")
    return f"{head}<br>{spacing}<br><span style='color:{theme.MUTED}'>{density}</span>"


class ScoreText(QWidget):
    """Rich text, word-wrapped, that the widget draws itself.

    The words change at every frame of a probe drag. A ``QLabel`` asks its window for a new
    layout at each new text, about a millisecond of the frame each time; this widget repaints
    itself and asks for a layout only when the height its text needs changes.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._doc = QTextDocument(self)
        self._doc.setDocumentMargin(0)
        self._text = ""
        self._height = 0
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name)
        if text == self._text:
            return
        self._text = text
        self._doc.setDefaultFont(self.font())
        self._doc.setHtml(text)
        self._fit()
        self.update()

    def clear(self) -> None:
        self.setText("")

    def _fit(self) -> None:
        width = self.width()
        self._doc.setTextWidth(width if width > 20 else -1)   # not laid out yet: unwrapped
        height = math.ceil(self._doc.size().height()) if self._text else 0
        if height != self._height:
            self._height = height
            self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(math.ceil(self._doc.idealWidth()), self._height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(0, self._height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._fit()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        try:
            context = QAbstractTextDocumentLayout.PaintContext()
            palette = QPalette(self.palette())
            palette.setColor(QPalette.ColorRole.Text, self.palette().color(QPalette.ColorRole.WindowText))
            context.palette = palette
            self._doc.documentLayout().draw(painter, context)
        finally:
            painter.end()


class NearestView(QWidget):
    """The off-manifold score in words and the nearest data item as a small picture."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("nearestView")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 2, 0, 2)
        self.thumb = DecodedView()
        self.thumb.setObjectName("nearestImage")
        self.thumb.setFixedSize(THUMB_PX, THUMB_PX)
        self.thumb.setToolTip("The data item nearest to the probe's code, as it really is.")
        row.addWidget(self.thumb)
        self.text = ScoreText()
        self.text.setObjectName("nearestText")
        self.text.setToolTip("How far the probe's code is from the encoded data: the distance to the "
                             "nearest data code over the data's local spacing there (on ≤ 1×, near ≤ 2.5×), "
                             "and the density of the codes (for a VAE, the aggregate posterior q and the prior p).")
        row.addWidget(self.text, 1)
        self.level: str | None = None
        self.setVisible(False)

    def show_score(self, level: str, ratio: float, nearest: int, log_density: float,
                   log_prior: float | None, image: np.ndarray | None) -> None:
        """Show a score; ``image`` is the nearest item (``[H, W]`` or ``[H, W, 3]``) or None."""
        self.level = level
        self.text.setText(describe(level, ratio, nearest, log_density, log_prior))
        self.thumb.setVisible(image is not None)
        shown = self.thumb.current_image()
        # A dragged probe keeps the same nearest item for many frames: repaint only on a change.
        if image is not None and not (shown is not None and shown.shape == np.shape(image)
                                      and np.array_equal(shown, image)):
            self.thumb.set_image(image)
        self.setVisible(True)

    def clear(self) -> None:
        self.level = None
        self.text.clear()
        self.setVisible(False)
