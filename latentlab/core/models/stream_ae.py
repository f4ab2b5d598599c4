"""The stream autoencoder family: an autoencoder over sliding windows of one long series.

Trained on windows of a series (a ``.csv`` cut with ``--window`` and ``--stride``), it
scores each window of a new series by how badly it reconstructs it (``latentlab score``): a
window unlike the normal stream (a spike, a level shift, a frozen sensor) reconstructs
poorly. 1-D convolutional or recurrent (GRU); deterministic, or variational with the
``variational`` option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option, StepContext, reconstruction_step
from latentlab.core.models.seq_vae import SIGMA
from latentlab.core.models.vae import kl_weighted_step

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.sequence_models import SequenceAutoencoder

VARIATIONAL = Option("variational", False, help="a Gaussian posterior and a KL term instead of a plain code")


def build(config: ModelConfig) -> SequenceAutoencoder:
    from latentlab.core.models.sequence_models import SequenceAutoencoder

    return SequenceAutoencoder(config, variational=bool(config.options["variational"]))


def step(model: SequenceAutoencoder, x: torch.Tensor, y: torch.Tensor | None,
         optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    """The VAE's KL-weighted step when variational, plain reconstruction otherwise."""
    if model.variational:
        return kl_weighted_step(model, x, None, optimizers, ctx)
    return reconstruction_step(model, x, None, optimizers, ctx)


FAMILY = Family(
    name="stream-ae",
    title="Stream autoencoder",
    description="Autoencoder over sliding windows of one long series; scores windows by reconstruction error.",
    capabilities=Capabilities(encoder=True, output="sequence"),
    build=build,
    defaults={"hidden": {"conv": (32, 64), "gru": (64,)}},
    settings=("arch", "hidden", "beta"),
    options=(SIGMA, VARIATIONAL),
    archs=("conv", "gru"),
    train_step=step,
)
