"""The VAE-GAN family (Larsen et al. 2016): a VAE whose decoder also learns to fool a discriminator.

The model, its step and why it trains with two optimisers are in ``vae_gan_model.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option, StepContext
from latentlab.core.models.vae import VAE_SETTINGS

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.vae_gan_model import VAEGAN
    from latentlab.core.training_types import TrainConfig


def build(config: ModelConfig) -> VAEGAN:
    from latentlab.core.models.vae_gan_model import VAEGAN

    return VAEGAN(config)


def optimizers(model: VAEGAN, train_config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    from latentlab.core.models.vae_gan_model import optimizers as make

    return make(model, train_config)


def train_step(model: VAEGAN, x: torch.Tensor, y: torch.Tensor | None,
               optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    from latentlab.core.models.vae_gan_model import train_step as step

    return step(model, x, y, optimizers, ctx)


def schedule(model: VAEGAN, ctx: StepContext) -> dict[str, float]:
    from latentlab.core.models.vae_gan_model import schedule as values

    return values(model, ctx)


FAMILY = Family(
    name="vae-gan",
    title="VAE-GAN",
    description="VAE whose decoder is also trained against a discriminator, for sharper samples "
                "(Larsen et al. 2016).",
    capabilities=Capabilities(encoder=True, variational=True, adversarial=True),
    build=build,
    settings=VAE_SETTINGS,
    options=(
        Option("adv_weight", 5.0, "final weight of the adversarial term (the reconstruction term "
               "is summed over pixels, so small numbers are small)", minimum=0.0),
        Option("adv_warmup_epochs", 2, "epochs of plain VAE training before the adversarial term",
               minimum=0),
        Option("adv_ramp_epochs", 3, "epochs over which its weight then ramps up to adv_weight", minimum=0),
        Option("margin_gating", False, "Larsen's equilibrium rule: pause whichever player is far ahead"),
        Option("margin", 0.35, "distance from the equilibrium (0.68) that gating allows",
               minimum=0.0, maximum=0.68),
        Option("spectral_norm", False, "spectral normalisation of every discriminator layer"),
    ),
    terms=("loss", "recon", "kl", "d_loss", "g_loss", "d_real", "d_fake"),
    optimizer_names=("vae", "discriminator"),
    optimizers=optimizers,
    train_step=train_step,
    schedule=schedule,
    # Its discriminator's passes make it nearly all matrix products too: 1.4x the float32 speed
    # on a CPU with native bfloat16, sample FD and reconstruction the same (benchmarks/).
    cpu_bfloat16=True,
)
