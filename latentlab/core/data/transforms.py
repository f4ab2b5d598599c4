"""Small image-tensor helpers shared by the data sources: options, colour, size, limit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from latentlab.core.errors import LatentLabError

COLOR_MODES = ("auto", "gray", "rgb")
MIN_IMAGE_SIZE = 4
MAX_IMAGE_SIZE = 512
# ITU-R BT.601 luma weights: the same ones Pillow uses for "RGB" -> "L", so a folder
# converted by Pillow and an array converted here agree.
_LUMA = (0.299, 0.587, 0.114)
# Resize in slices so a large data set never needs two full float copies at once.
_RESIZE_CHUNK = 1024


def check_image_size(image_size: int | None) -> int | None:
    """Validate an ``image_size`` option (None means "keep the source's size")."""
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, int):
        raise LatentLabError(f"image size must be a whole number of pixels, got {image_size!r}")
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise LatentLabError(
            f"image size must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels, got {image_size}"
        )
    return image_size


def check_color(color: str) -> str:
    """Validate a ``color`` option: one of ``auto``, ``gray``, ``rgb``."""
    if color not in COLOR_MODES:
        raise LatentLabError(f"colour mode must be one of {', '.join(COLOR_MODES)}, got {color!r}")
    return color


def check_limit(limit: int | None) -> int | None:
    """Validate a ``limit`` option (None means "all items")."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise LatentLabError(f"limit must be a positive whole number of items, got {limit!r}")
    return limit


def convert_color(images: torch.Tensor, color: str) -> torch.Tensor:
    """Return ``images`` ``[N, C, H, W]`` with 1 channel (``gray``) or 3 (``rgb``).

    ``auto`` keeps the channels as they are.
    """
    channels = images.shape[1]
    if color == "gray" and channels == 3:
        weights = torch.tensor(_LUMA, dtype=images.dtype).view(1, 3, 1, 1)
        return (images * weights).sum(dim=1, keepdim=True).clamp_(0.0, 1.0)
    if color == "rgb" and channels == 1:
        return images.expand(-1, 3, -1, -1).contiguous()
    return images


def center_crop_square(images: torch.Tensor) -> torch.Tensor:
    """Crop the central square of ``[N, C, H, W]`` images (keeps the aspect of content)."""
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return images[..., top : top + side, left : left + side]


def resize_images(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """Resize ``[N, C, H, W]`` images to ``size x size`` (center crop, then antialiased bilinear).

    ``None`` or the current size returns the tensor unchanged.
    """
    if size is None:
        return images
    images = center_crop_square(images)
    if images.shape[-1] == size:
        return images.contiguous()
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.float32)
    for start in range(0, images.shape[0], _RESIZE_CHUNK):
        part = images[start : start + _RESIZE_CHUNK]
        out[start : start + _RESIZE_CHUNK] = F.interpolate(
            part, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    # Float rounding in the filter weights can leave values a hair outside [0, 1].
    return out.clamp_(0.0, 1.0)
