"""A horizontal strip of image thumbnails with one current frame.

:class:`FrameStrip` shows decoded frames (an interpolation path, a traversal row) side by
side at a fixed thumbnail size, outlines the current frame and emits
``frameClicked(index)`` when the user clicks one. It only displays: whoever owns the
frames decides what "current" means.

Frames are numpy arrays ``[M, C, H, W]`` (C = 1 or 3) in ``[0, 1]``, as the decoder makes
them; :func:`chw_to_display` turns one into the ``H x W (x 3)`` form Qt images are built from.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

from latentlab.gui.views.qimage import array_to_qpixmap

DEFAULT_THUMB = 48   # pixels per thumbnail side
GAP = 4              # pixels between thumbnails (room for the highlight)
HIGHLIGHT = QColor(255, 140, 0)


def chw_to_display(image: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` (C = 1 or 3) -> ``H x W`` or ``H x W x 3``, the layout Qt images use."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[0] not in (1, 3):
        raise ValueError(f"expected an image [C, H, W] with 1 or 3 channels, got shape {arr.shape}")
    return arr[0] if arr.shape[0] == 1 else np.ascontiguousarray(arr.transpose(1, 2, 0))


class _StripCanvas(QWidget):
    """Paints the thumbnails; sized to fit them all so the scroll area can scroll."""

    clicked = Signal(int)

    def __init__(self, thumb: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumb = thumb
        self.pixmaps: list[QPixmap] = []
        self.current = -1

    def set_pixmaps(self, pixmaps: list[QPixmap]) -> None:
        self.pixmaps = pixmaps
        self.setFixedSize(self.sizeHint())
        self.update()

    def cell_rect(self, index: int) -> QRect:
        step = self.thumb + GAP
        return QRect(GAP // 2 + index * step, GAP // 2, self.thumb, self.thumb)

    def index_at(self, x: int) -> int:
        step = self.thumb + GAP
        k = (x - GAP // 2) // step
        return int(k) if 0 <= k < len(self.pixmaps) else -1

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(max(1, len(self.pixmaps)) * (self.thumb + GAP), self.thumb + GAP)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        # Nearest-neighbour scaling keeps small images' pixels crisp, as the decoded view does.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for k, pixmap in enumerate(self.pixmaps):
            rect = self.cell_rect(k)
            if rect.intersects(event.rect()):
                painter.drawPixmap(rect, pixmap)
        if 0 <= self.current < len(self.pixmaps):
            painter.setPen(QPen(HIGHLIGHT, 2))
            painter.drawRect(self.cell_rect(self.current).adjusted(-1, -1, 1, 1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton:
            k = self.index_at(int(event.position().x()))
            if k >= 0:
                self.clicked.emit(k)
                return
        super().mousePressEvent(event)


class FrameStrip(QScrollArea):
    """A scrollable row of thumbnails; the current one is outlined.

    Signals
    -------
    frameClicked(int): the user clicked the thumbnail with this index.
    """

    frameClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None, thumb_size: int = DEFAULT_THUMB, fit: int = 0,
                 grow_to: int = 0) -> None:
        """``fit`` > 0: always wide enough for that many frames, with no scroll bar of its own
        (for a strip of known length inside a panel that scrolls as a whole).
        ``grow_to`` > ``thumb_size``: the strip takes the height it is given and its
        thumbnails grow with it, from ``thumb_size`` up to ``grow_to`` pixels."""
        super().__init__(parent)
        self.setObjectName("frameStrip")
        self._canvas = _StripCanvas(int(thumb_size))
        self._canvas.clicked.connect(self.frameClicked)
        self.setWidget(self._canvas)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._fit = max(0, int(fit))
        bar = 0
        if self._fit:
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.setMinimumWidth(self._fit * (self._canvas.thumb + GAP) + 2)
        else:
            bar = self.horizontalScrollBar().sizeHint().height()
        self._chrome = bar + 2   # what the strip needs besides the thumbnails' row
        self._thumb_range = (self._canvas.thumb, max(self._canvas.thumb, int(grow_to)))
        if self._thumb_range[1] > self._thumb_range[0]:
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            self.setMinimumHeight(self._canvas.sizeHint().height() + self._chrome)
            self.setMaximumHeight(self._thumb_range[1] + GAP + self._chrome)
        else:
            self.setFixedHeight(self._canvas.sizeHint().height() + self._chrome)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        hint = super().sizeHint()
        return QSize(hint.width(), self._canvas.sizeHint().height() + self._chrome)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        low, high = self._thumb_range
        if high > low:
            thumb = int(min(max(self.height() - self._chrome - GAP, low), high))
            if thumb != self._canvas.thumb:
                self._canvas.thumb = thumb
                self._canvas.set_pixmaps(self._canvas.pixmaps)   # re-sized to the new thumbnails

    def thumb_size(self) -> int:
        """Side of a thumbnail in pixels now."""
        return self._canvas.thumb

    def set_frames(self, frames: np.ndarray | None) -> None:
        """Show frames ``[M, C, H, W]`` in ``[0, 1]``; None or an empty array clears the strip."""
        if frames is None or len(frames) == 0:
            pixmaps: list[QPixmap] = []
        else:
            pixmaps = [array_to_qpixmap(chw_to_display(f)) for f in np.asarray(frames)]
        self._canvas.set_pixmaps(pixmaps)
        if self._fit:
            self.setMinimumWidth(max(self._fit, len(pixmaps)) * (self._canvas.thumb + GAP) + 2)
        if self._canvas.current >= len(pixmaps):
            self._canvas.current = -1

    def count(self) -> int:
        """Number of thumbnails shown."""
        return len(self._canvas.pixmaps)

    def current(self) -> int:
        """Index of the outlined thumbnail, or -1."""
        return self._canvas.current

    def set_current(self, index: int) -> None:
        """Outline thumbnail ``index`` (-1 for none) and scroll it into view."""
        k = int(index) if 0 <= int(index) < self.count() else -1
        if k == self._canvas.current:
            return
        self._canvas.current = k
        self._canvas.update()
        if k >= 0:
            rect = self._canvas.cell_rect(k)
            self.ensureVisible(rect.center().x(), rect.center().y(), rect.width(), 0)

    def thumbnail_rect(self, index: int) -> QRect:
        """Where thumbnail ``index`` is drawn, in the coordinates of :meth:`canvas`."""
        return self._canvas.cell_rect(index)

    def canvas(self) -> QWidget:
        """The widget the thumbnails are painted on (to click on in tests)."""
        return self._canvas

    def thumbnail_image(self, index: int) -> QPixmap:
        """The pixmap of thumbnail ``index`` at the image's own size."""
        return self._canvas.pixmaps[index]
