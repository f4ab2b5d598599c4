"""The semi-supervised VAE's network (Kingma et al. 2014, "M2"): a classifier inside a CVAE.

``q(y|x)`` is a classifier; ``q(z|x, y)`` and ``p(x|z, y)`` are the conditional VAE's
encoder and decoder; the prior is ``p(z) p(y)`` with ``p(y)`` uniform over the ``K`` classes.

* A **labelled** image (``y >= 0``) contributes its ELBO
  ``L(x, y) = recon + KL(q(z|x,y) || p(z)) + log K`` and the classification loss
  ``-log q(y|x)``, weighted by the option ``alpha``. The trainer adds labelled images to every
  batch (see :mod:`latentlab.core.partial_labels`), so ``alpha`` weighs the mean
  cross-entropy of those against the per-image ELBO of the whole batch.
* An **unlabelled** image (label :data:`~latentlab.core.partial_labels.UNLABELLED`, -1) sums
  over the classes weighted by the classifier:
  ``U(x) = sum_y q(y|x) L(x, y) - H(q(y|x))``, computed for all ``K`` classes in one batch.

The z KL is weighted by ``beta`` (default 5 for this family): a code that must carry less
leaves the class to ``y``, so the decoder depends on the label and the unlabelled images'
sum over classes tells the classifier something (measured with 100 MNIST labels, latent 8,
12 epochs: beta 1 stayed near 80 %, beta 3 and 5 reached 84–86 %, beta 10 82 %). The classifier has dropout (option
``dropout``) before its read-out, as 100 labels are otherwise memorised within a few epochs.

``loss`` reports ``recon`` and ``kl`` (the z KL plus the label's KL, so ``recon + kl`` is the
negative ELBO) as means over every image of the batch, and ``classify``, the mean
cross-entropy over its labelled images (0 when it has none).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.core.models.autoencoders import VAE
from latentlab.core.models.base import ModelConfig
from latentlab.core.models.likelihood import reparameterize
from latentlab.core.models.networks import ConvEncoder, MLPEncoder


def _nll_each(out: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Reconstruction NLL of every image ``[B]`` (the per-image form of ``reconstruction_nll``)."""
    from latentlab.core.models.likelihood import GAUSSIAN_SIGMA

    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)
    pixels = x[0].numel()
    norm = math.log(GAUSSIAN_SIGMA) + 0.5 * math.log(2.0 * math.pi)
    return (out - x).pow(2).flatten(1).sum(1) / (2.0 * GAUSSIAN_SIGMA**2) + pixels * norm


class SSVAE(VAE):
    """M2: a CVAE whose label is predicted by a classifier where it is not given."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, kl_weighted_by_beta=True)
        k = config.num_classes
        shape = config.input_shape
        dropout = float(config.options.get("dropout", 0.0))
        # Dropout before the classifier's read-out: with a few labels it would memorise them.
        body = MLPEncoder(shape, config.hidden, k) if config.arch == "mlp" else ConvEncoder(shape, config.hidden, k)
        if dropout > 0:
            body.body.insert(len(body.body) - 1, nn.Dropout(dropout))
        self.classifier: nn.Module = body
        self.alpha = float(config.options.get("alpha", 30.0))

    # -- classifying ----------------------------------------------------------------------
    def class_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` of the classifier ``q(y|x)``."""
        return self.classifier(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``[B, K]`` of ``x`` (rows sum to 1)."""
        return torch.softmax(self.class_logits(x), dim=1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``q(z|x, y)``; without ``y`` under the classifier's most likely class."""
        if y is None:
            y = self.class_logits(x).argmax(1)
        return super().encode(x, y)

    # -- training ---------------------------------------------------------------------
    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             kl_weight: float | None = None) -> dict[str, torch.Tensor]:
        k = self.config.num_classes
        b = x.shape[0]
        y = (torch.full((b,), -1, dtype=torch.int64, device=x.device) if y is None
             else torch.as_tensor(y, device=x.device).long().expand(b))
        weight = self.default_kl_weight() if kl_weight is None else float(kl_weight)
        labelled = y >= 0
        x_l, y_l, x_u = x[labelled], y[labelled], x[~labelled]
        n_l, n_u = x_l.shape[0], x_u.shape[0]
        logits = self.class_logits(x)
        # Each labelled image once with its class; each unlabelled one with every class.
        xs = torch.cat([x_l, x_u.repeat_interleave(k, dim=0)])
        ys = torch.cat([y_l, torch.arange(k, device=x.device).repeat(n_u)])
        mu, logvar = self.encoder(xs, ys).chunk(2, dim=1)
        z = reparameterize(mu, logvar)
        recon_each = _nll_each(self.decoder(z, ys), xs, self.config.likelihood)
        klz_each = -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        log_k = math.log(k)
        recon = recon_each[:n_l].sum()
        klz = klz_each[:n_l].sum()
        kly = x.new_tensor(log_k * n_l)
        classify = x.new_zeros(())
        if n_l:
            classify = F.cross_entropy(logits[labelled], y_l)
        if n_u:
            log_q = torch.log_softmax(logits[~labelled], dim=1)
            q = log_q.exp()
            recon = recon + (q * recon_each[n_l:].view(n_u, k)).sum()
            klz = klz + (q * klz_each[n_l:].view(n_u, k)).sum()
            kly = kly + (q * (log_q + log_k)).sum()  # KL(q(y|x) || uniform)
        recon, klz, kly = recon / b, klz / b, kly / b
        loss = recon + weight * klz + kly + self.alpha * classify
        return {"loss": loss, "recon": recon, "kl": klz + kly, "classify": classify}
