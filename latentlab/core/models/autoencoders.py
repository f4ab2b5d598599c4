"""The neural families: autoencoder, VAE / β-VAE, conditional VAE.

One class hierarchy over :mod:`networks`; a family differs only in what the encoder emits
(``z`` or ``mu, logvar``), whether a label is fed in, and the KL weight. The families that
use these classes are declared in ``ae.py``, ``vae.py``, ``beta_vae.py`` and ``cvae.py``.
"""

from __future__ import annotations

import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.likelihood import (
    gaussian_kl,
    gaussian_kl_per_dim,
    reconstruction_nll,
    reparameterize,
)
from latentlab.core.models.networks import make_networks


class Autoencoder(LatentModel):
    """Deterministic autoencoder: ``encode`` returns ``(z, None)``, the loss is reconstruction only."""

    variational = False

    def __init__(self, config: ModelConfig, *, kl_weighted_by_beta: bool = True) -> None:
        super().__init__(config)
        # A plain VAE keeps the ELBO's weight of 1 whatever beta says; its family asks for that.
        self.kl_weighted_by_beta = kl_weighted_by_beta
        width = config.latent_dim * (2 if self.variational else 1)
        classes = config.num_classes if config.is_conditional else 0
        self.encoder, self.decoder = make_networks(
            config.input_shape, config.arch, config.hidden, config.latent_dim, width, classes
        )

    # -- labels ---------------------------------------------------------------------
    def _labels(self, y: torch.Tensor | int | None, batch: int) -> torch.Tensor | None:
        """Labels as int64 ``[B]`` for a conditional model; ``None`` (ignored) otherwise."""
        if not self.config.is_conditional:
            return None
        if y is None:
            raise LatentLabError(
                "this conditional VAE needs a class label for every image; pick a class to decode"
            )
        y = torch.as_tensor(y)
        if y.dtype != torch.int64:
            y = y.long()
        if y.ndim == 0:
            y = y.expand(batch)
        if tuple(y.shape) != (batch,):
            raise LatentLabError(f"expected {batch} class labels, got a label tensor of shape {tuple(y.shape)}")
        # A range check reads the values; on an accelerator that would stall every step, and
        # the embedding lookup fails there anyway, so only CPU tensors get the friendly message.
        if y.device.type == "cpu" and batch and (int(y.min()) < 0 or int(y.max()) >= self.config.num_classes):
            raise LatentLabError(
                f"class labels must lie in 0..{self.config.num_classes - 1}, "
                f"got values from {int(y.min())} to {int(y.max())}"
            )
        return y.to(self.encoder.input.weight.device)

    # -- interface --------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.encoder(x, self._labels(y, x.shape[0]))
        if not self.variational:
            return h, None
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z, self._labels(y, z.shape[0]))

    def default_kl_weight(self) -> float:
        """KL weight when ``loss`` is not given one: ``beta``, or 1 for a model built to ignore it."""
        return float(self.config.beta) if self.kl_weighted_by_beta else 1.0

    def loss(
        self, x: torch.Tensor, y: torch.Tensor | None = None, kl_weight: float | None = None,
        target: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Loss terms of encoding ``x`` and reconstructing ``target`` (default ``x``; a
        denoiser encodes corrupted images and reconstructs the clean ones)."""
        target = x if target is None else target
        labels = self._labels(y, x.shape[0])
        h = self.encoder(x, labels)
        if not self.variational:
            recon = reconstruction_nll(self.decoder(h, labels), target, self.config.likelihood)
            return {"loss": recon, "recon": recon, "kl": recon.new_zeros(())}
        mu, logvar = h.chunk(2, dim=1)
        # Always sampled, also in eval mode: the loss is a (one-sample) ELBO estimate, like the
        # reference example's test loss, so training and validation numbers compare.
        z = reparameterize(mu, logvar)
        recon = reconstruction_nll(self.decoder(z, labels), target, self.config.likelihood)
        kl = gaussian_kl(mu, logvar)
        weight = self.default_kl_weight() if kl_weight is None else float(kl_weight)
        return {"loss": recon + weight * kl, "recon": recon, "kl": kl}


class VAE(Autoencoder):
    """Variational autoencoder with a diagonal Gaussian posterior; also the β-VAE."""

    variational = True

    def kl_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Mean KL of each latent dimension ``[D]`` over the batch ``x`` (no gradients)."""
        with torch.no_grad():
            mu, logvar = self.encode(x, y)
            return gaussian_kl_per_dim(mu, logvar)


class CVAE(VAE):
    """Conditional VAE: encoder and decoder both see the one-hot class label ``y``.

    ``y`` (int64 ``[B]``, or one int for the whole batch) is required by ``encode``,
    ``decode``, ``loss`` and ``sample``.
    """
