"""Model families behind one interface (``base.py``), declared in a registry (``registry.py``).

:func:`build_model` makes a model of any registered family. Importing this package loads no
torch: the configuration and the registry are torch-free, and the model classes
(``LatentModel``, ``VAE``, …) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from latentlab.core.models import registry
from latentlab.core.models.config import ARCHITECTURES, LIKELIHOODS, ModelConfig
from latentlab.core.models.registry import Capabilities, Family, Option, StepContext, register

if TYPE_CHECKING:
    from latentlab.core.models.autoencoders import CVAE, VAE, Autoencoder
    from latentlab.core.models.base import LatentModel
    from latentlab.core.models.pca_model import PCAModel

# Names served on first use, so that importing the package does not import torch.
_LAZY = {
    "LatentModel": "latentlab.core.models.base",
    "Autoencoder": "latentlab.core.models.autoencoders",
    "VAE": "latentlab.core.models.autoencoders",
    "CVAE": "latentlab.core.models.autoencoders",
    "PCAModel": "latentlab.core.models.pca_model",
}


def build_model(config: ModelConfig) -> LatentModel:
    """A freshly initialised model (CPU, train mode) of ``config.family``.

    A closed-form family's model (PCA) comes back unfitted: call ``model.fit(x)`` first.
    """
    return registry.get(config.family).build(config)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "FAMILIES":  # the registered names, always current
        return registry.names()
    if name == "FAMILY_NAMES":  # name -> human title, for menus and reports
        return {f.name: f.title for f in registry.families()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARCHITECTURES",
    "CVAE",
    "FAMILIES",
    "FAMILY_NAMES",
    "LIKELIHOODS",
    "VAE",
    "Autoencoder",
    "Capabilities",
    "Family",
    "LatentModel",
    "ModelConfig",
    "Option",
    "PCAModel",
    "StepContext",
    "build_model",
    "register",
    "registry",
]
