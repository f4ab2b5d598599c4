"""The variational autoencoder family, and the KL-weighted step the VAE families share.

The KL weight of a step is the model's base weight (1 for a plain VAE, ``beta`` for the
β-VAE and the CVAE) ramped linearly from 0 over the first ``kl_warmup_epochs`` epochs; it is
recorded in the history as ``kl_weight``. Validation always uses the base weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from latentlab.core.models.denoise import DENOISE_OPTION, training_input
from latentlab.core.models.registry import Capabilities, Family, StepContext, minimise

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.autoencoders import VAE
    from latentlab.core.models.config import ModelConfig

#: The settings the VAE families read.
VAE_SETTINGS = ("arch", "hidden", "likelihood", "kl_warmup_epochs")


def kl_weight(model: VAE, ctx: StepContext) -> float:
    """The KL weight at ``ctx``: the model's base weight, ramped up over the warm-up epochs."""
    base = model.default_kl_weight()
    warmup = model.config.kl_warmup_epochs
    if warmup <= 0:
        return base
    return base * min(1.0, ctx.epochs_done / warmup)


def kl_schedule(model: VAE, ctx: StepContext) -> dict[str, float]:
    return {"kl_weight": kl_weight(model, ctx)}


def kl_weighted_step(model: VAE, x: torch.Tensor, y: torch.Tensor | None,
                     optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    """One step on ``recon + kl_weight * kl`` with the scheduled weight (inputs corrupted for a denoiser)."""
    weight = kl_weight(model, ctx)
    noisy = training_input(model.config, x)
    out = model.loss(x, y, weight) if noisy is x else model.loss(noisy, y, weight, target=x)
    minimise(out["loss"], *optimizers.values())
    return out


def build(config: ModelConfig) -> VAE:
    from latentlab.core.models.autoencoders import VAE

    return VAE(config, kl_weighted_by_beta=False)


FAMILY = Family(
    name="vae",
    title="VAE",
    description="Variational autoencoder: a Gaussian posterior per image, trained on the ELBO.",
    capabilities=Capabilities(encoder=True, variational=True),
    build=build,
    settings=VAE_SETTINGS,
    options=(DENOISE_OPTION,),
    train_step=kl_weighted_step,
    schedule=kl_schedule,
)
