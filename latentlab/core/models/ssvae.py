"""The semi-supervised VAE family (M2): learns to classify from a few labels and many images.

Train it with only some labels kept (``latentlab train --family ssvae --labels 100``, i.e.
``TrainConfig.labelled``): the trainer hands the family's step the other training images with
the label -1, and this family's loss sums over the classes for them (see ``ssvae_model.py``).
Validation reports ``accuracy`` of the classifier besides the loss terms.

The family's step is the VAEs' KL-weighted step with two schedules of its own, both recorded
in the history: ``unlabelled_scale`` ramps the consistency and entropy terms up over the first
``ramp_epochs`` (off by default), and ``lr_factor`` lets the learning rate fall linearly to 0
over the last ``lr_decay`` of the run (default 0.3). Both follow from the step's place in the
run alone, so a resumed run goes on exactly where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option, StepContext
from latentlab.core.models.vae import VAE_SETTINGS, kl_weight, kl_weighted_step

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.ssvae_model import SSVAE

TERMS = ("loss", "recon", "kl", "classify", "consistency")


def build(config: ModelConfig) -> SSVAE:
    from latentlab.core.models.ssvae_model import SSVAE

    return SSVAE(config)


def unlabelled_scale(model: SSVAE, ctx: StepContext) -> float:
    """The factor on the consistency and entropy terms at ``ctx``: 0 to 1 over the first ``ramp_epochs``."""
    ramp = float(model.config.options.get("ramp_epochs", 0.0))
    return 1.0 if ramp <= 0 else min(1.0, ctx.epochs_done / ramp)


def lr_factor(model: SSVAE, ctx: StepContext) -> float:
    """The learning-rate factor at ``ctx``: 1, then linearly down to 0 over the last ``lr_decay`` of the run."""
    decay = float(model.config.options.get("lr_decay", 0.0))
    if decay <= 0:
        return 1.0
    left = 1.0 - ctx.epochs_done / ctx.epochs
    return min(1.0, max(left, 0.0) / decay)


def schedule(model: SSVAE, ctx: StepContext) -> dict[str, float]:
    return {"kl_weight": kl_weight(model, ctx), "unlabelled_scale": unlabelled_scale(model, ctx),
            "lr_factor": lr_factor(model, ctx)}


def train_step(model: SSVAE, x: torch.Tensor, y: torch.Tensor | None,
               optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    """The KL-weighted step with the consistency ramp and the learning-rate decay applied."""
    model.unlabelled_scale = unlabelled_scale(model, ctx)
    factor = lr_factor(model, ctx)
    for opt in optimizers.values():
        for group in opt.param_groups:
            group["lr"] = group.setdefault("base_lr", group["lr"]) * factor
    return kl_weighted_step(model, x, y, optimizers, ctx)


def validate(model: SSVAE, images: torch.Tensor, labels: torch.Tensor | None, *,
             batch_size: int = 1000) -> dict[str, float]:
    """The loss terms on fully labelled data, and the classifier's ``accuracy``."""
    from latentlab.core.metrics import accuracy, loss_terms

    terms = loss_terms(model, images, labels, batch_size=batch_size)
    if labels is not None:
        terms["accuracy"] = accuracy(model, images, labels, batch_size=batch_size)
    return terms


FAMILY = Family(
    name="ssvae",
    title="Semi-supervised VAE",
    description="Classifier inside a conditional VAE (M2): learns classes from a few labels and many images.",
    capabilities=Capabilities(encoder=True, variational=True, conditional=True, classifies=True),
    build=build,
    settings=(*VAE_SETTINGS, "beta"),
    defaults={"beta": 5.0},
    options=(Option("alpha", 30.0, help="weight of the classification loss on labelled images",
                    minimum=0.0),
             # ``absent``: what a model file saved before the option existed was trained with
             # (no dropout, the classifier built as the encoder, no consistency term).
             Option("dropout", 0.5, help="dropout before the classifier's read-out", minimum=0.0, maximum=0.9,
                    absent=0.0),
             Option("classifier", "conv", choices=("arch", "mlp", "conv"),
                    help="the classifier's network: a small conv net, an MLP, or as the encoder's architecture",
                    absent="arch"),
             Option("consistency", 20.0, help="weight of the consistency term on unlabelled images (0: off)",
                    minimum=0.0, absent=0.0),
             Option("vat", 2.0, help="radius of the virtual adversarial perturbation of the consistency term "
                    "(0: confident guesses under jitter instead)", minimum=0.0),
             Option("jitter", 2.0, help="largest shift in pixels of the random affine jitter (with vat 0)",
                    minimum=0.0),
             Option("confidence", 0.7, help="least confidence of a guess the jitter consistency trains on "
                    "(with vat 0)", minimum=0.0, maximum=1.0),
             Option("entropy", 0.0, help="weight of the entropy of the classifier's guesses on unlabelled images",
                    minimum=0.0),
             Option("ramp_epochs", 0.0, help="epochs over which the consistency and entropy terms ramp up from 0",
                    minimum=0.0),
             Option("lr_decay", 0.3, help="fraction of training at the end over which the learning rate "
                    "falls linearly to 0", minimum=0.0, maximum=1.0, absent=0.0)),
    terms=TERMS,
    train_step=train_step,
    validate=validate,
    schedule=schedule,
)
