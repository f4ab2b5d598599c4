"""Read image files the user drops or picks into the model's input form.

Decoding is the core's :func:`latentlab.core.data.load_image_file` (the same checks as the folder
loader); :func:`as_nchw` accepts the display layouts the host may use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from latentlab.core.data import load_image_file
from latentlab.core.errors import LatentLabError


def as_nchw(images: np.ndarray) -> np.ndarray:
    """Images as float32 ``[M, C, H, W]``; also accepts display layouts ``[M, H, W]`` and
    ``[M, H, W, 3]`` (what :meth:`latentlab.gui.session.Session.decode_z` returns)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] not in (1, 3) and x.shape[3] in (1, 3):
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


def load_image_files(paths: Sequence[str | os.PathLike[str]], shape: Sequence[int]) -> np.ndarray:
    """Several files as float32 ``[N, C, H, W]``; the first unreadable one raises LatentLabError."""
    if not paths:
        raise LatentLabError("no image files were given")
    return np.stack([load_image_file(p, shape).numpy() for p in paths])
