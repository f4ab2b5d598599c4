"""Writers for what the decoder makes: PNG, grid sheets, strips, GIF/APNG, code tables.

Every writer is atomic (:func:`atomic_write`): the bytes go to a temporary file in the
target's folder, are flushed to disk, and only then replace the target, so a failed save
never leaves a half-written file or damages the previous one. A folder that does not
exist or cannot be written raises :class:`LatentLabError` naming the path.
"""

from __future__ import annotations

import io
import math
import os
import secrets
from collections.abc import Callable, Sequence
from typing import IO, Any

import numpy as np
import torch
from PIL import Image

from latentlab.core.errors import LatentLabError
from latentlab.core.latent import tile

CODE_FORMATS = (".csv", ".npy", ".npz")


# -- atomic files ----------------------------------------------------------------------


def _open_temp(folder: str, name: str) -> tuple[int, str]:
    # os.open with mode 0o666 lets the umask decide the final permissions, unlike mkstemp's 0o600.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise LatentLabError(f"cannot create a temporary file in '{folder}'")


def _fsync_folder(folder: str) -> None:
    # Makes the rename itself durable on POSIX; folders cannot be opened this way on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Create or replace ``path`` with what ``write(binary_file)`` writes, all or nothing.

    Raises
    ------
    LatentLabError
        The folder is missing, ``path`` is a folder, or the disk refuses the write.
    """
    target = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(target)
    if not os.path.isdir(folder):
        raise LatentLabError(f"cannot save '{os.fspath(path)}': the folder '{folder}' does not exist")
    if os.path.isdir(target):
        raise LatentLabError(f"cannot save '{os.fspath(path)}': it is a folder, give a file name")
    try:
        fd, tmp = _open_temp(folder, name)
    except OSError as exc:
        raise LatentLabError(f"cannot save '{os.fspath(path)}': {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise LatentLabError(f"could not write '{os.fspath(path)}': {exc.strerror or exc}") from None
        raise
    _fsync_folder(folder)


# -- images ----------------------------------------------------------------------------


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float images in [0, 1] to display bytes.

    ``[C, H, W]`` gives ``H x W`` (1 channel) or ``H x W x 3`` (3 channels); a batch
    ``[N, C, H, W]`` gives the same with a leading ``N``. Values are clipped; NaN becomes 0.
    """
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim not in (3, 4) or x.shape[-3] not in (1, 3):
        raise LatentLabError(f"images must be [C, H, W] or [N, C, H, W] with 1 or 3 channels, got {x.shape}")
    x = np.nan_to_num(x.astype(np.float32), nan=0.0)
    u8 = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    u8 = np.moveaxis(u8, -3, -1)  # channels last, as image libraries expect
    return u8[..., 0] if u8.shape[-1] == 1 else u8


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


def _pil(px: np.ndarray) -> Image.Image:
    # uint8 H x W is read as mode "L" and H x W x 3 as "RGB".
    return Image.fromarray(np.ascontiguousarray(px))


def _save_pil(path: str | os.PathLike[str], img: Image.Image, fmt: str, **options: Any) -> None:
    atomic_write(path, lambda f: img.save(f, format=fmt, **options))


def save_png(path: str | os.PathLike[str], image: torch.Tensor | np.ndarray, scale: int = 1) -> None:
    """Write one image (``[C, H, W]`` float, or ``H x W (x 3)`` uint8) as PNG, ``scale`` x bigger."""
    _save_pil(path, _pil(_pixels(image, scale)), "PNG")


def save_grid(
    path: str | os.PathLike[str], images: torch.Tensor, n_cols: int, scale: int = 1, pad: int = 1
) -> None:
    """Write images ``[N, C, H, W]`` as a sheet with ``n_cols`` columns and white gutters."""
    n = int(images.shape[0])
    if n < 1 or n_cols < 1:
        raise LatentLabError("a grid sheet needs at least one image and one column")
    cols = min(int(n_cols), n)
    save_png(path, tile(images, math.ceil(n / cols), cols, pad=pad), scale)


def save_strip(path: str | os.PathLike[str], images: torch.Tensor, scale: int = 1, pad: int = 1) -> None:
    """Write images ``[N, C, H, W]`` side by side in one row (an interpolation strip)."""
    save_grid(path, images, n_cols=max(1, int(images.shape[0])), scale=scale, pad=pad)


def _frames(frames: torch.Tensor | Sequence[Any], pingpong: bool, scale: int) -> list[Image.Image]:
    seq = list(frames)
    if not seq:
        raise LatentLabError("an animation needs at least one frame")
    if pingpong and len(seq) > 2:
        # Back again without showing either end twice in a row when the loop wraps.
        seq = seq + seq[-2:0:-1]
    return [_pil(_pixels(f, scale)) for f in seq]


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
) -> None:
    """Write frames ``[T, C, H, W]`` as an animated GIF (``loop=0``: forever, None: once).

    ``pingpong`` plays the frames forwards then backwards, without repeating the ends.
    Identical consecutive frames are merged into one longer frame by the GIF encoder.
    """
    imgs = _frames(frames, pingpong, scale)
    # GIF: no loop extension at all plays once; loop=N asks for N extra plays.
    extra = {} if loop is None else {"loop": int(loop)}
    _save_pil(path, imgs[0], "GIF", save_all=True, append_images=imgs[1:], duration=_durations(fps), **extra)


def save_apng(
    path: str | os.PathLike[str],
    frames: torch.Tensor | Sequence[Any],
    fps: float = 12,
    loop: int = 0,
    pingpong: bool = False,
    scale: int = 1,
) -> None:
    """Write frames ``[T, C, H, W]`` as an animated PNG: lossless, unlike GIF's 256 colours."""
    imgs = _frames(frames, pingpong, scale)
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
