"""The autoencoder family: a deterministic code, trained on reconstruction alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentlab.core.models.denoise import DENOISE_OPTION, denoising_step
from latentlab.core.models.registry import Capabilities, Family

if TYPE_CHECKING:
    from latentlab.core.models.base import LatentModel
    from latentlab.core.models.config import ModelConfig


def build(config: ModelConfig) -> LatentModel:
    from latentlab.core.models.autoencoders import Autoencoder

    return Autoencoder(config)


FAMILY = Family(
    name="ae",
    title="Autoencoder",
    description="Deterministic autoencoder: one code per image, trained on reconstruction only.",
    capabilities=Capabilities(encoder=True),
    build=build,
    options=(DENOISE_OPTION,),
    train_step=denoising_step,
)
