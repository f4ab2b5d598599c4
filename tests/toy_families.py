"""A throwaway model family for tests: proves the engine runs a family it has never heard of.

``toy-split`` is a tiny autoencoder whose encoder and decoder are stepped by two optimisers
with their own learning rates (``encoder`` and ``decoder``), that reports a term no built-in
family has (``code_norm``, the mean squared length of the codes), has an option of its own
(``code_weight``, the penalty on ``code_norm``) and a schedule (the penalty ramps up over the
first two epochs, recorded as ``code_weight`` in the history).

Use :func:`toy_family_registered` (a context manager) or :func:`register_toy` /
:func:`unregister_toy` around a test; GUI tests can import it the same way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from latentlab.core.models import registry
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.likelihood import reconstruction_nll
from latentlab.core.models.registry import Capabilities, Family, Option, StepContext, minimise
from latentlab.core.training_types import TrainConfig

NAME = "toy-split"
TERMS = ("loss", "recon", "code_norm")


class SplitCoder(LatentModel):
    """Flatten → tanh layer → code; code → tanh layer → one logit per pixel."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        pixels, width = math.prod(config.input_shape), config.hidden[0]
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, width), nn.Tanh(),
                                     nn.Linear(width, config.latent_dim))
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, width), nn.Tanh(), nn.Linear(width, pixels))

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        return self.encoder(x), None

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.config.input_shape)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, kl_weight: float | None = None,
             code_weight: float | None = None) -> dict[str, torch.Tensor]:
        z = self.encoder(x)
        recon = reconstruction_nll(self.decode(z), x, self.config.likelihood)
        code_norm = z.pow(2).sum(1).mean()
        weight = self.config.options["code_weight"] if code_weight is None else code_weight
        return {"loss": recon + weight * code_norm, "recon": recon, "code_norm": code_norm}


def optimizers(model: SplitCoder, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    return {"encoder": torch.optim.Adam(model.encoder.parameters(), lr=config.lr_for("encoder")),
            "decoder": torch.optim.Adam(model.decoder.parameters(), lr=config.lr_for("decoder"))}


def code_weight(model: SplitCoder, ctx: StepContext) -> float:
    """The penalty weight: the option's value, ramped up over the first two epochs."""
    return model.config.options["code_weight"] * min(1.0, ctx.epochs_done / 2)


def step(model: SplitCoder, x: torch.Tensor, y: torch.Tensor | None,
         optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    out = model.loss(x, y, code_weight=code_weight(model, ctx))
    minimise(out["loss"], optimizers["encoder"], optimizers["decoder"])
    return out


TOY_FAMILY = Family(
    name=NAME,
    title="Split toy",
    description="Test-only autoencoder whose encoder and decoder have optimisers of their own.",
    capabilities=Capabilities(encoder=True),
    build=SplitCoder,
    defaults={"hidden": {"mlp": (24,)}},
    archs=("mlp",),
    options=(Option("code_weight", 0.1, "penalty on the squared code length", minimum=0.0),),
    terms=TERMS,
    optimizer_names=("encoder", "decoder"),
    optimizers=optimizers,
    train_step=step,
    schedule=lambda model, ctx: {"code_weight": code_weight(model, ctx)},
)


def register_toy() -> Family:
    return registry.register(TOY_FAMILY, replace=True)


def unregister_toy() -> None:
    registry.unregister(NAME)


@contextmanager
def toy_family_registered() -> Iterator[Family]:
    """The toy family is registered inside the block and removed afterwards."""
    register_toy()
    try:
        yield TOY_FAMILY
    finally:
        unregister_toy()
