"""The sequence VAE family: a VAE over fixed-length sequences with an MLP or 1-D conv network.

Fast to train and the default for pen strokes: positions are Gaussian, a ``pen`` feature is
Bernoulli (see ``sequence_models.py``). The KL weight is ``beta``, ramped up over
``kl_warmup_epochs`` like the image VAEs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option
from latentlab.core.models.vae import kl_schedule, kl_weighted_step

if TYPE_CHECKING:
    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.sequence_models import SequenceAutoencoder

SIGMA = Option("sigma", 0.1, help="standard deviation of the Gaussian features, in their units",
               minimum=1e-4, maximum=100.0)


def build(config: ModelConfig) -> SequenceAutoencoder:
    from latentlab.core.models.sequence_models import SequenceAutoencoder

    return SequenceAutoencoder(config, variational=True)


FAMILY = Family(
    name="seq-vae",
    title="Sequence VAE",
    description="VAE over fixed-length sequences (pen strokes, signals) with an MLP or 1-D conv network.",
    capabilities=Capabilities(encoder=True, variational=True, output="sequence"),
    build=build,
    defaults={"hidden": {"mlp": (256, 128), "conv": (32, 64)}},
    settings=("arch", "hidden", "beta", "kl_warmup_epochs"),
    options=(SIGMA,),
    archs=("mlp", "conv"),
    train_step=kl_weighted_step,
    schedule=kl_schedule,
)
