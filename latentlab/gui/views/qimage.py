"""Convert numpy images (what the core produces) into QImage / QPixmap for display.

Images are ``[H, W]`` (grey), ``[H, W, 1]``, ``[H, W, 3]`` (RGB) or ``[H, W, 4]`` (RGBA),
either float in ``[0, 1]`` or ``uint8``. The QImage owns its pixels: the numpy array
can be freed or changed afterwards without affecting what is shown.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap

_FORMATS = {
    1: QImage.Format.Format_Grayscale8,
    3: QImage.Format.Format_RGB888,
    4: QImage.Format.Format_RGBA8888,
}


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Return ``img`` as ``uint8`` of shape ``[H, W, C]`` with ``C`` in {1, 3, 4}.

    Float input is read as ``[0, 1]``: values outside are clipped and NaN shows as black
    (a diverging model must not crash the display).
    """
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in _FORMATS or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected an image of shape [H, W] or [H, W, 1|3|4], got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    as_float = np.nan_to_num(arr.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(as_float, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def array_to_qimage(img: np.ndarray) -> QImage:
    """Convert a numpy image to a QImage that owns a copy of the pixels.

    Parameters
    ----------
    img : np.ndarray
        ``[H, W]`` or ``[H, W, C]`` (C = 1, 3 or 4), float in [0, 1] or uint8.

    Returns
    -------
    QImage
        Grayscale8, RGB888 or RGBA8888.
    """
    pixels = to_uint8(img)
    h, w, c = pixels.shape
    qimg = QImage(w, h, _FORMATS[c])
    # Write straight into the QImage's own buffer: one copy, and no numpy memory that Qt
    # would have to keep alive (QImage rows are padded to 4-byte multiples).
    dest = np.frombuffer(qimg.bits(), dtype=np.uint8).reshape(h, qimg.bytesPerLine())
    dest[:, : w * c] = pixels.reshape(h, w * c)
    return qimg


def array_to_qpixmap(img: np.ndarray) -> QPixmap:
    """Convert a numpy image to a QPixmap (see :func:`array_to_qimage`)."""
    return QPixmap.fromImage(array_to_qimage(img))
