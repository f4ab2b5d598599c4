"""The one interface every model family sits behind (its configuration is in ``config.py``)."""

from __future__ import annotations

import torch
from torch import nn

from latentlab.core.models.config import ARCHITECTURES, LIKELIHOODS, ModelConfig

__all__ = ["ARCHITECTURES", "LIKELIHOODS", "LatentModel", "ModelConfig"]


class LatentModel(nn.Module):
    """Interface of every family (the image families' shapes; a sequence family's are ``[B, T, F]``).

    * ``encode(x, y=None) -> (mu, logvar | None)`` with ``x`` float ``[B, C, H, W]`` in [0, 1].
    * ``decode(z, y=None) -> [B, C, H, W]`` raw output: logits (Bernoulli) or means (Gaussian);
      PCA always returns its unclipped linear reconstruction (see ``pca_model.py``).
    * ``decode_image(z, y=None)`` -> images in [0, 1] (sigmoid or clamp of ``decode``).
    * ``loss(x, y=None, kl_weight=None) -> dict`` of scalar tensors, means per example in
      nats: ``"loss"`` (what is minimised), ``"recon"``, ``"kl"`` (0 for AE and PCA).
    * ``sample(n, y=None, generator=None)`` -> ``n`` images in [0, 1] from the prior.
    * ``reconstruct(x, y=None)`` -> images in [0, 1] decoded from the posterior mean.
    * ``kl_per_dim(x, y=None)`` -> ``[D]`` mean KL per latent dimension (zeros without a KL).
    * ``trainable``: False for closed-form models (PCA), which are fitted with ``fit(x, y=None)``
      instead of gradient steps (the family's ``capabilities.trainable`` says the same).
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
