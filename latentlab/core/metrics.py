"""How good is a model: its family's loss terms (and −ELBO), KL per latent dimension, factor recovery,
and a classifying model's accuracy.

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
from latentlab.core.models import registry
from latentlab.core.models.registry import DEFAULT_TERMS, Capabilities

#: A latent dimension counts as active when its mean KL exceeds this many nats.
ACTIVE_UNIT_THRESHOLD = 0.01


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
    terms: tuple[str, ...] | None = None,
) -> dict[str, float]:
    """Mean terms of ``model.loss`` over ``images`` (nats per example for the autoencoders).

    ``images`` and ``labels`` must already be on the model's device. ``terms`` are the names
    to average (default: the terms of the model's family); ``kl_weight`` is handed to
    ``model.loss``. A variational family's result adds ``neg_elbo = recon + kl``. Values are
    ``nan`` for an empty set.
    """
    names, caps = _family_terms(model)
    names = tuple(terms) if terms is not None else names
    elbo = caps.variational and "recon" in names and "kl" in names
    n = int(images.shape[0])
    if batch_size < 1:
        raise LatentLabError(f"batch size must be at least 1, got {batch_size}")
    if n == 0:
        return {k: math.nan for k in (*names, *(("neg_elbo",) if elbo else ()))}
    total = torch.zeros(len(names), dtype=torch.float64, device=images.device)
    with _evaluating(model, images.device, seed):
        for part in _batches(n, batch_size):
            y = None if labels is None else labels[part]
            out = model.loss(images[part], y, kl_weight)
            values = torch.stack([torch.as_tensor(out[k], device=images.device) for k in names])
            total += values.to(torch.float64) * (part.stop - part.start)
    result = dict(zip(names, (total / n).tolist()))
    if elbo:
        result["neg_elbo"] = result["recon"] + result["kl"]
    return result


def validation_terms(family: Any, model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, *,
                     batch_size: int = 1000) -> dict[str, float]:
    """A family's validation terms: its own ``validate``, else :func:`loss_terms` of ``model.loss``."""
    validate = family.validate if family.validate is not None else loss_terms
    return validate(model, images, labels, batch_size=batch_size)


def class_probabilities(model: nn.Module, images: torch.Tensor, *, batch_size: int = 1000) -> torch.Tensor:
    """Class probabilities ``[N, K]`` (float32, CPU) of a classifying model's ``classify(x)``.

    The model stays where it is (``images`` are moved to it); eval mode and inference mode
    are entered here, on the calling thread, and the model's mode is restored.
    """
    classify = getattr(model, "classify", None)
    if classify is None:
        raise LatentLabError("this model does not classify; train a family that does (e.g. ssvae)")
    if batch_size < 1:
        raise LatentLabError(f"batch size must be at least 1, got {batch_size}")
    device = _device_of(model)
    parts = []
    with _evaluating(model, device, seed=0):
        for part in _batches(int(images.shape[0]), batch_size):
            parts.append(classify(images[part].to(device)).to("cpu", torch.float32))
    k = int(getattr(getattr(model, "config", None), "num_classes", 0))
    return torch.cat(parts) if parts else torch.zeros(0, k)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 1000) -> float:
    """Share of ``images`` whose most likely class under ``model.classify`` is their label (nan if none)."""
    if len(labels) != len(images):
        raise LatentLabError(f"accuracy needs one label per image, got {len(labels)} for {len(images)}")
    if len(images) == 0:
        return math.nan
    predicted = class_probabilities(model, images, batch_size=batch_size).argmax(1)
    return float((predicted == labels.to("cpu")).to(torch.float64).mean())


def _family_terms(model: nn.Module) -> tuple[tuple[str, ...], Capabilities]:
    """The terms and capabilities of the model's family (autoencoder defaults without a config)."""
    config = getattr(model, "config", None)
    if config is None:
        return DEFAULT_TERMS, Capabilities()
    family = registry.get(config.family)
    return family.terms, family.capabilities


def evaluate(
    model: nn.Module, data: Dataset, *, batch_size: int = 1000, device: str = "cpu",
    sample_quality: bool = False, samples: int = 1000, noise: str | None = None,
) -> dict[str, Any]:
    """Score ``model`` on every item of ``data``.

    Returns
    -------
    dict
        The validation terms of the model's family (``recon`` and ``kl`` for the autoencoders);
        for a variational family ``neg_elbo`` (recon + KL, nats per example) in place of its
        β- and warm-up-weighted training ``loss``. For a family with an encoder also
        ``kl_per_dim`` (list, one mean KL per latent dimension; zeros without a KL),
        ``active_units`` (dimensions with KL above :data:`ACTIVE_UNIT_THRESHOLD`), for a
        variational model ``posterior`` (:func:`posterior_verdict`: "collapsed: ..." when no
        unit is active) and, when the
        data has known factors, ``factor_r2``: for each factor the R² of a least-squares linear
        fit (with intercept) from the latent means to that factor (``None`` for a factor that
        never varies). Always ``n``.

        With ``sample_quality`` and a model of 28×28 grey images, also ``sample_fd``,
        ``class_coverage`` and ``class_entropy`` of ``samples`` samples against the data (see
        :mod:`latentlab.core.quality`); other shapes leave them out. With ``noise`` (a spec such
        as ``gaussian:0.5``), ``psnr`` and ``psnr_noisy`` of :func:`denoising_psnr`.
    """
    config = getattr(model, "config", None)
    if config is not None and tuple(config.input_shape) != data.shape:
        raise LatentLabError(
            f"the model expects items of shape {tuple(config.input_shape)}, "
            f"but data set '{data.name}' has {data.shape}"
        )
    family = registry.get(config.family) if config is not None else None
    caps = family.capabilities if family is not None else Capabilities()
    if caps.conditional and data.labels is None:
        raise LatentLabError(f"a conditional model needs class labels; data set '{data.name}' has none")
    dev = resolve_device(device)
    home = _device_of(model)
    model.to(dev)
    try:
        images = data.images.to(dev)
        labels = data.labels.to(dev) if (caps.uses_labels and data.labels is not None) else None
        if family is not None:
            result: dict[str, Any] = dict(validation_terms(family, model, images, labels, batch_size=batch_size))
        else:
            result = loss_terms(model, images, labels, batch_size=batch_size)
        if caps.classifies and labels is not None and "accuracy" not in result:
            result["accuracy"] = accuracy(model, images, labels, batch_size=batch_size)
        if "neg_elbo" in result:
            result.pop("loss", None)  # the β- and warm-up-weighted objective; neg_elbo compares
        means = None
        if caps.encoder:
            per_dim, means = _latent_statistics(model, images, labels, batch_size, data.factors is not None)
            result["kl_per_dim"] = per_dim.tolist()
            result["active_units"] = int((per_dim > ACTIVE_UNIT_THRESHOLD).sum())
            if bool(getattr(model, "variational", caps.variational)):
                result["posterior"] = posterior_verdict(per_dim.tolist())
        result["n"] = len(data)
        if data.factors is not None and means is not None:
            result["factor_r2"] = dict(zip(_factor_names(data), factor_r2(means, data.factors)))
        if noise is not None:
            result.update(denoising_psnr(model, images, labels, noise, batch_size=batch_size))
    finally:
        model.to(home)
    if sample_quality and config is not None and len(data) >= 2:
        from latentlab.core import quality

        if quality.measurable(config):
            measured = quality.sample_quality(model, data.images, n=samples)
            result.update({k: measured[k] for k in ("sample_fd", "class_coverage", "class_entropy")})
    return result


def posterior_verdict(kl_per_dim: list[float]) -> str:
    """A sentence on how many latent units carry information, naming a collapsed posterior.

    A unit whose mean KL is at most :data:`ACTIVE_UNIT_THRESHOLD` nats is inactive: its
    posterior equals the prior whatever the input, so the decoder cannot use it. When every
    unit is inactive the posterior has collapsed and the codes say nothing about the data.
    """
    total = len(kl_per_dim)
    active = sum(1 for v in kl_per_dim if v > ACTIVE_UNIT_THRESHOLD)
    if total and active == 0:
        return (f"collapsed: none of the {total} latent units carries information (KL at most "
                f"{ACTIVE_UNIT_THRESHOLD} nats each); the decoder ignores the code")
    if active < total:
        return f"partly collapsed: {total - active} of {total} latent units inactive"
    return f"active: all {total} latent units carry information"


def denoising_psnr(model: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, noise: str, *,
                   batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """How well ``model`` cleans ``images`` corrupted by ``noise`` at its full level (a spec such as
    ``gaussian:0.5``): ``psnr`` of the reconstructions of the noisy images and ``psnr_noisy`` of the
    noisy images themselves, both against the clean images, in dB from the mean squared error
    over every pixel (peak 1). The noise is drawn on the CPU from a generator seeded with
    ``seed``, so two evaluations see the same noise. The model needs an encoder.
    """
    from latentlab.core.models.denoise import corrupt, parse_noise

    spec = parse_noise(noise)
    if spec is None:
        raise LatentLabError("give a noise spec such as gaussian:0.5 to measure denoising")
    config = getattr(model, "config", None)
    if config is not None and not registry.get(config.family).capabilities.encoder:
        raise LatentLabError(f"the {config.family} family has no encoder, so it cannot denoise images")
    n = int(images.shape[0])
    if n == 0:
        return {"psnr": math.nan, "psnr_noisy": math.nan}
    gen = torch.Generator().manual_seed(seed)
    sq_clean = torch.zeros((), dtype=torch.float64)
    sq_noisy = torch.zeros((), dtype=torch.float64)
    with _evaluating(model, images.device, seed):
        for part in _batches(n, batch_size):
            clean = images[part]
            noisy = corrupt(clean.to("cpu"), spec, fixed=True, generator=gen).to(images.device)
            y = None if labels is None else labels[part]
            out = model.reconstruct(noisy, y)
            sq_clean += (out - clean).double().pow(2).sum().cpu()
            sq_noisy += (noisy - clean).double().pow(2).sum().cpu()
    pixels = images[0].numel() * n
    return {"psnr": _psnr(float(sq_clean) / pixels), "psnr_noisy": _psnr(float(sq_noisy) / pixels)}


def _psnr(mse: float) -> float:
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))


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
