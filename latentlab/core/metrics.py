"""How good is a model: -ELBO and its terms, KL per latent dimension, factor recovery.

Everything runs under ``torch.inference_mode`` in eval mode, batch by batch, and restores
the model's mode afterwards. Sampling (the one-sample ELBO estimate) uses a fixed seed on a
forked random state, so evaluating twice gives the same numbers and the caller's random
stream (e.g. a training run's) is left where it was.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from latentlab.core.data.dataset import Dataset
from latentlab.core.device import resolve_device
from latentlab.core.errors import LatentLabError

#: A latent dimension counts as active when its mean KL exceeds this many nats.
ACTIVE_UNIT_THRESHOLD = 0.01

_TERMS = ("loss", "recon", "kl")


@contextmanager
def _evaluating(model: nn.Module, device: torch.device, seed: int) -> Iterator[None]:
    """Eval mode, inference mode and a seeded, forked random state for the block."""
    was_training = model.training
    devices = [device.index or 0] if device.type == "cuda" else []
    model.eval()
    try:
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(seed)
            yield
    finally:
        model.train(was_training)


def _batches(n: int, batch_size: int) -> Iterator[slice]:
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def loss_terms(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    batch_size: int = 1000,
    kl_weight: float | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Mean loss terms of ``model.loss`` over ``images`` (nats per example).

    ``images`` and ``labels`` must already be on the model's device. Returns ``loss``
    (with ``kl_weight``), ``recon``, ``kl`` and ``neg_elbo = recon + kl``; values are
    ``nan`` for an empty set.
    """
    n = int(images.shape[0])
    if batch_size < 1:
        raise LatentLabError(f"batch size must be at least 1, got {batch_size}")
    if n == 0:
        return {k: math.nan for k in (*_TERMS, "neg_elbo")}
    total = torch.zeros(len(_TERMS), dtype=torch.float64, device=images.device)
    with _evaluating(model, images.device, seed):
        for part in _batches(n, batch_size):
            y = None if labels is None else labels[part]
            out = model.loss(images[part], y, kl_weight)
            terms = torch.stack([torch.as_tensor(out[k], device=images.device) for k in _TERMS])
            total += terms.to(torch.float64) * (part.stop - part.start)
    loss, recon, kl = (total / n).tolist()
    return {"loss": loss, "recon": recon, "kl": kl, "neg_elbo": recon + kl}


def evaluate(
    model: nn.Module, data: Dataset, *, batch_size: int = 1000, device: str = "cpu"
) -> dict[str, Any]:
    """Score ``model`` on every item of ``data``.

    Returns
    -------
    dict
        ``neg_elbo`` (recon + KL, nats per example; reconstruction only for AE and PCA),
        ``recon``, ``kl``, ``kl_per_dim`` (list, one mean KL per latent dimension),
        ``active_units`` (dimensions with KL above :data:`ACTIVE_UNIT_THRESHOLD`), ``n``,
        and, when the data has known factors, ``factor_r2``: for each factor the R² of a
        least-squares linear fit (with intercept) from the latent means to that factor
        (``None`` for a factor that never varies).
    """
    config = getattr(model, "config", None)
    if config is not None and tuple(config.input_shape) != data.shape:
        raise LatentLabError(
            f"the model expects images of shape {tuple(config.input_shape)}, "
            f"but data set '{data.name}' has {data.shape}"
        )
    conditional = bool(config is not None and config.is_conditional)
    if conditional and data.labels is None:
        raise LatentLabError(f"a conditional VAE needs class labels; data set '{data.name}' has none")
    dev = resolve_device(device)
    home = _device_of(model)
    model.to(dev)
    try:
        images = data.images.to(dev)
        labels = data.labels.to(dev) if (conditional and data.labels is not None) else None
        result: dict[str, Any] = loss_terms(model, images, labels, batch_size=batch_size)
        del result["loss"]  # the training objective; neg_elbo is the comparable number
        result["neg_elbo"] = result["recon"] + result["kl"]
        per_dim, means = _latent_statistics(model, images, labels, batch_size, data.factors is not None)
        result["kl_per_dim"] = per_dim.tolist()
        result["active_units"] = int((per_dim > ACTIVE_UNIT_THRESHOLD).sum())
        result["n"] = len(data)
        if data.factors is not None and means is not None:
            r2 = factor_r2(means, data.factors)
            result["factor_r2"] = dict(zip(_factor_names(data), r2))
    finally:
        model.to(home)
    return result


def _device_of(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def _factor_names(data: Dataset) -> list[str]:
    width = int(data.factors.shape[1]) if data.factors is not None else 0
    names = list(data.factor_names)
    return names + [f"factor {i}" for i in range(len(names), width)]


def _latent_statistics(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None,
    batch_size: int,
    want_means: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Mean KL per dimension ``[D]`` (CPU, float64) and, if asked, latent means ``[N, D]``."""
    n = int(images.shape[0])
    per_dim_sum: torch.Tensor | None = None
    means: list[torch.Tensor] = []
    with _evaluating(model, images.device, seed=0):
        for part in _batches(n, batch_size):
            x = images[part]
            y = None if labels is None else labels[part]
            kl = model.kl_per_dim(x, y).to("cpu", torch.float64) * (part.stop - part.start)
            per_dim_sum = kl if per_dim_sum is None else per_dim_sum + kl
            if want_means:
                mu, _ = model.encode(x, y)
                means.append(mu.to("cpu", torch.float64))
    if per_dim_sum is None:
        latent = int(getattr(getattr(model, "config", None), "latent_dim", 0))
        return torch.zeros(latent, dtype=torch.float64), None
    return per_dim_sum / n, (torch.cat(means) if means else None)


def factor_r2(latents: torch.Tensor, factors: torch.Tensor) -> list[float | None]:
    """R² of the least-squares linear fit (with intercept) of each factor from the latents.

    Parameters
    ----------
    latents:
        ``[N, D]`` latent codes (e.g. posterior means).
    factors:
        ``[N, F]`` known generative factors.

    Returns
    -------
    list
        One R² per factor: 1 means the factor is a linear function of the latents, 0 that
        the fit is no better than the factor's mean. ``None`` for a constant factor.
    """
    if latents.ndim != 2 or factors.ndim != 2 or latents.shape[0] != factors.shape[0]:
        raise ValueError("latents must be [N, D] and factors [N, F] with the same N")
    z = latents.detach().to("cpu", torch.float64)
    f = factors.detach().to("cpu", torch.float64)
    # Centring both sides is the intercept: the fitted constant is the factor's mean.
    zc = z - z.mean(dim=0)
    fc = f - f.mean(dim=0)
    coef = torch.linalg.lstsq(zc, fc, driver="gelsd").solution
    residual = (fc - zc @ coef).pow(2).sum(dim=0)
    total = fc.pow(2).sum(dim=0)
    out: list[float | None] = []
    for res, tot in zip(residual.tolist(), total.tolist()):
        if tot <= 1e-12 * max(1, z.shape[0]):
            out.append(None)
        else:
            out.append(float(min(1.0, max(0.0, 1.0 - res / tot))))
    return out
