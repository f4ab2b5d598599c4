"""The decoded view: one image shown large, pixel-sharp, with an optional caption."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from latentlab.gui.views import theme
from latentlab.gui.views.qimage import array_to_qimage

_MARGIN = 6


class DecodedView(QWidget):
    """Show one image scaled with nearest-neighbour sampling, aspect kept, centred.

    The image is converted to a 32-bit QImage once per :meth:`set_image`; painting only
    scales that cached QImage, so a probe drag can update the view every frame.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("decodedView")
        self._array: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._caption = ""
        self._message = ""
        self.setMinimumSize(64, 64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # We paint every pixel ourselves: skip Qt's background erase.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    # ----------------------------------------------------------------- public API
    def set_image(self, img: np.ndarray) -> None:
        """Show ``img`` (``[H, W]`` or ``[H, W, 3]``, float in [0, 1] or uint8)."""
        qimage = array_to_qimage(img)  # validates the shape before any state changes
        self._array = np.array(img, copy=True)
        # Qt scales 32-bit pixels straight onto the screen's; a grey or 24-bit image would be
        # converted again at every paint (more than half of a paint's time while dragging).
        self._qimage = qimage.convertToFormat(
            QImage.Format.Format_ARGB32_Premultiplied if qimage.hasAlphaChannel() else QImage.Format.Format_RGB32)
        self._message = ""
        self.update()

    def current_image(self) -> np.ndarray | None:
        """Return the last image given to :meth:`set_image` (a copy), or None when cleared."""
        return self._array

    def set_caption(self, text: str) -> None:
        """Set the line of text under the image (empty string hides it)."""
        self._caption = text
        self.update()

    def caption(self) -> str:
        """Return the current caption."""
        return self._caption

    def clear(self, message: str = "") -> None:
        """Drop the image and show ``message`` centred instead (e.g. a hint what to do)."""
        self._array = None
        self._qimage = None
        self._message = message
        self.update()

    def message(self) -> str:
        """Return the hint shown while no image is set."""
        return self._message

    def image_rect(self) -> QRect:
        """Return where the image is drawn in widget pixels (empty when none is set)."""
        if self._qimage is None:
            return QRect()
        return self._fit_rect(self._qimage.size(), self._image_area())

    # ---------------------------------------------------------------- Qt overrides
    def sizeHint(self) -> QSize:
        return QSize(280, 300)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), theme.qcolor(theme.BACKGROUND))
            if self._qimage is not None:
                # Nearest-neighbour: a 28x28 digit must look like pixels, not a blur.
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
                painter.drawImage(QRectF(self.image_rect()), self._qimage)
                self._paint_caption(painter)
            elif self._message:
                painter.setPen(theme.qcolor(theme.MUTED))
                painter.drawText(self.rect().adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN),
                                 Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 self._message)
        finally:
            painter.end()

    # -------------------------------------------------------------------- helpers
    def _caption_height(self) -> int:
        return self.fontMetrics().height() + _MARGIN if self._caption else 0

    def _image_area(self) -> QRect:
        area = self.rect().adjusted(_MARGIN, _MARGIN, -_MARGIN, -_MARGIN)
        area.setBottom(area.bottom() - self._caption_height())
        return area

    @staticmethod
    def _fit_rect(size: QSize, area: QRect) -> QRect:
        """Largest rectangle of ``size``'s aspect ratio centred in ``area``."""
        if size.isEmpty() or area.width() <= 0 or area.height() <= 0:
            return QRect()
        scale = min(area.width() / size.width(), area.height() / size.height())
        w = max(1, int(size.width() * scale))
        h = max(1, int(size.height() * scale))
        x = area.x() + (area.width() - w) // 2
        y = area.y() + (area.height() - h) // 2
        return QRect(x, y, w, h)

    def _paint_caption(self, painter: QPainter) -> None:
        if not self._caption:
            return
        painter.setPen(theme.qcolor(theme.FOREGROUND))
        line = QRect(0, self.height() - self._caption_height(), self.width(),
                     self._caption_height())
        painter.drawText(line, Qt.AlignmentFlag.AlignCenter, self._caption)
