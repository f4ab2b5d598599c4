"""The conditional VAE family: encoder and decoder both see the class label."""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentlab.core.models.denoise import DENOISE_OPTION
from latentlab.core.models.registry import Capabilities, Family
from latentlab.core.models.vae import VAE_SETTINGS, kl_schedule, kl_weighted_step

if TYPE_CHECKING:
    from latentlab.core.models.autoencoders import CVAE
    from latentlab.core.models.config import ModelConfig


def build(config: ModelConfig) -> CVAE:
    from latentlab.core.models.autoencoders import CVAE

    return CVAE(config)


FAMILY = Family(
    name="cvae",
    title="Conditional VAE",
    description="VAE conditioned on the class label: the same code decodes to any class.",
    capabilities=Capabilities(encoder=True, variational=True, conditional=True),
    build=build,
    settings=(*VAE_SETTINGS, "beta"),
    options=(DENOISE_OPTION,),
    train_step=kl_weighted_step,
    schedule=kl_schedule,
)
