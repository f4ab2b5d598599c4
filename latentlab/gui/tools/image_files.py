"""Read image files the user drops or picks into the model's input form.

Decoding is the core's :func:`latentlab.core.data.load_image_file` (the same checks as the folder
loader); :func:`as_nchw` accepts the display layouts the host may use. Before anything is
decoded, :func:`image_fit_problem` refuses a picture the model would only see a sliver or a
blur of: the loader centre-crops to the model's shape and resizes, so a 1389 x 84 banner
would silently become its middle 84 x 84 pixels.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image

from latentlab.core.data import load_image_file
from latentlab.core.errors import LatentLabError

# An image whose width:height differs from the model's by more than this factor loses more
# than half of itself to the centre crop.
MAX_ASPECT_FACTOR = 2.0
# An image smaller than this share of the model's side (on either side) is blown up into a blur.
MIN_SIDE_SHARE = 0.5


def as_nchw(images: np.ndarray) -> np.ndarray:
    """Images as float32 ``[M, C, H, W]``; also accepts display layouts ``[M, H, W]`` and
    ``[M, H, W, 3]`` (what :meth:`latentlab.gui.session.Session.decode_z` returns)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(width, height) from the file's header, or None when it cannot be read that way
    (the loader then says what is wrong with the file)."""
    try:
        with warnings.catch_warnings():
            # A huge image is refused, with its reason, by the loader.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(os.fspath(path)) as img:
                return int(img.width), int(img.height)
    except Exception:   # Pillow raises many types for damaged or unknown files
        return None


def image_fit_problem(path: str | os.PathLike[str], shape: Sequence[int]) -> str | None:
    """Why the image at ``path`` does not suit a model taking ``(C, H, W)`` images; None if it does.

    Refused: a width:height more than :data:`MAX_ASPECT_FACTOR` times off the model's
    (most of it would be cropped away), or a side under :data:`MIN_SIDE_SHARE` of the
    model's (it would be enlarged into a blur).
    """
    size = image_size(path)
    if size is None:
        return None
    w, h = size
    _c, model_h, model_w = (int(v) for v in shape)
    name = os.path.basename(os.fspath(path))
    model = f"the model takes {model_w} × {model_h} images"
    if w < 1 or h < 1:
        return None
    factor = (w / h) / (model_w / model_h)
    if max(factor, 1.0 / factor) > MAX_ASPECT_FACTOR:
        kept_w, kept_h = (round(h * model_w / model_h), h) if factor > 1 else (w, round(w * model_h / model_w))
        return (f"{name} is {w} × {h} pixels (width : height {_ratio(w, h)}), "
                f"but {model} ({_ratio(model_w, model_h)}): only its middle {kept_w} × {kept_h} would be used. Crop it to about the model's shape first.")
    if w < MIN_SIDE_SHARE * model_w or h < MIN_SIDE_SHARE * model_h:
        return (f"{name} is only {w} × {h} pixels, but {model}: it would be enlarged into a blur. "
                "Use a larger picture.")
    return None


def _ratio(w: int, h: int) -> str:
    value = w / h
    return f"{value:.3g} : 1" if value >= 1 else f"1 : {1 / value:.3g}"


def load_image_files(paths: Sequence[str | os.PathLike[str]], shape: Sequence[int]) -> np.ndarray:
    """Several files as float32 ``[N, C, H, W]``.

    Raises LatentLabError naming every file whose shape or size does not suit the model
    (see :func:`image_fit_problem`), or the first file that cannot be read; then nothing
    is loaded.
    """
    if not paths:
        raise LatentLabError("no image files were given")
    problems = [p for p in (image_fit_problem(path, shape) for path in paths) if p]
    if problems:
        raise LatentLabError("\n\n".join(problems))
    return np.stack([load_image_file(p, shape).numpy() for p in paths])
