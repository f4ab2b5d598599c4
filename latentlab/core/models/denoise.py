"""Denoising training, shared by the reconstruction families (``ae``, ``vae``, ``beta-vae``, ``cvae``).

A family that offers it lists :data:`DENOISE_OPTION` among its options; the setting then lives
in ``ModelConfig.options["denoise"]`` (so the saved model records it) as a noise spec:

* ``gaussian:S`` adds Gaussian noise of standard deviation up to ``S`` (> 0),
* ``saltpepper:P`` sets up to a fraction ``P`` (0 < P ≤ 1) of the pixels to black or white,
* ``mask:P`` sets up to a fraction ``P`` of the pixels to black,

and ``""`` (the default) is off. During training each image gets its own level drawn
uniformly between 0 and the given maximum; the model encodes the corrupted image and is scored
on reconstructing the clean one. Noisy images are clipped to [0, 1], the range of every image.
The noise is made on the images' device from torch's global generator, which the trainer has
swapped for the run's private seeded stream, so a run is reproducible and costs no transfer.

:func:`parse_noise` is the one place a spec is read and checked. This module imports no torch
at import time: the registry lists families before torch has loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from latentlab.core.errors import LatentLabError
from latentlab.core.models.registry import Option

if TYPE_CHECKING:
    import torch

__all__ = ["DENOISE_OPTION", "NOISE_KINDS", "NoiseSpec", "corrupt", "noise_of", "parse_noise", "training_input"]

NOISE_KINDS = ("gaussian", "saltpepper", "mask")
#: Gaussian noise above this standard deviation leaves nothing of a [0, 1] image to recover.
MAX_GAUSSIAN = 10.0
_FORMS = "gaussian:S (0 < S ≤ 10), saltpepper:P or mask:P (0 < P ≤ 1)"


@dataclass(frozen=True)
class NoiseSpec:
    """A kind of noise and its (maximum) level; ``str(spec)`` is its canonical text."""

    kind: str
    level: float

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"


@lru_cache(maxsize=64)
def parse_noise(text: str | None) -> NoiseSpec | None:
    """``"gaussian:0.5"`` → ``NoiseSpec("gaussian", 0.5)``; ``None``, ``""`` or ``"none"`` → None.

    Anything else raises one :class:`LatentLabError` that names the spec and the valid forms.
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise LatentLabError(f"a noise spec must be text such as gaussian:0.5, got {text!r}")
    clean = text.strip().lower()
    if clean in ("", "none", "off"):
        return None
    kind, sep, value = clean.partition(":")
    if not sep or kind not in NOISE_KINDS:
        raise LatentLabError(f"unknown noise '{text}'; write {_FORMS}")
    try:
        level = float(value)
    except ValueError:
        raise LatentLabError(f"noise '{text}' needs a number after the colon; write {_FORMS}") from None
    top = MAX_GAUSSIAN if kind == "gaussian" else 1.0
    if not (math.isfinite(level) and 0 < level <= top):
        raise LatentLabError(f"noise '{text}': the level must be above 0 and at most {top:g}; write {_FORMS}")
    return NoiseSpec(kind, level)


class _DenoiseOption(Option):
    """The ``denoise`` option: text checked by :func:`parse_noise`, stored in canonical form."""

    #: Off is not written to a model file, which then opens in versions without this option.
    omitted_when_default = True

    def check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise LatentLabError(f"option '{self.name}' must be a noise spec such as gaussian:0.5, got {value!r}")
        spec = parse_noise(value)
        return "" if spec is None else str(spec)


#: The option a family lists to offer denoising training.
DENOISE_OPTION = _DenoiseOption(
    "denoise", "", help=f"train as a denoiser: corrupt inputs, score clean targets; {_FORMS}; empty: off")


def noise_of(config: Any) -> NoiseSpec | None:
    """The denoising noise a model of ``config`` trains with, or None."""
    options = getattr(config, "options", None) or {}
    return parse_noise(options.get("denoise") or None)


def corrupt(x: torch.Tensor, spec: NoiseSpec, *, fixed: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` ``[B, C, ...]`` in [0, 1] with noise of ``spec``, made on ``x``'s device.

    Each image's level is drawn uniformly up to ``spec.level`` (or is exactly it when
    ``fixed``). Salt-and-pepper and masking hit whole pixels (every channel of a pixel alike).
    ``generator`` (on ``x``'s device) replaces torch's global generator.
    """
    import torch

    b = x.shape[0]
    per_image = (b,) + (1,) * (x.ndim - 1)
    if fixed:
        level = torch.full(per_image, spec.level, device=x.device, dtype=x.dtype)
    else:
        level = spec.level * torch.rand(per_image, device=x.device, dtype=x.dtype, generator=generator)
    if spec.kind == "gaussian":
        noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        return (x + level * noise).clamp_(0.0, 1.0)
    pixel = (b, 1, *x.shape[2:])
    hit = torch.rand(pixel, device=x.device, dtype=x.dtype, generator=generator) < level
    if spec.kind == "mask":
        return x.masked_fill(hit, 0.0)
    white = torch.rand(pixel, device=x.device, dtype=x.dtype, generator=generator) < 0.5
    return torch.where(hit, white.to(x.dtype).expand_as(x), x)


def training_input(config: Any, x: torch.Tensor) -> torch.Tensor:
    """What a reconstruction family's step encodes: ``x`` corrupted when it trains as a denoiser."""
    spec = noise_of(config)
    return x if spec is None else corrupt(x, spec)


def denoising_step(model: Any, x: torch.Tensor, y: torch.Tensor | None, optimizers: Any, ctx: Any) -> dict[str, Any]:
    """The plain reconstruction step, encoding corrupted inputs when the model trains as a denoiser."""
    from latentlab.core.models.registry import minimise

    noisy = training_input(model.config, x)
    out = model.loss(x, y) if noisy is x else model.loss(noisy, y, target=x)
    minimise(out["loss"], *optimizers.values())
    return out
