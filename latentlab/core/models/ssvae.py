"""The semi-supervised VAE family (M2): learns to classify from a few labels and many images.

Train it with only some labels kept (``latentlab train --family ssvae --labels 100``, i.e.
``TrainConfig.labelled``): the trainer hands the family's step the other training images with
the label -1, and this family's loss sums over the classes for them (see ``ssvae_model.py``).
Validation reports ``accuracy`` of the classifier besides the loss terms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family, Option
from latentlab.core.models.vae import VAE_SETTINGS, kl_schedule, kl_weighted_step

if TYPE_CHECKING:
    import torch

    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.ssvae_model import SSVAE

TERMS = ("loss", "recon", "kl", "classify", "consistency")


def build(config: ModelConfig) -> SSVAE:
    from latentlab.core.models.ssvae_model import SSVAE

    return SSVAE(config)


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
             Option("consistency", 30.0, help="weight of the consistency term on unlabelled images (0: off)",
                    minimum=0.0, absent=0.0),
             Option("vat", 2.0, help="radius of the virtual adversarial perturbation of the consistency term "
                    "(0: confident guesses under jitter instead)", minimum=0.0),
             Option("jitter", 2.0, help="largest shift in pixels of the random affine jitter (with vat 0)",
                    minimum=0.0),
             Option("confidence", 0.7, help="least confidence of a guess the jitter consistency trains on "
                    "(with vat 0)", minimum=0.0, maximum=1.0)),
    terms=TERMS,
    train_step=kl_weighted_step,
    validate=validate,
    schedule=kl_schedule,
)
