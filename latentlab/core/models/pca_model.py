"""PCA as a latent model: the linear baseline every learned latent space is compared with.

Choices (documented because they differ from the neural families):

* **Fitted, not trained.** ``fit(x)`` solves PCA in closed form; ``trainable`` is False and
  the model has no parameters. Its state (mean, components, scales, explained variance and
  the number of fitted images) lives in buffers, so it saves and loads like any model.
* **Whitened latents.** ``z = (x - mean) @ Wᵀ / sqrt(var)``: each coordinate has unit
  variance over the fitted data, so the plane has the scale of a VAE's N(0, I) prior, the
  same grids and sliders work, and ``sample()`` draws plausible images.
* **Decoder output.** ``decode`` returns the linear reconstruction ``mean + (z·sqrt(var)) @ W``
  *unclipped*, whatever the likelihood, so ``encode(decode(z)) == z`` holds exactly;
  ``decode_image`` clips it to [0, 1]. The likelihood only chooses how ``loss`` scores the
  reconstruction, so the numbers sit on the scale of the VAEs it is compared with: Gaussian
  NLL with the shared fixed sigma, or Bernoulli NLL of the clipped values.
"""

from __future__ import annotations

import math

import torch

from latentlab.core.errors import LatentLabError
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.likelihood import bernoulli_nll_from_probs, reconstruction_nll

# Above this many matrix entries a full SVD gets slow and memory-hungry; switch to the
# covariance matrix (small D) or a randomized low-rank SVD (large D).
_FULL_SVD_MAX_ENTRIES = 20_000_000
_COVARIANCE_MAX_DIM = 4096


class PCAModel(LatentModel):
    """Principal component analysis behind the :class:`LatentModel` interface."""

    trainable = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        d = math.prod(config.input_shape)
        k = config.latent_dim
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("components", torch.zeros(k, d))
        self.register_buffer("scale", torch.ones(k))
        self.register_buffer("explained_variance_ratio", torch.zeros(k))
        self.register_buffer("n_samples", torch.zeros((), dtype=torch.int64))

    @property
    def fitted(self) -> bool:
        return int(self.n_samples) > 0

    def fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> PCAModel:
        """Fit to images ``x`` ``[N, C, H, W]`` (``y`` is ignored); returns ``self``."""
        if tuple(x.shape[1:]) != self.config.input_shape:
            raise LatentLabError(
                f"PCA expects images of shape {self.config.input_shape}, got {tuple(x.shape[1:])}"
            )
        n, k = x.shape[0], self.config.latent_dim
        if n < 2 or k > min(n - 1, self.mean.numel()):
            raise LatentLabError(
                f"PCA with {k} components needs more than {k} images of more than {k} pixels; got {n}"
            )
        data = x.detach().flatten(1).to(torch.float64)
        mean = data.mean(dim=0)
        centered = data - mean
        variances, components = _top_components(centered, k)
        total = centered.pow(2).sum() / (n - 1)
        # A component with (numerically) no variance would divide by zero when whitening;
        # a tiny floor keeps encode/decode exact inverses on the span instead.
        scale = variances.clamp_min(1e-12).sqrt()
        with torch.no_grad():
            self.mean.copy_(mean)
            self.components.copy_(_fix_signs(components))
            self.scale.copy_(scale)
            self.explained_variance_ratio.copy_(variances / total.clamp_min(1e-12))
            self.n_samples.fill_(n)
        return self

    def _require_fit(self) -> None:
        if not self.fitted:
            raise LatentLabError("this PCA model has not been fitted to any data yet")

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        self._require_fit()
        centered = x.flatten(1) - self.mean
        return (centered @ self.components.T) / self.scale, None

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        self._require_fit()
        flat = torch.addmm(self.mean, z * self.scale, self.components)
        return flat.view(-1, *self.config.input_shape)

    def decode_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(z, y).clamp(0.0, 1.0)

    def loss(
        self, x: torch.Tensor, y: torch.Tensor | None = None, kl_weight: float | None = None
    ) -> dict[str, torch.Tensor]:
        z, _ = self.encode(x)
        x_hat = self.decode(z)
        if self.config.likelihood == "bernoulli":
            recon = bernoulli_nll_from_probs(x_hat, x)
        else:
            recon = reconstruction_nll(x_hat, x, "gaussian")
        return {"loss": recon, "recon": recon, "kl": recon.new_zeros(())}


def _top_components(centered: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` variances ``[k]`` and orthonormal directions ``[k, D]`` of centred data."""
    n, d = centered.shape
    if n * d <= _FULL_SVD_MAX_ENTRIES:
        _, s, vh = torch.linalg.svd(centered, full_matrices=False)
        return s[:k].pow(2) / (n - 1), vh[:k]
    if d <= _COVARIANCE_MAX_DIM:
        cov = centered.T @ centered / (n - 1)
        evals, evecs = torch.linalg.eigh(cov)  # ascending order
        return evals.flip(0)[:k].clamp_min(0.0), evecs.flip(1)[:, :k].T
    # Randomized SVD: fixed seed so fitting the same data twice gives the same model.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        _, s, v = torch.svd_lowrank(centered, q=min(k + 10, n, d), niter=4)
    return s[:k].pow(2) / (n - 1), v[:, :k].T


def _fix_signs(components: torch.Tensor) -> torch.Tensor:
    """Make each direction's largest-magnitude entry positive (SVD signs are arbitrary)."""
    idx = components.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(components.gather(1, idx))
    signs[signs == 0] = 1.0
    return components * signs
