"""The GAN family: a generator trained against a discriminator, with no encoder.

The model and its training step are in ``gan_model.py`` (torch is imported only when a model
is built or trained). Its codes for data come from :mod:`latentlab.core.inversion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option, StepContext

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.gan_model import GAN
    from latentlab.core.training_types import TrainConfig

TERMS = ("d_loss", "g_loss", "d_real", "d_fake")
OPTIMIZERS = ("generator", "discriminator")


def build(config: ModelConfig) -> GAN:
    from latentlab.core.models.gan_model import GAN

    return GAN(config)


def optimizers(model: GAN, train_config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    from latentlab.core.models.gan_model import optimizers as make

    return make(model, train_config)


def train_step(model: GAN, x: torch.Tensor, y: torch.Tensor | None,
               optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    from latentlab.core.models.gan_model import train_step as step

    return step(model, x, y, optimizers, ctx)


FAMILY = Family(
    name="gan",
    title="GAN",
    description="Generative adversarial network: a generator trained against a discriminator; "
                "data are placed on the plane by inverting the generator.",
    capabilities=Capabilities(encoder=False, adversarial=True),
    build=build,
    defaults={"hidden": {"mlp": (512, 256), "conv": (64, 128)}},
    settings=("arch", "hidden"),
    options=(
        Option("spectral_norm", False, "spectral normalisation of every discriminator layer"),
        Option("ema", True, "decode and sample with a moving average of the generator's weights"),
        Option("ema_decay", 0.999, "decay of that moving average per step", minimum=0.0, maximum=0.99999),
    ),
    terms=TERMS,
    optimizer_names=OPTIMIZERS,
    optimizers=optimizers,
    train_step=train_step,
    # Batch-64 steps of three passes are nearly all matrix products, which native bfloat16
    # halves: 1.7x the float32 speed on such a CPU, sample quality the same (benchmarks/).
    cpu_bfloat16=True,
)
