"""A model as an image codec: quantised codes against JPEG and WebP at the same size.

Each image is encoded to its latent mean, every latent value is quantised to ``B`` bits
(uniformly over a per-dimension range, the lowest to the highest value of that dimension
over the images compressed; the range is side information stored once in the report, not per
image) or stored as float16, then dequantised and decoded. An image then costs
``ceil((D * B + label bits) / 8)`` bytes, where a conditional model also sends its class
(``ceil(log2 K)`` bits).

The same images go through JPEG and WebP (Pillow; file bytes, headers included, because that
is what a person would store): for each image the quality is searched for the largest file
that still fits the learned code's bytes, and where even the lowest quality is larger, that
smallest file is used — the report says how many bytes the codecs really took. Quality is
PSNR (dB, per image, then averaged; identical images score ``inf``) and SSIM (Wang et al.
2004: gaussian window 11, σ 1.5, K1 0.01, K2 0.03, over the valid part of the image, per
channel, then averaged).

:func:`compression_report` also draws the whole rate–distortion curve: several bit depths of
the learned code and a range of JPEG and WebP qualities, so a reader sees where each wins.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from latentlab.core.errors import LatentLabError

__all__ = ["CODECS", "CURVE_BITS", "CURVE_QUALITIES", "code_bytes", "codec_bytes", "codec_match",
           "codec_roundtrip", "compression_report", "dequantise", "parse_bits", "psnr", "quantise", "ssim"]

CODECS = ("jpeg", "webp")
#: Bit depths of the learned code on the rate–distortion curve (``"float16"`` is 16-bit floats).
CURVE_BITS: tuple[int | str, ...] = (2, 3, 4, 6, 8, "float16")
#: Codec qualities on the curve (Pillow's 1..95 scale for JPEG, 0..100 for WebP).
CURVE_QUALITIES = (1, 5, 10, 20, 30, 50, 75, 90)
_QUALITY_RANGE = {"jpeg": (1, 95), "webp": (0, 100)}
_FORMAT = {"jpeg": "JPEG", "webp": "WEBP"}


# -- quantisation ---------------------------------------------------------------------------
def parse_bits(value: int | str) -> int | str:
    """Bits per latent value: a whole number 1..16 or ``"float16"``; LatentLabError otherwise."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("float16", "f16", "half"):
            return "float16"
        try:
            value = int(text)
        except ValueError:
            raise LatentLabError(f"bits must be a whole number from 1 to 16 or 'float16', got '{value}'") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise LatentLabError(f"bits must be a whole number from 1 to 16 or 'float16', got {value}")
    return value


def quantise(codes: np.ndarray, bits: int, low: np.ndarray | None = None,
             high: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes ``[N, D]`` as integers in ``0 .. 2**bits - 1`` over per-dimension ``[low, high]``.

    The range defaults to each dimension's lowest and highest value; values outside a given
    range are clipped to it. Returns ``(levels uint16 [N, D], low [D], high [D])``.
    """
    bits = parse_bits(bits)
    if bits == "float16":
        raise LatentLabError("float16 codes are stored as they are, not quantised to levels")
    z = np.asarray(codes, dtype=np.float64)
    if z.ndim != 2:
        raise LatentLabError(f"codes must be [N, D], got shape {z.shape}")
    low = z.min(0) if low is None else np.asarray(low, np.float64)
    high = z.max(0) if high is None else np.asarray(high, np.float64)
    top = (1 << bits) - 1
    span = np.where(high > low, high - low, 1.0)
    levels = np.rint((np.clip(z, low, high) - low) / span * top)
    return levels.astype(np.uint16), low, high


def dequantise(levels: np.ndarray, bits: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The codes ``[N, D]`` (float32) that :func:`quantise` levels stand for."""
    top = (1 << parse_bits(bits)) - 1  # type: ignore[operator]
    span = np.where(high > low, high - low, 0.0)
    return (np.asarray(low) + np.asarray(levels, np.float64) / top * span).astype(np.float32)


def code_bytes(latent_dim: int, bits: int | str, num_classes: int = 0) -> int:
    """Bytes of one image's code: ``D`` values of ``bits`` each (16 for float16), plus its class."""
    per_value = 16 if parse_bits(bits) == "float16" else int(bits)
    label_bits = math.ceil(math.log2(num_classes)) if num_classes > 1 else 0
    return math.ceil((latent_dim * per_value + label_bits) / 8)


# -- image quality --------------------------------------------------------------------------
def _as_tensor(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    x = x.detach().to("cpu", torch.float64)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise LatentLabError(f"images must be [N, C, H, W] or [C, H, W], got shape {tuple(x.shape)}")
    return x


def psnr(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> np.ndarray:
    """PSNR in dB of each pair of images in [0, 1] (peak 1): ``10 log10(1 / MSE)``; ``inf`` if identical."""
    x, y = _as_tensor(a), _as_tensor(b)
    if x.shape != y.shape:
        raise LatentLabError(f"cannot compare images of shapes {tuple(x.shape)} and {tuple(y.shape)}")
    mse = (x - y).pow(2).flatten(1).mean(1).numpy()
    with np.errstate(divide="ignore"):
        return np.where(mse > 0, 10.0 * np.log10(1.0 / np.maximum(mse, 1e-300)), np.inf)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray, *, data_range: float = 1.0) -> np.ndarray:
    """SSIM of each pair of images (Wang et al. 2004), gaussian window 11, σ 1.5, K1 0.01, K2 0.03.

    The statistics are taken over the valid part of the image (no padding) per channel; the
    SSIM map is averaged over pixels and channels. Identical images give 1.
    """
    x, y = _as_tensor(a), _as_tensor(b)
    if x.shape != y.shape:
        raise LatentLabError(f"cannot compare images of shapes {tuple(x.shape)} and {tuple(y.shape)}")
    n, c, h, w = x.shape
    size = min(11, h, w)
    if size < 11:
        size -= 1 - size % 2  # an odd window that fits a small image
    window = _gaussian_window(size, 1.5).to(x.dtype)
    x, y = x.reshape(n * c, 1, h, w), y.reshape(n * c, 1, h, w)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window)

    mu_x, mu_y = blur(x), blur(y)
    sxx = blur(x * x) - mu_x**2
    syy = blur(y * y) - mu_y**2
    sxy = blur(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).reshape(n, c, -1).mean((1, 2)).numpy()


# -- standard codecs --------------------------------------------------------------------------
def _pil(image: np.ndarray) -> Any:
    from PIL import Image

    px = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(px[0] if px.shape[0] == 1 else np.moveaxis(px, 0, -1))


def _encode(img: Any, codec: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if codec == "jpeg":
        img.save(buf, format="JPEG", quality=quality, optimize=True)
    else:
        img.save(buf, format="WEBP", quality=quality)
    return buf.getvalue()


def _decode(data: bytes, channels: int) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img = img.convert("L" if channels == 1 else "RGB")
    px = np.asarray(img, dtype=np.float32) / 255.0
    return px[None] if channels == 1 else np.moveaxis(px, -1, 0)


def _check_codec(codec: str) -> None:
    if codec not in CODECS:
        raise LatentLabError(f"unknown codec '{codec}' (choose from {', '.join(CODECS)})")


def codec_bytes(image: np.ndarray, codec: str, quality: int) -> int:
    """File bytes of one image ``[C, H, W]`` in [0, 1] saved by Pillow as ``codec`` at ``quality``."""
    _check_codec(codec)
    return len(_encode(_pil(image), codec, quality))


def codec_roundtrip(image: np.ndarray, codec: str, quality: int) -> tuple[np.ndarray, int]:
    """One image through ``codec`` at ``quality``: the decoded image ``[C, H, W]`` and its bytes."""
    _check_codec(codec)
    data = _encode(_pil(image), codec, quality)
    return _decode(data, image.shape[0]), len(data)


def codec_match(image: np.ndarray, codec: str, target_bytes: int) -> tuple[np.ndarray, int, int]:
    """The best quality of ``codec`` whose file fits ``target_bytes`` (else the smallest file).

    Binary search over the quality, as file size grows with it. Returns ``(decoded image,
    bytes, quality)``.
    """
    _check_codec(codec)
    img = _pil(image)
    lo, hi = _QUALITY_RANGE[codec]
    smallest = _encode(img, codec, lo)
    if len(smallest) > target_bytes:
        return _decode(smallest, image.shape[0]), len(smallest), lo
    best, best_q = smallest, lo
    lo += 1
    while lo <= hi:
        mid = (lo + hi) // 2
        data = _encode(img, codec, mid)
        if len(data) <= target_bytes:
            best, best_q, lo = data, mid, mid + 1
        else:
            hi = mid - 1
    return _decode(best, image.shape[0]), len(best), best_q


# -- the report -------------------------------------------------------------------------------
def _latent_roundtrip(model: Any, images: torch.Tensor, labels: torch.Tensor | None, codes: np.ndarray,
                      bits: int | str) -> tuple[torch.Tensor, dict[str, Any]]:
    from latentlab.core.inference import decode

    side: dict[str, Any] = {}
    if bits == "float16":
        restored = codes.astype(np.float16).astype(np.float32)
    else:
        levels, low, high = quantise(codes, int(bits))
        restored = dequantise(levels, int(bits), low, high)
        side = {"range_low": low.tolist(), "range_high": high.tolist()}
    out = torch.cat([decode(model, torch.from_numpy(restored[i:i + 500]),
                            None if labels is None else labels[i:i + 500]) for i in range(0, len(restored), 500)])
    return out, side


def _scores(original: torch.Tensor, restored: torch.Tensor) -> dict[str, float]:
    p = psnr(original, restored)
    s = ssim(original, restored)
    finite = p[np.isfinite(p)]
    return {"psnr": float(finite.mean()) if len(finite) == len(p) else math.inf, "ssim": float(s.mean())}


def _codec_point(images: np.ndarray, codec: str, quality: int) -> dict[str, Any]:
    decoded, sizes = [], []
    for im in images:
        d, size = codec_roundtrip(im, codec, quality)
        decoded.append(d)
        sizes.append(size)
    scores = _scores(torch.from_numpy(images), torch.from_numpy(np.stack(decoded)))
    return {"codec": codec, "quality": quality, "bytes_per_image": float(np.mean(sizes)), **scores}


def _codec_at(images: np.ndarray, codec: str, target: int) -> dict[str, Any]:
    decoded, sizes, qualities = [], [], []
    for im in images:
        d, size, q = codec_match(im, codec, target)
        decoded.append(d)
        sizes.append(size)
        qualities.append(q)
    scores = _scores(torch.from_numpy(images), torch.from_numpy(np.stack(decoded)))
    return {"codec": codec, "target_bytes": target, "bytes_per_image": float(np.mean(sizes)),
            "min_bytes": int(min(sizes)), "max_bytes": int(max(sizes)),
            "fits_target": float(np.mean(np.asarray(sizes) <= target)),
            "mean_quality": float(np.mean(qualities)), **scores}


def compression_report(model: Any, images: torch.Tensor, labels: torch.Tensor | None = None, *,
                       bits: int | str = 8, curve_bits: Sequence[int | str] = CURVE_BITS,
                       qualities: Sequence[int] = CURVE_QUALITIES,
                       progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> dict[str, Any] | None:
    """Compress ``images`` ``[N, C, H, W]`` with ``model`` at ``bits`` and compare with JPEG and WebP.

    Returns a JSON-able dict: ``model`` (bits, bytes per image, PSNR, SSIM, the quantisation
    range), ``jpeg`` and ``webp`` matched to the same bytes per image, ``curve`` (the learned
    code at each of ``curve_bits`` and each codec at each of ``qualities``), ``n``,
    ``latent_dim`` and ``image_shape``. ``progress(done, total)`` follows each stage;
    ``should_stop()`` True between stages returns None.
    """
    from latentlab.core.inference import encode

    bits = parse_bits(bits)
    config = model.config
    if config.capabilities.output != "image" or not config.capabilities.encoder:
        raise LatentLabError("compression needs a model that encodes and decodes images")
    if len(images) == 0:
        raise LatentLabError("there are no images to compress")
    conditional = config.is_conditional
    if conditional and labels is None:
        raise LatentLabError("this conditional model needs the images' class labels to compress them")
    y = labels if conditional else None
    curve_bits = [parse_bits(b) for b in curve_bits]
    stages = 2 + 2 + len(curve_bits) + 2 * len(qualities)
    done = 0

    def step() -> bool:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, stages)
        return should_stop is not None and should_stop()

    x = images.detach().to("cpu", torch.float32)
    codes = np.concatenate([encode(model, x[i:i + 500], None if y is None else y[i:i + 500])
                            for i in range(0, len(x), 500)])
    if step():
        return None
    k = config.num_classes if conditional else 0
    restored, side = _latent_roundtrip(model, x, y, codes, bits)
    target = code_bytes(config.latent_dim, bits, k)
    exact = _decode_codes(model, codes, y)
    report: dict[str, Any] = {
        "n": len(x), "latent_dim": config.latent_dim, "image_shape": list(config.input_shape),
        "raw_bytes_per_image": int(np.prod(config.input_shape)),
        "model": {"bits": bits, "bytes_per_image": target, "label_bits": math.ceil(math.log2(k)) if k > 1 else 0,
                  **_scores(x, restored), **side},
        # The codes as float32 (4 bytes a value): what quantisation costs in quality.
        "model_unquantised": {"bytes_per_image": math.ceil(
            (config.latent_dim * 32 + (math.ceil(math.log2(k)) if k > 1 else 0)) / 8), **_scores(x, exact)},
    }
    if step():
        return None
    pixels = x.numpy()
    for codec in CODECS:
        report[codec] = _codec_at(pixels, codec, target)
        if step():
            return None
    curve: list[dict[str, Any]] = []
    for b in curve_bits:
        out, _ = _latent_roundtrip(model, x, y, codes, b)
        curve.append({"codec": "model", "bits": b, "bytes_per_image": code_bytes(config.latent_dim, b, k),
                      **_scores(x, out)})
        if step():
            return None
    for codec in CODECS:
        for q in qualities:
            curve.append(_codec_point(pixels, codec, q))
            if step():
                return None
    report["curve"] = curve
    return report


def _decode_codes(model: Any, codes: np.ndarray, labels: torch.Tensor | None) -> torch.Tensor:
    from latentlab.core.inference import decode

    return torch.cat([decode(model, torch.from_numpy(codes[i:i + 500]),
                             None if labels is None else labels[i:i + 500]) for i in range(0, len(codes), 500)])
