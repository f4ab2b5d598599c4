"""Loss terms shared by the families: reconstruction likelihoods, the Gaussian KL, sampling.

Every term is a sum over pixels (or latent dimensions) and a mean over the batch, so the
numbers read as nats per example and compare across image sizes of the same data.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Fixed standard deviation of the Gaussian decoder, in pixel units (pixels lie in [0, 1]).
#: A learnable sigma tends to collapse towards 0 and makes the KL term irrelevant, which hides
#: the latent structure the app is about; 0.1 weights reconstruction about like a Bernoulli
#: decoder does on MNIST-like data, so the same beta means roughly the same trade-off.
GAUSSIAN_SIGMA = 0.1

# Per-pixel constant of the Gaussian NLL: log(sigma) + log(2 pi) / 2 (negative for sigma=0.1,
# so a Gaussian reconstruction term can be below zero; it is still a proper NLL in nats).
_GAUSSIAN_LOG_NORM = math.log(GAUSSIAN_SIGMA) + 0.5 * math.log(2.0 * math.pi)
_GAUSSIAN_INV_2VAR = 1.0 / (2.0 * GAUSSIAN_SIGMA**2)


def reconstruction_nll(out: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Negative log-likelihood of ``x`` under the decoder output, summed per image, batch mean.

    Parameters
    ----------
    out:
        Decoder output ``[B, C, H, W]``: logits for ``"bernoulli"``, means for ``"gaussian"``.
    x:
        Target images ``[B, C, H, W]`` in [0, 1].
    likelihood:
        ``"bernoulli"`` or ``"gaussian"`` (fixed sigma :data:`GAUSSIAN_SIGMA`).
    """
    batch = x.shape[0]
    if likelihood == "bernoulli":
        # The logits form is both numerically safe and one fused kernel forward and backward.
        return F.binary_cross_entropy_with_logits(out, x, reduction="sum") / batch
    squared = F.mse_loss(out, x, reduction="sum")
    pixels = x[0].numel()
    return squared * (_GAUSSIAN_INV_2VAR / batch) + pixels * _GAUSSIAN_LOG_NORM


def bernoulli_nll_from_probs(p: torch.Tensor, x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Bernoulli NLL for decoders that give probabilities (PCA), clipped to ``[eps, 1 - eps]``.

    The clip keeps a single pixel from costing infinity where a linear decoder overshoots.
    """
    p = p.clamp(eps, 1.0 - eps)
    return F.binary_cross_entropy(p, x, reduction="sum") / x.shape[0]


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Analytic KL(N(mu, exp(logvar)) || N(0, I)), summed over dimensions, batch mean."""
    return -0.5 * torch.sum(1.0 + logvar - mu.pow(2) - logvar.exp()) / mu.shape[0]


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-dimension KL ``[D]`` (batch mean): which latent dimensions carry information."""
    return (-0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp())).mean(dim=0)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Draw ``z = mu + sigma * eps`` so gradients flow to ``mu`` and ``logvar``."""
    std = torch.exp(0.5 * logvar)
    return torch.addcmul(mu, std, torch.randn_like(std))
