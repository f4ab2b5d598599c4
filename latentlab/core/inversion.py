"""Placing data on the plane for a model with no encoder (a GAN): inverting its generator.

For each item ``x`` we look for the code ``z`` whose decoding is closest to it:

* a latent of at most 3 dimensions: a **grid search** over the prior (inverse-CDF grid points,
  decoded once, compared with every item of a chunk in one matrix product), then a few
  **refinement** steps of Adam on ``z`` for all items of the chunk at once;
* a larger latent: the model's **latent regressor** (an encoder fitted to the generator's own
  pairs ``(z, G(z))``; see ``gan_model.py``) gives the starting codes, then the same
  refinement. A regressor with fewer than :data:`REGRESSOR_MIN_STEPS` training steps is
  topped up on first use (and then travels in the model's weights when it is saved).

The refinement minimises the mean squared pixel error plus a small pull towards the prior's
centre (codes far out in the tails decode to images the generator was never trained on), and
keeps each item's best code. Results carry each item's root-mean-square pixel error, so a view
can shade dots by how well the generator reproduces them.

Work runs chunk by chunk: ``should_stop()`` is asked between chunks (True ends the work and
returns None) and ``progress(done, total)`` is called after each, like
:func:`latentlab.core.inference.encode_dataset`, which uses this module for such models.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel

__all__ = [
    "GRID_MAX_DIM", "GRID_POINTS", "INVERT_CHUNK", "REFINE_STEPS", "REGRESSOR_MIN_STEPS", "Inversion",
    "ensure_regressor", "grid_codes", "invert", "invert_dataset", "realness",
]

#: Latents up to this size are inverted by a grid search over the prior; larger ones start from
#: a latent regressor (a grid in 4 or more dimensions is too coarse or too large).
GRID_MAX_DIM = 3
#: About this many grid points over the prior (64 × 64 in 2-D, 16³ in 3-D, 4096 in 1-D).
GRID_POINTS = 4096
#: Adam steps per chunk that refine the starting codes.
REFINE_STEPS = 40
REFINE_LR = 0.05
#: Weight of ``|z|² / 2`` (the prior's negative log density) against the mean squared pixel
#: error: a faint pull that only matters for codes drifting far out where the error is flat.
PRIOR_PULL = 1e-6
#: Items per chunk: the cancel check and progress report run between chunks.
INVERT_CHUNK = 256
#: A regressor trained for fewer steps than this is topped up before it is used.
REGRESSOR_MIN_STEPS = 600
REGRESSOR_BATCH = 256

Callback = Callable[[int, int], None]


@dataclass(frozen=True)
class Inversion:
    """Codes ``[N, D]`` (float32) and each item's RMS pixel error ``[N]`` (images in [0, 1])."""

    codes: np.ndarray
    errors: np.ndarray


def grid_codes(dim: int, points: int = GRID_POINTS) -> torch.Tensor:
    """A regular grid over the standard normal prior: ``side**dim`` codes ``[M, dim]``.

    Each axis holds the prior's quantiles at ``(i + 0.5) / side``, so the points are spread
    by probability mass rather than by distance.
    """
    if not 1 <= dim <= GRID_MAX_DIM:
        raise LatentLabError(f"a grid search covers latents of 1 to {GRID_MAX_DIM} dimensions, not {dim}")
    side = max(2, int(round(points ** (1.0 / dim))))
    axis = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(side) + 0.5) / side)
    mesh = torch.meshgrid(*([axis] * dim), indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1)


def _check_model(model: LatentModel) -> None:
    if model.config.latent_dim > GRID_MAX_DIM and getattr(model, "regressor", None) is None:
        raise LatentLabError(f"this {model.config.family} model has a {model.config.latent_dim}-dimensional "
                             "latent but no latent regressor to start its inversion from")


def ensure_regressor(model: LatentModel, *, min_steps: int = REGRESSOR_MIN_STEPS,
                     should_stop: Callable[[], bool] | None = None, seed: int = 0) -> bool:
    """Train the model's latent regressor up to ``min_steps`` steps; False if stopped first.

    Only the regressor's weights (and its step count) change; the generator is untouched.
    """
    regressor = getattr(model, "regressor", None)
    if regressor is None:
        return True
    left = min_steps - int(model.regressor_steps)
    if left <= 0:
        return True
    stream = torch.Generator().manual_seed(seed + int(model.regressor_steps))
    with torch.inference_mode(False), torch.enable_grad():
        for i in range(left):
            if should_stop is not None and i % 25 == 0 and should_stop():
                return False
            model.regressor_step(REGRESSOR_BATCH, generator=stream)
    return True


def invert(model: LatentModel, images: torch.Tensor | np.ndarray, *, steps: int = REFINE_STEPS,
           chunk: int = INVERT_CHUNK, should_stop: Callable[[], bool] | None = None,
           progress: Callback | None = None) -> Inversion | None:
    """Codes and errors of ``images`` ``[N, C, H, W]`` in [0, 1]; None when ``should_stop`` said so."""
    _check_model(model)
    x_all = images if isinstance(images, torch.Tensor) else torch.from_numpy(
        np.ascontiguousarray(images, dtype=np.float32))
    if tuple(x_all.shape[1:]) != tuple(model.config.input_shape):
        raise LatentLabError(f"the model expects items of shape {tuple(model.config.input_shape)}, "
                             f"got {tuple(x_all.shape[1:])}")
    if not ensure_regressor(model, should_stop=should_stop):
        return None
    device = model.device
    total = int(x_all.shape[0])
    dim = model.config.latent_dim
    codes: list[torch.Tensor] = []
    errors: list[torch.Tensor] = []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False):
            grid = _decoded_grid(model) if dim <= GRID_MAX_DIM else None
            for start in range(0, total, chunk):
                if should_stop is not None and should_stop():
                    return None
                x = x_all[start:start + chunk].to(device, torch.float32).flatten(1)
                z0 = _nearest(grid, x) if grid is not None else _regressed(model, x)
                z, err = _refine(model, x, z0, steps)
                codes.append(z.to("cpu"))
                errors.append(err.to("cpu"))
                if progress is not None:
                    progress(min(total, start + chunk), total)
    finally:
        model.train(was_training)
    if not codes:
        return Inversion(np.zeros((0, dim), np.float32), np.zeros(0, np.float32))
    return Inversion(torch.cat(codes).numpy().astype(np.float32), torch.cat(errors).numpy().astype(np.float32))


def invert_dataset(model: LatentModel, data, *, chunk: int = INVERT_CHUNK,
                   should_stop: Callable[[], bool] | None = None,
                   progress: Callback | None = None) -> Inversion | None:
    """:func:`invert` over every item of a :class:`~latentlab.core.data.dataset.Dataset`."""
    return invert(model, data.images, chunk=chunk, should_stop=should_stop, progress=progress)


def _decoded_grid(model: LatentModel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grid codes ``[M, D]``, their flattened decodings ``[M, P]`` and squared norms ``[M]``."""
    codes = grid_codes(model.config.latent_dim).to(model.device)
    with torch.no_grad():
        images = torch.cat([model.decode_image(part).flatten(1) for part in codes.split(1024)])
    return codes, images, images.pow(2).sum(1)


def _nearest(grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The grid code whose decoding is nearest (squared error) to each row of ``x``."""
    codes, images, norms = grid
    # |x - g|² = |x|² - 2 x·g + |g|²; |x|² is the same for every g of a row.
    scores = norms[None, :] - 2.0 * (x @ images.T)
    return codes[scores.argmin(dim=1)]


def _regressed(model: LatentModel, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.regressor(x.view(-1, *model.config.input_shape))


def _refine(model: LatentModel, x: torch.Tensor, z0: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A few Adam steps on the codes of a chunk; each item's best code and its RMS error."""
    def per_item_error(z: torch.Tensor) -> torch.Tensor:
        return (model.decode_image(z).flatten(1) - x).pow(2).mean(1)

    with torch.no_grad():
        best_err = per_item_error(z0)
    best = z0.clone()
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=REFINE_LR)
    with torch.enable_grad():
        for i in range(steps):
            # Adam's steps are about lr long whatever the gradient: shrink them so the codes
            # settle into the minimum instead of circling it at the grid's spacing.
            opt.param_groups[0]["lr"] = REFINE_LR * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * i / steps)))
            err = per_item_error(z)
            with torch.no_grad():
                better = err < best_err
                best_err = torch.where(better, err, best_err)
                best = torch.where(better[:, None], z, best)
            # Summed over items: each item's gradient is its own, whatever the chunk size.
            objective = err.sum() + PRIOR_PULL * 0.5 * z.pow(2).sum()
            (grad,) = torch.autograd.grad(objective, [z])  # no weight gradients are made
            z.grad = grad
            opt.step()
        with torch.no_grad():
            err = per_item_error(z)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best = torch.where(better[:, None], z, best)
    return best.detach(), best_err.sqrt()


def realness(model: LatentModel, codes: torch.Tensor | np.ndarray, *, chunk: int = 1024) -> np.ndarray:
    """The discriminator's probability of "real" for the decoding of each code ``[K]``.

    For a heat map of where on the plane the generator convinces its critic. Raises
    :class:`LatentLabError` for a model without a discriminator.
    """
    disc = getattr(model, "discriminator", None)
    if disc is None:
        raise LatentLabError(f"a {model.config.family} model has no discriminator to ask")
    from latentlab.core.models.adversarial import to_signed

    z = codes if isinstance(codes, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32))
    z = torch.atleast_2d(z).to(model.device, torch.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = [torch.sigmoid(disc(to_signed(model.decode_image(part)))) for part in z.split(chunk)]
    finally:
        model.train(was_training)
    if not out:
        return np.zeros(0, np.float32)
    return torch.cat(out).to("cpu", torch.float32).numpy()
