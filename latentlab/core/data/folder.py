"""A folder of images (PNG, JPEG, BMP, WebP) as a Dataset.

Rules
-----
- The folder is searched recursively, in sorted order, not following links to folders.
  Hidden files and folders (name starting with ``.``) and files without an image
  extension are ignored silently.
- Labels: every top-level subfolder that holds images is a class (its name is the class
  name; images in deeper folders belong to it). Images lying directly in the folder then
  have no class and are skipped (reported). A folder without such subfolders gives an
  unlabelled data set.
- Colour: ``auto`` gives RGB if any image has visible colour, else grayscale; ``gray`` and
  ``rgb`` force it. Transparent pixels are composited onto black (the background this
  tool's data sets use).
- Size: images are center-cropped to a square (the aspect of the content is kept, the
  edges of long sides are lost) and resized; the default is 28 pixels for grayscale and
  32 for RGB.
- Every file with an image extension that cannot be used (empty, not an image, corrupt,
  truncated, over :data:`MAX_PIXELS`) is skipped and listed in ``Dataset.skipped`` as
  ``(path relative to the folder, reason)``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from latentlab.core.data.dataset import Dataset
from latentlab.core.errors import LatentLabError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# Refuse images above this many pixels before decoding them: a small file can claim a
# huge size (a "decompression bomb") and decoding it would exhaust memory.
MAX_PIXELS = 40_000_000
# ... and above this many decoded bytes (pixels x channels x bytes per channel): the
# conversions that follow make a few copies, so this bounds the memory one image takes.
MAX_DECODED_BYTES = 160 * 1024**2
_BYTES_PER_BAND = {"I": 4, "F": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
DEFAULT_GRAY_SIZE = 28
DEFAULT_RGB_SIZE = 32
# An image "has colour" when more than this share of its pixels differ between channels
# by more than _COLOUR_STEP levels; JPEG noise on a gray photo stays below both.
_COLOUR_SHARE = 0.005
_COLOUR_STEP = 12


@dataclass
class _Decoded:
    """One usable image, kept in the forms the final colour/size choice may need."""

    label: int
    rgb: np.ndarray | None  # uint8 [S, S, 3] at the RGB size
    gray: np.ndarray | None  # uint8 [S, S] at the gray size
    colourful: bool


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def scan_folder(root: Path) -> tuple[list[Path], tuple[str, ...]]:
    """Image files under ``root`` (sorted) and the class names (sorted top-level subfolders)."""
    files: list[Path] = []
    for here, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _is_hidden(d))
        for name in sorted(names):
            if not _is_hidden(name) and name.lower().endswith(IMAGE_EXTENSIONS):
                files.append(Path(here) / name)
    files.sort(key=lambda p: p.relative_to(root).as_posix())
    nested = (p.relative_to(root).parts for p in files)
    classes = sorted({parts[0] for parts in nested if len(parts) > 1})
    return files, tuple(classes)


def _open_checked(path: Path) -> Image.Image:
    """Open and decode one image, refusing oversized ones before decoding."""
    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit, raises) on huge images; make both errors.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ValueError(f"image too large: {w}x{h} pixels (limit {MAX_PIXELS:,})")
            decoded = w * h * len(img.getbands()) * _BYTES_PER_BAND.get(img.mode, 1)
            if decoded > MAX_DECODED_BYTES:
                raise ValueError(f"image too large: {w}x{h} pixels in mode {img.mode} "
                                 f"would decode to {decoded:,} bytes (limit {MAX_DECODED_BYTES:,})")
            img.load()
            try:
                return ImageOps.exif_transpose(img)
            except Exception:  # A damaged orientation tag should not cost a good image.
                return img.copy()


def _flatten(img: Image.Image) -> Image.Image:
    """Any Pillow mode to "RGB" or "L", alpha composited onto black."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float32)  # float32: a large 32-bit image costs 4, not 8, bytes a pixel
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        base = "L" if img.mode[0] == "L" else "RGB"
        black = Image.new("RGBA", img.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, img.convert("RGBA")).convert(base)
    if img.mode in ("1", "L"):
        return img.convert("L")
    return img.convert("RGB")


def _has_colour(rgb: np.ndarray) -> bool:
    spread = rgb.max(axis=2).astype(np.int16) - rgb.min(axis=2)
    return float((spread > _COLOUR_STEP).mean()) > _COLOUR_SHARE


def _fit(img: Image.Image, width: int, height: int | None = None) -> np.ndarray:
    """Center-crop to the target aspect and resize to ``width x height`` (uint8 array).

    ``height`` defaults to ``width`` (a square).
    """
    height = height or width
    w, h = img.size
    # The largest centred box with the target aspect ratio.
    crop_w, crop_h = min(w, h * width / height), min(h, w * height / width)
    left, top = (w - crop_w) / 2.0, (h - crop_h) / 2.0
    box = (left, top, left + crop_w, top + crop_h)
    # reducing_gap lets Pillow shrink big images in cheap integer steps first.
    return np.asarray(img.resize((width, height), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0))


def _read(path: Path) -> Image.Image:
    """Decode one file into an "RGB" or "L" image; any failure means the file is unusable."""
    with _open_checked(path) as opened:
        return _flatten(opened)


def _fitted(img: Image.Image, label: int, color: str, size: int | None) -> _Decoded:
    """Fit a decoded image to the size(s) the final colour choice may need."""
    rgb_size, gray_size = size or DEFAULT_RGB_SIZE, size or DEFAULT_GRAY_SIZE
    if color == "gray":
        return _Decoded(label, None, _fit(img.convert("L"), gray_size), False)
    rgb = _fit(img.convert("RGB"), rgb_size)
    if color == "rgb":
        return _Decoded(label, rgb, None, img.mode != "L")
    # "auto": the choice depends on every image, so keep both forms until the end.
    gray = _fit(img.convert("L"), gray_size)
    return _Decoded(label, rgb, gray, img.mode != "L" and _has_colour(rgb))


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return "image too large (possible decompression bomb)"
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not an image, or a format that cannot be read"
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated image ({text})"
    if text.startswith("image too large"):
        return text
    return f"corrupt or unreadable image ({text})"


def load_folder(
    path: str | os.PathLike[str],
    *,
    image_size: int | None = None,
    color: str = "auto",
    limit: int | None = None,
) -> Dataset:
    """Load every usable image under ``path`` (rules in the module docstring).

    Parameters
    ----------
    image_size:
        Side of the square images; None picks 28 (gray) or 32 (RGB).
    color:
        ``auto``, ``gray`` or ``rgb``.
    limit:
        Stop after this many usable images (in sorted path order).

    Raises
    ------
    LatentLabError
        If the folder does not exist or holds no usable image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise LatentLabError(f"{root}: no such folder")
    files, classes = scan_folder(root)
    if not files:
        raise LatentLabError(
            f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)} files, in subfolders too)"
        )
    class_index = {name: i for i, name in enumerate(classes)}
    decoded: list[_Decoded] = []
    skipped: list[tuple[str, str]] = []
    for file in files:
        if limit is not None and len(decoded) >= limit:
            break
        rel = file.relative_to(root).as_posix()
        parts = file.relative_to(root).parts
        if classes and len(parts) == 1:
            skipped.append((rel, "not inside a class subfolder"))
            continue
        try:
            if file.stat().st_size == 0:
                skipped.append((rel, "empty file"))
                continue
            img = _read(file)
        except Exception as exc:  # Pillow raises many types for damaged files; each is reported.
            skipped.append((rel, _failure_reason(exc)))
            continue
        decoded.append(_fitted(img, class_index[parts[0]] if classes else -1, color, image_size))
    if not decoded:
        first = "; ".join(f"{name}: {why}" for name, why in skipped[:3])
        raise LatentLabError(f"{root}: none of the {len(skipped)} image files could be used ({first})")
    return _assemble(root, decoded, classes, skipped, color, image_size)


def _assemble(
    root: Path,
    decoded: list[_Decoded],
    classes: tuple[str, ...],
    skipped: list[tuple[str, str]],
    color: str,
    image_size: int | None,
) -> Dataset:
    rgb = color == "rgb" or (color == "auto" and any(d.colourful for d in decoded))
    if rgb:
        stack = np.stack([d.rgb for d in decoded]).transpose(0, 3, 1, 2)  # type: ignore[misc]
    else:
        stack = np.stack([d.gray for d in decoded])[:, None]  # type: ignore[misc]
    images = torch.from_numpy(np.ascontiguousarray(stack)).to(torch.float32).div_(255.0)
    labels = torch.tensor([d.label for d in decoded], dtype=torch.int64) if classes else None
    return Dataset(
        name=root.resolve().name or str(root),
        images=images,
        labels=labels,
        class_names=classes,
        source={
            "kind": "folder",
            "path": str(root.resolve()),
            "size": int(images.shape[-1]),
            "color": "rgb" if rgb else "gray",
        },
        skipped=tuple(skipped),
    )


def load_image_file(path: str | os.PathLike[str], shape: Sequence[int]) -> torch.Tensor:
    """One image file as float32 ``[C, H, W]`` in ``[0, 1]``, ready for a model of ``shape``.

    Decoded and checked like a folder's images (same size limit, alpha onto black), then
    center-cropped to the aspect of ``H x W``, resized, and made gray (C = 1) or RGB (C = 3).

    Raises
    ------
    LatentLabError
        If the file is missing or unusable (the message names it and says why), or
        ``shape`` is not ``(1 or 3, H, W)``.
    """
    if len(shape) != 3 or int(shape[0]) not in (1, 3) or min(int(v) for v in shape) < 1:
        raise LatentLabError(f"an image shape is (1 or 3, H, W), got {tuple(shape)}")
    c, h, w = (int(v) for v in shape)
    file = Path(path).expanduser()
    if not file.is_file():
        raise LatentLabError(f"{file}: no such file")
    if file.stat().st_size == 0:
        raise LatentLabError(f"{file}: empty file")
    try:
        img = _read(file)
    except Exception as exc:  # Pillow raises many types for damaged files.
        raise LatentLabError(f"{file}: {_failure_reason(exc)}") from None
    pixels = _fit(img.convert("L" if c == 1 else "RGB"), w, h)
    tensor = torch.from_numpy(pixels.copy()).to(torch.float32).div_(255.0)
    return tensor.unsqueeze(0) if c == 1 else tensor.permute(2, 0, 1).contiguous()
