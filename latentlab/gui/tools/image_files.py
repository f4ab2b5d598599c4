"""Read image files the user drops or picks into the model's input form.

The core data package loads whole folders but has no one-file helper, so this small
converter does the same steps for a single file: decode with Pillow, honour the EXIF
orientation, put transparent parts on black (as the folder loader does), crop to the
model's aspect ratio, resize to ``H x W`` and convert to grey or RGB, giving float32
``[C, H, W]`` in ``[0, 1]``. :func:`as_nchw` accepts the display layouts the host may use.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from latentlab.core.errors import LatentLabError

# A dropped file bigger than this is almost surely a mistake (or a decompression bomb).
MAX_PIXELS = 100_000_000


def _flatten(img: Image.Image) -> Image.Image:
    """Any Pillow mode to "RGB" or "L"; transparent parts become black."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert(
            "L" if img.mode.startswith("L") else "RGB")
    return img.convert("L" if img.mode in ("1", "L") else "RGB")


def as_nchw(images: np.ndarray) -> np.ndarray:
    """Images as float32 ``[M, C, H, W]``; also accepts display layouts ``[M, H, W]`` and
    ``[M, H, W, 3]`` (what :meth:`latentlab.gui.session.Session.decode_z` returns)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def load_image_file(path: str | os.PathLike[str], shape: Sequence[int]) -> np.ndarray:
    """One image file as float32 ``[C, H, W]`` in ``[0, 1]`` for a model taking ``shape``.

    Raises
    ------
    LatentLabError
        The file is missing, is not an image Pillow can read, or is far too large.
    """
    c, h, w = (int(v) for v in shape)
    if c not in (1, 3) or h < 1 or w < 1:
        raise LatentLabError(f"images can only be read for 1- or 3-channel models, not shape {tuple(shape)}")
    p = os.fspath(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as opened:
                if opened.size[0] * opened.size[1] > MAX_PIXELS:
                    raise LatentLabError(f"'{p}' is too large ({opened.size[0]}x{opened.size[1]} pixels)")
                opened.load()
                img = _flatten(ImageOps.exif_transpose(opened))
    except FileNotFoundError:
        raise LatentLabError(f"image file '{p}' does not exist") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise LatentLabError(f"'{p}' is not an image LatentLab can read (try PNG or JPEG)") from None
    except OSError as exc:
        raise LatentLabError(f"cannot read image '{p}': {exc.strerror or exc}") from None
    img = img.convert("L" if c == 1 else "RGB")
    img = ImageOps.fit(img, (w, h), method=Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return arr[None] if c == 1 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def load_image_files(paths: Sequence[str | os.PathLike[str]], shape: Sequence[int]) -> np.ndarray:
    """Several files as float32 ``[N, C, H, W]``; the first unreadable one raises LatentLabError."""
    if not paths:
        raise LatentLabError("no image files were given")
    return np.stack([load_image_file(p, shape) for p in paths])
