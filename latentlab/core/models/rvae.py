"""The recurrent VAE family: a bidirectional GRU encoder and a GRU decoder driven by the code.

The encoder reads the sequence through a 1-D convolution over ``front`` steps (5 unless the
option says otherwise; 0 for none, as in models saved before the option) before its GRU.
Recurrent decoders are known to ignore the code ("posterior collapse"): this one sees the
code at every step and starts from a state made from it, the KL weight ramps up from 0 over
``kl_warmup_epochs`` (the family's default is 2), and ``free_bits`` floors each latent
dimension's KL inside the loss. Gradients are clipped to ``clip`` (global norm), as recurrent
networks need. ``latentlab evaluate`` reports the active units and names a collapsed posterior.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option, StepContext
from latentlab.core.models.seq_vae import SIGMA
from latentlab.core.models.vae import kl_schedule, kl_weight

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.sequence_models import SequenceAutoencoder

FREE_BITS = Option("free_bits", 0.1, help="nats of KL per latent dimension the loss does not penalise",
                   minimum=0.0, maximum=10.0)
CLIP = Option("clip", 1.0, help="largest gradient norm (global); 0 turns clipping off", minimum=0.0)
# Models saved before the front end existed have none: their files say nothing of it.
FRONT = Option("front", 5, help="steps of the encoder's 1-D conv front end before its GRU; 0 for none",
               minimum=0, maximum=31, absent=0)


def build(config: ModelConfig) -> SequenceAutoencoder:
    from latentlab.core.models.sequence_models import SequenceAutoencoder

    return SequenceAutoencoder(config, variational=True, free_bits=config.options["free_bits"])


def clipped_step(model: SequenceAutoencoder, x: torch.Tensor, y: torch.Tensor | None,
                 optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    """One step on the KL-warmed, free-bits loss with the gradient norm clipped."""
    import torch

    out = model.loss(x, None, kl_weight(model, ctx))
    for opt in optimizers.values():
        opt.zero_grad(set_to_none=True)
    out["loss"].backward()
    limit = float(model.config.options.get("clip", 0.0))
    if limit > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), limit)
    for opt in optimizers.values():
        opt.step()
    return out


FAMILY = Family(
    name="rvae",
    title="Recurrent VAE",
    description="Sequence VAE with a bidirectional GRU encoder and a GRU decoder fed the code at every step.",
    capabilities=Capabilities(encoder=True, variational=True, output="sequence"),
    build=build,
    defaults={"hidden": {"gru": (128,)}, "kl_warmup_epochs": 2},
    settings=("hidden", "beta", "kl_warmup_epochs"),
    options=(SIGMA, FREE_BITS, CLIP, FRONT),
    archs=("gru",),
    train_step=clipped_step,
    schedule=kl_schedule,
)
