"""The one interface every model family sits behind, and its frozen configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from latentlab.core.errors import LatentLabError

FAMILIES = ("ae", "vae", "beta-vae", "cvae", "pca")
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's architecture (weights live elsewhere).

    ``input_shape`` is ``(C, H, W)``; ``hidden`` are the MLP layer widths or the conv
    channel counts; ``num_classes`` is used by the CVAE only; ``beta`` and
    ``kl_warmup_epochs`` weight the KL term (β-VAE; plain VAE uses beta=1).
    """

    family: str = "vae"
    arch: str = "mlp"
    input_shape: tuple[int, int, int] = (1, 28, 28)
    latent_dim: int = 2
    hidden: tuple[int, ...] = (400,)
    likelihood: str = "bernoulli"
    beta: float = 1.0
    kl_warmup_epochs: int = 0
    num_classes: int = 0
    label_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", tuple(int(v) for v in self.input_shape))
        object.__setattr__(self, "hidden", tuple(int(v) for v in self.hidden))
        object.__setattr__(self, "label_names", tuple(str(v) for v in self.label_names))
        if self.family not in FAMILIES:
            raise LatentLabError(f"unknown model family '{self.family}' (choose from {', '.join(FAMILIES)})")
        if self.arch not in ARCHITECTURES:
            raise LatentLabError(f"unknown architecture '{self.arch}' (choose from {', '.join(ARCHITECTURES)})")
        if self.likelihood not in LIKELIHOODS:
            raise LatentLabError(f"unknown likelihood '{self.likelihood}' (choose from {', '.join(LIKELIHOODS)})")
        if not 1 <= self.latent_dim <= 256:
            raise LatentLabError(f"latent dimension must be between 1 and 256, got {self.latent_dim}")
        if len(self.input_shape) != 3 or min(self.input_shape) < 1:
            raise LatentLabError(f"input shape must be (C, H, W) with positive sizes, got {self.input_shape}")
        if self.input_shape[0] not in (1, 3):
            raise LatentLabError(f"images must have 1 or 3 channels, got {self.input_shape[0]}")
        if not self.hidden or min(self.hidden) < 1:
            raise LatentLabError("hidden sizes must be positive integers")
        if not self.beta > 0:
            raise LatentLabError(f"beta must be positive, got {self.beta}")
        if self.kl_warmup_epochs < 0:
            raise LatentLabError("KL warm-up epochs must be 0 or more")
        if self.family == "cvae" and self.num_classes < 2:
            raise LatentLabError("a conditional VAE needs labelled data with at least 2 classes")

    @property
    def is_conditional(self) -> bool:
        return self.family == "cvae"

    @property
    def is_variational(self) -> bool:
        return self.family in ("vae", "beta-vae", "cvae")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("input_shape", "hidden", "label_names"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise LatentLabError(f"unknown model settings: {', '.join(sorted(unknown))}")
        return cls(**d)


class LatentModel(nn.Module):
    """Interface of every family.

    * ``encode(x, y=None) -> (mu, logvar | None)`` with ``x`` float ``[B, C, H, W]`` in [0, 1].
    * ``decode(z, y=None) -> [B, C, H, W]`` raw output: logits (Bernoulli) or means (Gaussian);
      PCA always returns its unclipped linear reconstruction (see ``pca.py``).
    * ``decode_image(z, y=None)`` -> images in [0, 1] (sigmoid or clamp of ``decode``).
    * ``loss(x, y=None, kl_weight=None) -> dict`` of scalar tensors, means per example in
      nats: ``"loss"`` (what is minimised), ``"recon"``, ``"kl"`` (0 for AE and PCA).
    * ``sample(n, y=None, generator=None)`` -> ``n`` images in [0, 1] from the prior.
    * ``reconstruct(x, y=None)`` -> images in [0, 1] decoded from the posterior mean.
    * ``kl_per_dim(x, y=None)`` -> ``[D]`` mean KL per latent dimension (zeros without a KL).
    * ``trainable``: False for closed-form models (PCA), which are fitted with ``fit(x)``
      instead of gradient steps.
    """

    config: ModelConfig
    trainable: bool = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    # -- to be provided by each family -------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def loss(
        self, x: torch.Tensor, y: torch.Tensor | None = None, kl_weight: float | None = None
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------
    def decode_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.decode(z, y)
        if self.config.likelihood == "bernoulli":
            return torch.sigmoid(out)
        return out.clamp(0.0, 1.0)

    def sample(
        self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)
        return self.decode_image(z, y)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        mu, _ = self.encode(x, y)
        return self.decode_image(mu, y)

    def kl_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros(self.config.latent_dim, device=self.device)

    @property
    def device(self) -> torch.device:
        """Where the weights live (buffers count too: PCA has no parameters)."""
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")
