"""Model families behind one interface (see ``base.py``)."""

from latentlab.core.models.base import LatentModel, ModelConfig

__all__ = ["LatentModel", "ModelConfig"]
