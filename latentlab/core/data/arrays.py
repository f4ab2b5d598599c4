"""Image arrays saved by numpy: ``.npy`` (images only) or ``.npz`` (images and labels).

Never unpickles: the files are read by :func:`latentlab.core.safe_io.read_npy` and
:func:`~latentlab.core.safe_io.read_npz` (re-exported here for other readers of numpy files),
which check each array's header against the bytes stored and a size budget, and an archive's
members against decompression bombs, before anything is allocated.

Accepted layouts: ``[N, H, W]``, ``[N, H, W, C]`` (C = 1, 3 or 4; alpha is dropped) and
``[N, C, H, W]`` (C = 1 or 3). Values: ``uint8`` / integers in 0..255 (divided by 255),
``bool``, or floats that lie in ``[0, 1]`` (kept) or in ``[0, 255]`` (divided by 255).
In an ``.npz`` the images are the array named ``x``, ``images``, ``data`` or ``arr_0``
(or the only array), labels are ``y`` or ``labels`` (optional, whole numbers
``0..K-1``), and optional class names are ``class_names`` (strings).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError
from latentlab.core.safe_io import MAX_ARRAY_BYTES, read_npy, read_npz

__all__ = ["MAX_ARRAY_BYTES", "load_arrays", "read_npy", "read_npz"]

IMAGE_KEYS = ("x", "images", "data", "arr_0")
LABEL_KEYS = ("y", "labels")
CLASS_NAME_KEYS = ("class_names",)
MAX_CLASSES = 10_000
# Floats this far outside [0, 1] or [0, 255] are rounding noise, not a different range.
_RANGE_TOLERANCE = 1e-3


def _load_npy(path: Path) -> np.ndarray:
    return read_npy(path, max_bytes=MAX_ARRAY_BYTES)


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array in an ``.npz``, each header checked before it is read."""
    return read_npz(path, max_bytes=MAX_ARRAY_BYTES)


def _pick(arrays: dict[str, np.ndarray], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if key in arrays:
            return key
    return None


def _to_nchw(a: np.ndarray, where: str) -> np.ndarray:
    """Bring an image array to ``[N, C, H, W]`` with C in (1, 3)."""
    if a.ndim == 3:
        return a[:, None]
    if a.ndim != 4:
        raise LatentLabError(
            f"{where}: images must be [N, H, W], [N, H, W, C] or [N, C, H, W]; got shape {a.shape}"
        )
    first, last = a.shape[1] in (1, 3), a.shape[3] in (1, 3, 4)
    if first and last:
        # Both readings are possible (e.g. [N, 3, 4, 3]): trust the one with square images.
        if a.shape[2] == a.shape[3]:
            last = False
        elif a.shape[1] == a.shape[2]:
            first = False
        else:
            raise LatentLabError(f"{where}: cannot tell where the channels are in shape {a.shape}")
    if first:
        return a
    if last:
        return np.moveaxis(a[..., :3] if a.shape[3] == 4 else a, 3, 1)
    raise LatentLabError(
        f"{where}: images need 1 or 3 channels (or 4 with alpha, channels last); got shape {a.shape}"
    )


def _to_unit_float(a: np.ndarray, where: str) -> torch.Tensor:
    """Scale values into float32 ``[0, 1]`` following the rules in the module docstring."""
    if a.dtype == np.bool_:
        return torch.from_numpy(a.astype(np.float32))
    if a.dtype == np.uint8:
        return torch.from_numpy(a.astype(np.float32)).div_(255.0)
    if np.issubdtype(a.dtype, np.integer):
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 255:
            raise LatentLabError(f"{where}: integer pixel values must lie in 0..255, found {lo}..{hi}")
        return torch.from_numpy(a.astype(np.float32)).div_(255.0)
    if not np.isfinite(a).all():
        raise LatentLabError(f"{where}: the images contain NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    t = torch.from_numpy(a.astype(np.float32))
    if lo >= -_RANGE_TOLERANCE and hi <= 1.0 + _RANGE_TOLERANCE:
        return t.clamp_(0.0, 1.0)
    if lo >= -_RANGE_TOLERANCE and hi <= 255.0 + _RANGE_TOLERANCE:
        return t.div_(255.0).clamp_(0.0, 1.0)
    raise LatentLabError(
        f"{where}: float pixel values must lie in [0, 1] or [0, 255], found {lo:g}..{hi:g}"
    )


def _labels(
    arrays: dict[str, np.ndarray], n: int, where: str
) -> tuple[torch.Tensor | None, tuple[str, ...]]:
    """Optional labels (int64 ``[N]``) and their class names."""
    key = _pick(arrays, LABEL_KEYS)
    if key is None:
        return None, ()
    y = arrays[key]
    here = f"{where} (labels '{key}')"
    if y.ndim != 1 or y.shape[0] != n:
        raise LatentLabError(f"{here}: labels must be one value per image ({n:,}), got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and (y == np.round(y)).all():
        y = y.astype(np.int64)
    if not (np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise LatentLabError(f"{here}: labels must be whole numbers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= MAX_CLASSES:
        raise LatentLabError(
            f"{here}: labels must be class numbers 0..{MAX_CLASSES - 1}, found {y.min()}..{y.max()}"
        )
    count = int(y.max()) + 1
    names: tuple[str, ...] = tuple(str(i) for i in range(count))
    names_key = _pick(arrays, CLASS_NAME_KEYS)
    if names_key is not None:
        given = arrays[names_key]
        if given.ndim != 1 or given.dtype.kind not in "US" or given.shape[0] < count:
            raise LatentLabError(
                f"{where} (array '{names_key}'): class names must be a 1-D array "
                f"of at least {count} strings"
            )
        names = tuple(v.decode() if isinstance(v, bytes) else str(v) for v in given.tolist())
    return torch.from_numpy(y), names


def load_arrays(path: str | os.PathLike[str], limit: int | None = None) -> Dataset:
    """A ``.npy`` or ``.npz`` file as a Dataset (see the module docstring for what is accepted).

    ``limit`` keeps the first items before any conversion, to save memory.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise LatentLabError(f"{path}: no such file")
    if path.suffix.lower() == ".npz":
        arrays = _load_npz(path)
        key = _pick(arrays, IMAGE_KEYS)
        if key is None and len(arrays) == 1:
            key = next(iter(arrays))
        if key is None:
            found = ", ".join(sorted(arrays)) or "none"
            raise LatentLabError(
                f"{path}: no images found; name the image array one of "
                f"{', '.join(IMAGE_KEYS)} (arrays found: {found})"
            )
    else:
        arrays, key = {"images": _load_npy(path)}, "images"
    where = f"{path} (array '{key}')" if len(arrays) > 1 else str(path)
    raw = arrays[key]
    if raw.size == 0:
        raise LatentLabError(f"{where}: the image array is empty (shape {raw.shape})")
    if raw.dtype.kind not in "biuf":  # bool, signed, unsigned, float
        raise LatentLabError(f"{where}: pixel values must be real numbers, got dtype {raw.dtype}")
    images = _to_nchw(raw, where)
    labels, names = _labels(arrays, images.shape[0], str(path))
    if limit is not None:
        images = images[:limit]
        labels = None if labels is None else labels[:limit]
    return Dataset(
        name=path.stem,
        images=_to_unit_float(np.ascontiguousarray(images), where).contiguous(),
        labels=labels,
        class_names=names,
        source={"kind": "arrays", "path": str(path.resolve())},
    )
