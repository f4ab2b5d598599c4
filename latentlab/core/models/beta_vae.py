"""The β-VAE family: a VAE whose KL term is weighted by ``beta`` (default 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentlab.core.models.denoise import DENOISE_OPTION
from latentlab.core.models.registry import Capabilities, Family
from latentlab.core.models.vae import VAE_SETTINGS, kl_schedule, kl_weighted_step

if TYPE_CHECKING:
    from latentlab.core.models.autoencoders import VAE
    from latentlab.core.models.config import ModelConfig


def build(config: ModelConfig) -> VAE:
    from latentlab.core.models.autoencoders import VAE

    return VAE(config)  # the same network as the VAE; only the KL weight differs


FAMILY = Family(
    name="beta-vae",
    title="β-VAE",
    description="VAE with the KL term weighted by beta; above 1 trades detail for a tidier latent space.",
    capabilities=Capabilities(encoder=True, variational=True),
    build=build,
    defaults={"beta": 4.0},
    settings=(*VAE_SETTINGS, "beta"),
    options=(DENOISE_OPTION,),
    train_step=kl_weighted_step,
    schedule=kl_schedule,
)
