"""Writers for what the decoder makes: PNG, grid sheets, strips, GIF/APNG, code tables, raw sequences.

Picture writers take outputs of every kind (see :mod:`latentlab.core.render`): images are
written as their pixels, sequences are rendered first, so every export works headless.

Every writer is atomic (:func:`latentlab.core.atomic_file.atomic_write`): the bytes go to a
temporary file in the target's folder, are flushed to disk, and only then replace the target,
so a failed save never leaves a half-written file or damages the previous one. A folder that
does not exist or cannot be written raises :class:`LatentLabError` naming the path.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from latentlab.core.atomic_file import atomic_write
from latentlab.core.errors import LatentLabError
from latentlab.core.latent import tile
from latentlab.core.render import OutputSpec, as_images, render, render_batch, to_uint8
from latentlab.core.safe_io import read_npy

CODE_FORMATS = (".csv", ".npy", ".npz")
SEQUENCE_FORMATS = (".csv", ".npy")
#: Grey of the gutters between rendered sequences in a sheet (1.0 is white).
SEQUENCE_GUTTER = 0.75


# -- images and other outputs ----------------------------------------------------------
#
# Every picture writer takes decoded outputs of any kind: images ``[C, H, W]`` in [0, 1] as
# they are (``spec`` None or an image spec), sequences rendered first by
# :mod:`latentlab.core.render` at ``size`` (all frames of one file on one shared scale).


def _pixels(image: torch.Tensor | np.ndarray, scale: int) -> np.ndarray:
    """One image as ``H x W (x 3)`` uint8, upscaled by repeating pixels."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8:
        px = image  # already display bytes, H x W or H x W x 3
    else:
        if image.ndim == 4:
            if image.shape[0] != 1:
                raise LatentLabError(f"expected one image, got a batch of {image.shape[0]}")
            image = image[0]
        px = to_uint8(image)
    if px.ndim not in (2, 3):
        raise LatentLabError(f"cannot make an image from an array of shape {px.shape}")
    s = int(scale)
    if s < 1:
        raise LatentLabError(f"scale must be a whole number of 1 or more, got {scale}")
    return px if s == 1 else px.repeat(s, axis=0).repeat(s, axis=1)


def _is_image(spec: OutputSpec | None) -> bool:
    return spec is None or spec.kind == "image"


def _rendered(outputs: torch.Tensor | np.ndarray, spec: OutputSpec | None,
              size: int | Sequence[int] | None) -> torch.Tensor | np.ndarray:
    """Image outputs as given; sequences ``[N, T, F]`` rendered to float images ``[N, C, H, W]``."""
    if _is_image(spec):
        if size is not None:
            raise LatentLabError("a render size applies to sequence outputs; scale images with 'scale'")
        return outputs
    assert spec is not None
    return as_images(outputs, spec, size)


def _pil(px: np.ndarray) -> Image.Image:
    # uint8 H x W is read as mode "L" and H x W x 3 as "RGB".
    return Image.fromarray(np.ascontiguousarray(px))


def _save_pil(path: str | os.PathLike[str], img: Image.Image, fmt: str, **options: Any) -> None:
    atomic_write(path, lambda f: img.save(f, format=fmt, **options))


def save_png(path: str | os.PathLike[str], image: torch.Tensor | np.ndarray, scale: int = 1, *,
             spec: OutputSpec | None = None, size: int | Sequence[int] | None = None) -> None:
    """Write one output as PNG, ``scale`` x bigger.

    An image is ``[C, H, W]`` float or ``H x W (x 3)`` uint8; with a sequence ``spec`` the
    output ``[T, F]`` is rendered at ``size`` first.
    """
    if not _is_image(spec):
        assert spec is not None
        image = render(image, spec, size)
    elif size is not None:
        raise LatentLabError("a render size applies to sequence outputs; scale images with 'scale'")
    _save_pil(path, _pil(_pixels(image, scale)), "PNG")


def save_grid(
    path: str | os.PathLike[str], images: torch.Tensor | np.ndarray, n_cols: int, scale: int = 1,
    pad: int = 1, *, spec: OutputSpec | None = None, size: int | Sequence[int] | None = None,
) -> None:
    """Write outputs ``[N, ...]`` as a sheet with ``n_cols`` columns and ``pad``-pixel gutters.

    Gutters are white between images and light grey between rendered sequences (whose
    canvas is white).
    """
    n = int(images.shape[0])
    if n < 1 or n_cols < 1:
        raise LatentLabError("a grid sheet needs at least one image and one column")
    cols = min(int(n_cols), n)
    frames = _rendered(images, spec, size)
    gutter = 1.0 if _is_image(spec) else SEQUENCE_GUTTER
    save_png(path, tile(frames, math.ceil(n / cols), cols, pad=pad, pad_value=gutter), scale)


def save_strip(path: str | os.PathLike[str], images: torch.Tensor | np.ndarray, scale: int = 1,
               pad: int = 1, *, spec: OutputSpec | None = None,
               size: int | Sequence[int] | None = None) -> None:
    """Write outputs ``[N, ...]`` side by side in one row (an interpolation strip)."""
    save_grid(path, images, n_cols=max(1, int(images.shape[0])), scale=scale, pad=pad, spec=spec, size=size)


def _frames(frames: torch.Tensor | Sequence[Any], pingpong: bool, scale: int,
            spec: OutputSpec | None, size: int | Sequence[int] | None) -> list[Image.Image]:
    if _is_image(spec):
        if size is not None:
            raise LatentLabError("a render size applies to sequence outputs; scale images with 'scale'")
        seq = list(frames)
    else:
        assert spec is not None
        if len(frames) == 0:
            raise LatentLabError("an animation needs at least one frame")
        seq = list(render_batch(_stack(frames), spec, size))
    if not seq:
        raise LatentLabError("an animation needs at least one frame")
    if pingpong and len(seq) > 2:
        # Back again without showing either end twice in a row when the loop wraps.
        seq = seq + seq[-2:0:-1]
    return [_pil(_pixels(f, scale)) for f in seq]


def _stack(frames: torch.Tensor | np.ndarray | Sequence[Any]) -> torch.Tensor | np.ndarray:
    if isinstance(frames, (torch.Tensor, np.ndarray)):
        return frames
    return np.stack([f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f) for f in frames])


def _durations(fps: float) -> int:
    if not fps > 0:
        raise LatentLabError(f"frames per second must be positive, got {fps}")
    return max(1, round(1000.0 / float(fps)))


def save_gif(
    path: str | os.PathLike[str],
    frames: torch.Tensor | Sequence[Any],
    fps: float = 12,
    loop: int | None = 0,
    pingpong: bool = False,
    scale: int = 1,
    *,
    spec: OutputSpec | None = None,
    size: int | Sequence[int] | None = None,
) -> None:
    """Write frames ``[T, ...]`` as an animated GIF (``loop=0``: forever, None: once).

    ``pingpong`` plays the frames forwards then backwards, without repeating the ends.
    Identical consecutive frames are merged into one longer frame by the GIF encoder.
    """
    write_gif(path, _frames(frames, pingpong, scale, spec, size), fps, loop)


def write_gif(path: str | os.PathLike[str], images: Sequence[Image.Image], fps: float = 12,
              loop: int | None = 0) -> None:
    """Write pictures already drawn (PIL images) as an animated GIF; ``loop`` as in :func:`save_gif`."""
    if not images:
        raise LatentLabError("an animation needs at least one frame")
    # GIF: no loop extension at all plays once; loop=N asks for N extra plays.
    extra = {} if loop is None else {"loop": int(loop)}
    _save_pil(path, images[0], "GIF", save_all=True, append_images=list(images[1:]), duration=_durations(fps),
              **extra)


def save_apng(
    path: str | os.PathLike[str],
    frames: torch.Tensor | Sequence[Any],
    fps: float = 12,
    loop: int = 0,
    pingpong: bool = False,
    scale: int = 1,
    *,
    spec: OutputSpec | None = None,
    size: int | Sequence[int] | None = None,
) -> None:
    """Write frames ``[T, ...]`` as an animated PNG: lossless, unlike GIF's 256 colours."""
    imgs = _frames(frames, pingpong, scale, spec, size)
    _save_pil(path, imgs[0], "PNG", save_all=True, append_images=imgs[1:], duration=_durations(fps), loop=int(loop))


# -- latent codes ----------------------------------------------------------------------


def _code_table(codes: Any, labels: Any) -> tuple[np.ndarray, np.ndarray | None]:
    z = codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)
    if z.ndim != 2:
        raise LatentLabError(f"codes must be a table [N, D], got shape {z.shape}")
    if labels is None:
        return z.astype(np.float32), None
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if y.shape != (z.shape[0],):
        raise LatentLabError(f"need one label per code: {z.shape[0]} codes, labels of shape {y.shape}")
    return z.astype(np.float32), y.astype(np.int64)


def _csv_bytes(z: np.ndarray, y: np.ndarray | None, names: Sequence[str] | None) -> bytes:
    header = [f"z{k}" for k in range(z.shape[1])]
    if y is not None:
        header.append("label")
        if names:
            header.append("label_name")
    lines = [",".join(header)]
    for i, row in enumerate(z):
        # 9 significant digits read back to the identical float32.
        cells = [format(float(v), ".9g") for v in row]
        if y is not None:
            cells.append(str(int(y[i])))
            if names:
                label = int(y[i])
                cells.append(_csv_cell(names[label] if 0 <= label < len(names) else ""))
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _csv_cell(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def save_codes(
    path: str | os.PathLike[str],
    codes: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> None:
    """Write latent codes ``[N, D]`` (and labels) as a table; the format follows the suffix.

    * ``.csv``: header ``z0 .. z{D-1}`` then ``label`` and, when class ``names`` are
      given, ``label_name``.
    * ``.npy``: one float32 array ``[N, D]``, or ``[N, D + 1]`` with the label as the last
      column (float32 holds every label exactly); class names are not stored.
    * ``.npz``: arrays ``codes`` float32 ``[N, D]`` and, when given, ``labels`` int64
      ``[N]`` and ``label_names`` (unicode). Readable with ``allow_pickle=False``.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in CODE_FORMATS:
        raise LatentLabError(f"cannot save codes to '{os.fspath(path)}': use a {', '.join(CODE_FORMATS)} file name")
    z, y = _code_table(codes, labels)
    if suffix == ".csv":
        data = _csv_bytes(z, y, names)
        atomic_write(path, lambda f: f.write(data))
    elif suffix == ".npy":
        table = z if y is None else np.concatenate([z, y[:, None].astype(np.float32)], axis=1)
        atomic_write(path, lambda f: np.save(f, table, allow_pickle=False))
    else:
        arrays: dict[str, np.ndarray] = {"codes": z}
        if y is not None:
            arrays["labels"] = y
        if names:
            arrays["label_names"] = np.array([str(n) for n in names], dtype=np.str_)
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]
        atomic_write(path, lambda f: f.write(buf.getvalue()))


# -- raw sequences ---------------------------------------------------------------------

#: Largest raw sequence file :func:`load_sequence` reads (bytes).
MAX_SEQUENCE_FILE_BYTES = 64 << 20


def _sequence_table(outputs: torch.Tensor | np.ndarray, features: Sequence[str]) -> np.ndarray:
    x = outputs.detach().to("cpu", torch.float32).numpy() if isinstance(outputs, torch.Tensor) \
        else np.asarray(outputs, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[2] != len(features):
        raise LatentLabError(f"sequences must be [N, T, F] or [T, F] with F = {len(features)} "
                             f"({', '.join(features)}), got shape {x.shape}")
    return x


def save_sequences(path: str | os.PathLike[str], outputs: torch.Tensor | np.ndarray,
                   features: Sequence[str]) -> None:
    """Write decoded sequences ``[N, T, F]`` (or one ``[T, F]``) as raw numbers.

    * ``.csv``: header ``frame,step,<feature names>``, then one row per step of each
      sequence; 9 significant digits read back to the identical float32.
    * ``.npy``: one float32 array ``[N, T, F]`` (``[T, F]`` when one sequence was given).
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in SEQUENCE_FORMATS:
        raise LatentLabError(f"cannot save sequences to '{os.fspath(path)}': use a "
                             f"{' or '.join(SEQUENCE_FORMATS)} file name")
    names = [str(f) for f in features]
    x = _sequence_table(outputs, names)
    if suffix == ".npy":
        array = x[0] if outputs.ndim == 2 else x
        atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))
        return
    lines = [",".join(["frame", "step", *(_csv_cell(n) for n in names)])]
    for k, seq in enumerate(x):
        for t, row in enumerate(seq):
            lines.append(",".join([str(k), str(t), *(format(float(v), ".9g") for v in row)]))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    atomic_write(path, lambda f: f.write(data))


def load_sequence(path: str | os.PathLike[str], features: Sequence[str]) -> np.ndarray:
    """Read one sequence ``[T, F]`` (float32) written by :func:`save_sequences` or by hand.

    A ``.npy`` holds ``[T, F]`` or ``[1, T, F]``. A ``.csv`` has a header naming every feature
    (in any order; ``frame`` and ``step`` columns are optional) and one row per step; a file
    of several frames is refused. Raises :class:`LatentLabError` naming the file otherwise.
    """
    name = os.fspath(path)
    names = [str(f) for f in features]
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in SEQUENCE_FORMATS:
        raise LatentLabError(f"'{name}' is not a sequence file: use a {' or '.join(SEQUENCE_FORMATS)} file")
    try:
        if os.path.getsize(name) > MAX_SEQUENCE_FILE_BYTES:
            raise LatentLabError(f"'{name}' is larger than {MAX_SEQUENCE_FILE_BYTES >> 20} MiB; "
                                 "a sequence file holds one sequence")
        if suffix == ".npy":
            seq = _load_npy_sequence(name, len(names))
        else:
            with open(name, encoding="utf-8", newline="") as f:
                seq = _parse_csv_sequence(name, f.read(), names)
    except OSError as exc:
        raise LatentLabError(f"cannot read '{name}': {exc.strerror or exc}") from None
    if not len(seq):
        raise LatentLabError(f"'{name}' holds no steps")
    return seq


def _load_npy_sequence(name: str, n_features: int) -> np.ndarray:
    arr = read_npy(name, max_bytes=256 * 1024**2)
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise LatentLabError(f"'{name}' must hold numbers")
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.shape[1] != n_features:
        raise LatentLabError(f"'{name}' holds an array of shape {arr.shape}; a sequence here is "
                             f"[T, {n_features}]")
    return arr.astype(np.float32)


def _parse_csv_sequence(name: str, text: str, names: list[str]) -> np.ndarray:
    rows = [r for r in csv.reader(text.splitlines()) if r]
    if not rows:
        raise LatentLabError(f"'{name}' is empty; it needs a header naming {', '.join(names)}")
    header = [h.strip() for h in rows[0]]
    missing = [n for n in names if n not in header]
    if missing:
        raise LatentLabError(f"'{name}' has no column {', '.join(missing)}; its header must name "
                             f"{', '.join(names)}")
    cols = [header.index(n) for n in names]
    frame_col = header.index("frame") if "frame" in header and "frame" not in names else None
    out = np.empty((len(rows) - 1, len(names)), np.float32)
    frames: set[str] = set()
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise LatentLabError(f"'{name}' line {i + 2}: {len(row)} cells, the header has {len(header)}")
        try:
            out[i] = [float(row[c]) for c in cols]
        except ValueError:
            raise LatentLabError(f"'{name}' line {i + 2}: a cell is not a number") from None
        if frame_col is not None:
            frames.add(row[frame_col].strip())
    if len(frames) > 1:
        raise LatentLabError(f"'{name}' holds {len(frames)} frames; keep the rows of one frame")
    return out
