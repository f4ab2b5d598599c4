"""The PCA family: the linear baseline, fitted in closed form (see ``pca_model.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentlab.core.models.registry import Capabilities, Family

if TYPE_CHECKING:
    from latentlab.core.models.config import ModelConfig
    from latentlab.core.models.pca_model import PCAModel


def build(config: ModelConfig) -> PCAModel:
    from latentlab.core.models.pca_model import PCAModel

    return PCAModel(config)


FAMILY = Family(
    name="pca",
    title="PCA baseline",
    description="Principal component analysis: the linear baseline, fitted by SVD instead of trained.",
    capabilities=Capabilities(encoder=True, trainable=False),
    build=build,
    settings=("likelihood",),  # only to score reconstructions on the same scale as the VAEs
)
