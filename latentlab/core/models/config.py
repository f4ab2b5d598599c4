"""The frozen configuration of a model, checked against its family in the registry (no torch here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from latentlab.core.errors import LatentLabError
from latentlab.core.models import registry
from latentlab.core.models.registry import ARCHITECTURES, LIKELIHOODS, Capabilities, Family

__all__ = ["ARCHITECTURES", "LIKELIHOODS", "ModelConfig"]

# Written to config.json only when set, so an image model's file reads the same as before
# these fields existed (and older versions of LatentLab still open it).
_OMITTED_WHEN_EMPTY = ("feature_names", "options")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's architecture (weights live elsewhere).

    ``family`` names a registered family (:mod:`latentlab.core.models.registry`), which checks
    the rest. ``input_shape`` is ``(C, H, W)`` for an image family and ``(T, F)`` for a sequence
    family, whose ``feature_names`` (e.g. ``("x", "y", "pen")``) may name the ``F`` features.
    ``hidden`` are the MLP layer widths or the conv channel counts; ``num_classes`` and
    ``label_names`` describe the labels a conditional or classifying model uses; ``beta`` and
    ``kl_warmup_epochs`` weight the KL term of the variational families that read them.
    ``options`` holds the family's own settings (see ``Family.options``), every one filled in;
    treat it as read-only.
    """

    family: str = "vae"
    arch: str = "mlp"
    input_shape: tuple[int, ...] = (1, 28, 28)
    latent_dim: int = 2
    hidden: tuple[int, ...] = (400,)
    likelihood: str = "bernoulli"
    beta: float = 1.0
    kl_warmup_epochs: int = 0
    num_classes: int = 0
    label_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        object.__setattr__(self, "hidden", tuple(int(v) for v in self.hidden))
        object.__setattr__(self, "label_names", tuple(str(v) for v in self.label_names))
        object.__setattr__(self, "feature_names", tuple(str(v) for v in self.feature_names))
        family = registry.get(self.family)
        if self.arch not in family.archs:
            raise LatentLabError(f"unknown architecture '{self.arch}' for the {self.family} family "
                                 f"(choose from {', '.join(family.archs)})")
        if self.likelihood not in family.likelihoods:
            raise LatentLabError(f"unknown likelihood '{self.likelihood}' for the {self.family} family "
                                 f"(choose from {', '.join(family.likelihoods)})")
        if not 1 <= self.latent_dim <= 256:
            raise LatentLabError(f"latent dimension must be between 1 and 256, got {self.latent_dim}")
        if not self.input_shape or min(self.input_shape) < 1:
            raise LatentLabError(f"input shape must have positive sizes, got {self.input_shape}")
        if not self.hidden or min(self.hidden) < 1:
            raise LatentLabError("hidden sizes must be positive integers")
        if not self.beta > 0:
            raise LatentLabError(f"beta must be positive, got {self.beta}")
        if self.kl_warmup_epochs < 0:
            raise LatentLabError("KL warm-up epochs must be 0 or more")
        if family.capabilities.conditional and self.num_classes < 2:
            raise LatentLabError(f"a {family.title} needs labelled data with at least 2 classes")
        family.check_config(self)
        object.__setattr__(self, "options", family.check_options(self.options))

    # -- what the family says ---------------------------------------------------------------
    @property
    def family_info(self) -> Family:
        """The registered :class:`~latentlab.core.models.registry.Family` of this model."""
        return registry.get(self.family)

    @property
    def capabilities(self) -> Capabilities:
        return registry.get(self.family).capabilities

    @property
    def is_conditional(self) -> bool:
        return self.capabilities.conditional

    @property
    def is_variational(self) -> bool:
        return self.capabilities.variational

    # -- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "options":
                value = _saved_options(self.family, value)
            if f.name in _OMITTED_WHEN_EMPTY and not value:
                continue
            d[f.name] = dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, tuple) else value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelConfig:
        """A saved configuration: an option it lacks that names a ``when_missing`` value gets
        that value (what the model was built with before the option existed), not the default."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise LatentLabError(f"unknown model settings: {', '.join(sorted(unknown))}")
        d = dict(d)
        family = d.get("family", cls.family)
        options = d.get("options") or {}
        if isinstance(family, str) and family in registry.names() and isinstance(options, Mapping):
            missing = {o.name: o.when_missing for o in registry.get(family).options
                       if o.when_missing is not None and o.name not in options}
            if missing:
                d["options"] = {**options, **missing}
        return cls(**d)


def _saved_options(family: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options written to a file: an option that says ``omitted_when_default`` is left out at
    its default (e.g. denoising off), so the file reads as before the option existed."""
    declared = {o.name: o for o in registry.get(family).options}
    return {k: v for k, v in options.items()
            if not (getattr(declared.get(k), "omitted_when_default", False) and v == declared[k].default)}
