"""Model families behind one interface (see ``base.py``); :func:`build_model` makes one."""

from __future__ import annotations

from latentlab.core.models.autoencoders import CVAE, VAE, Autoencoder
from latentlab.core.models.base import ARCHITECTURES, FAMILIES, LIKELIHOODS, LatentModel, ModelConfig
from latentlab.core.models.pca import PCAModel

#: Human names of the families, for menus and reports.
FAMILY_NAMES: dict[str, str] = {
    "ae": "Autoencoder",
    "vae": "VAE",
    "beta-vae": "β-VAE",
    "cvae": "Conditional VAE",
    "pca": "PCA baseline",
}

_CLASSES: dict[str, type[LatentModel]] = {
    "ae": Autoencoder,
    "vae": VAE,
    "beta-vae": VAE,  # the same network; only the KL weight (config.beta) differs
    "cvae": CVAE,
    "pca": PCAModel,
}


def build_model(config: ModelConfig) -> LatentModel:
    """A freshly initialised model (CPU, train mode) of ``config.family``.

    PCA comes back unfitted: call ``model.fit(images)`` before encoding.
    """
    return _CLASSES[config.family](config)


__all__ = [
    "ARCHITECTURES",
    "CVAE",
    "FAMILIES",
    "FAMILY_NAMES",
    "LIKELIHOODS",
    "VAE",
    "Autoencoder",
    "LatentModel",
    "ModelConfig",
    "PCAModel",
    "build_model",
]
