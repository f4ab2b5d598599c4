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

The classifier is a small conv net by default (option ``classifier``: ``conv``, ``mlp``, or
``arch`` for the encoder's architecture); it costs little beside the ``K`` decodings of each
unlabelled image.

M2's sum over classes alone gains a few points over the classifier trained on the labels
alone (88 % against 80 % with 100 MNIST labels). A **consistency** term on the unlabelled
images (weight ``consistency``) adds most of the rest, as in later semi-supervised work:

* with ``vat > 0`` (default 2), virtual adversarial training (Miyato et al. 2018): the
  KL from the classifier's prediction on ``x`` to its prediction at ``x + r``, where ``r``
  (length ``vat``) is the direction in which the prediction changes fastest, found by one
  power iteration (:meth:`SSVAE.vat_direction`). It assumes nothing about the images beyond
  "nearby inputs share a class". The power iteration compares the deterministic classifier
  with itself (so the KL is smallest at ``r = 0``) over a probe long enough for float32; a
  probe of 1e-6 against the dropout prediction found a much poorer direction (with 100 MNIST
  labels, latent 8, 30 epochs: 94.0 % before, 95.2 % after);
* with ``vat = 0``, the cross-entropy of the prediction on a randomly jittered copy of ``x``
  (:func:`jitter`, ``jitter`` pixels) against the classifier's guess on ``x`` where that guess
  is at least ``confidence`` sure (pseudo-labels, as in FixMatch). The jitter builds in what
  digits allow (a small shift, turn or scale keeps the class), and the same jitter as plain
  augmentation of the labelled images alone lifts that classifier a long way too (see
  ``benchmarks/semi_supervised.py``).

Two more terms on the unlabelled images are off by default: ``entropy`` weighs the mean
entropy of the classifier's guesses (entropy minimisation, as in VAT's "VAT+EntMin"), and the
family's step scales it and the consistency term by a ramp from 0 over ``ramp_epochs``
(:attr:`SSVAE.unlabelled_scale`). Neither helped with 100 MNIST labels (entropy 30 from the
start: 86.6 %; entropy 3 over a 10-epoch ramp: no change). The family's step also lets the
learning rate fall linearly to 0 over the last ``lr_decay`` of training (default 0.3), so the
accuracy settles rather than swinging by a point from epoch to epoch.

``loss`` reports ``recon`` and ``kl`` (the z KL plus the label's KL, so ``recon + kl`` is the
negative ELBO) as means over every image of the batch, and ``classify``, the mean
cross-entropy over its labelled images (0 when it has none), and ``consistency``, the
consistency term averaged over its unlabelled images (0 when it has none and in evaluation).
The loss adds ``entropy`` times the unlabelled guesses' mean entropy (unscaled in evaluation).
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
from latentlab.core.models.registry import DEFAULT_HIDDEN


def _nll_each(out: torch.Tensor, x: torch.Tensor, likelihood: str) -> torch.Tensor:
    """Reconstruction NLL of every image ``[B]`` (the per-image form of ``reconstruction_nll``)."""
    from latentlab.core.models.likelihood import GAUSSIAN_SIGMA

    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none").flatten(1).sum(1)
    pixels = x[0].numel()
    norm = math.log(GAUSSIAN_SIGMA) + 0.5 * math.log(2.0 * math.pi)
    return (out - x).pow(2).flatten(1).sum(1) / (2.0 * GAUSSIAN_SIGMA**2) + pixels * norm


def jitter(x: torch.Tensor, pixels: float) -> torch.Tensor:
    """``x`` ``[B, C, H, W]`` under a small random affine map per image (zeros shifted in).

    Each image is shifted by up to ``pixels`` in each direction, rotated by up to 10 degrees
    and scaled by up to 10 %: changes that keep a digit's class. ``pixels <= 0`` returns ``x``.
    """
    if pixels <= 0 or x.shape[0] == 0:
        return x
    b, _, h, w = x.shape
    u = torch.rand(b, 4, device=x.device, dtype=x.dtype) * 2 - 1
    angle = u[:, 0] * math.radians(10.0)
    scale = 1.0 + 0.1 * u[:, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid works in [-1, 1] coordinates: a shift of p pixels is 2 p / size.
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * 2 * pixels / w], 1),
                         torch.stack([sin, cos, u[:, 3] * 2 * pixels / h], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


#: Length of the probe of the power iteration of virtual adversarial training. Far shorter than
#: the perturbation, yet long enough that the change of the prediction it causes is not lost in
#: float32 rounding (a probe of 1e-6 gives a direction little better than chance).
_VAT_XI = 0.1


class SSVAE(VAE):
    """M2: a CVAE whose label is predicted by a classifier where it is not given."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, kl_weighted_by_beta=True)
        k = config.num_classes
        shape = config.input_shape
        dropout = float(config.options.get("dropout", 0.0))
        # Dropout before the classifier's read-out: with a few labels it would memorise them.
        kind = str(config.options.get("classifier", "arch"))
        kind = config.arch if kind == "arch" else kind
        if kind == "mlp":
            body: nn.Module = MLPEncoder(shape, config.hidden if config.arch == "mlp" else DEFAULT_HIDDEN["mlp"], k)
        else:
            body = ConvEncoder(shape, config.hidden if config.arch == "conv" else DEFAULT_HIDDEN["conv"], k)
        if dropout > 0:
            body.body.insert(len(body.body) - 1, nn.Dropout(dropout))
        self.classifier: nn.Module = body
        self.alpha = float(config.options.get("alpha", 30.0))
        self.consistency = float(config.options.get("consistency", 0.0))
        self.confidence = float(config.options.get("confidence", 0.9))
        self.jitter_pixels = float(config.options.get("jitter", 0.0))
        self.vat = float(config.options.get("vat", 0.0))
        self.entropy = float(config.options.get("entropy", 0.0))
        #: Scales the consistency and entropy terms; the family's step ramps it up from 0.
        self.unlabelled_scale = 1.0

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
        consistency = x.new_zeros(())
        entropy = x.new_zeros(())
        if n_l:
            classify = F.cross_entropy(logits[labelled], y_l)
        if n_u and self.training and self.consistency > 0:
            consistency = self._consistency(x_u, logits[~labelled])
        if n_u:
            log_q = torch.log_softmax(logits[~labelled], dim=1)
            q = log_q.exp()
            recon = recon + (q * recon_each[n_l:].view(n_u, k)).sum()
            klz = klz + (q * klz_each[n_l:].view(n_u, k)).sum()
            kly = kly + (q * (log_q + log_k)).sum()  # KL(q(y|x) || uniform)
            entropy = -(q * log_q).sum(1).mean()
        recon, klz, kly = recon / b, klz / b, kly / b
        scale = self.unlabelled_scale if self.training else 1.0
        loss = (recon + weight * klz + kly + self.alpha * classify
                + scale * (self.consistency * consistency + self.entropy * entropy))
        return {"loss": loss, "recon": recon, "kl": klz + kly, "classify": classify, "consistency": consistency}

    def _consistency(self, x_u: torch.Tensor, logits_u: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the classifier on jittered unlabelled images against its own confident guesses."""
        if self.vat > 0:
            return self._vat(x_u, logits_u)
        with torch.no_grad():
            conf, guess = torch.softmax(logits_u, dim=1).max(1)
            keep = (conf >= self.confidence).to(logits_u.dtype)
        moved = jitter(x_u, self.jitter_pixels) if self.jitter_pixels > 0 else x_u
        each = F.cross_entropy(self.class_logits(moved), guess, reduction="none")
        return (each * keep).sum() / x_u.shape[0]

    def vat_direction(self, x: torch.Tensor) -> torch.Tensor:
        """The perturbation ``r`` (``vat`` long per image) along which the prediction changes fastest.

        One power iteration (Miyato et al. 2018): the gradient, at a short random probe ``d``,
        of the KL from the classifier's prediction at ``x`` to that at ``x + d`` approximates the
        product of that KL's Hessian with ``d``. The classifier is deterministic meanwhile (no
        dropout), so the KL is smallest at ``d = 0``.
        """
        def unit(v: torch.Tensor) -> torch.Tensor:
            return v / v.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (v.dim() - 1)))

        was = self.classifier.training
        self.classifier.eval()
        try:
            with torch.no_grad():
                clean = torch.softmax(self.class_logits(x), dim=1)
            d = (_VAT_XI * unit(torch.randn_like(x))).requires_grad_(True)
            kl = F.kl_div(torch.log_softmax(self.class_logits(x + d), dim=1), clean, reduction="batchmean")
            (grad,) = torch.autograd.grad(kl, d)
        finally:
            self.classifier.train(was)
        return self.vat * unit(grad.detach())

    def _vat(self, x_u: torch.Tensor, logits_u: torch.Tensor) -> torch.Tensor:
        """Virtual adversarial loss: KL from the prediction to that at the most sensitive nearby input."""
        target = torch.softmax(logits_u.detach(), dim=1)
        r = self.vat_direction(x_u)
        return F.kl_div(torch.log_softmax(self.class_logits(x_u + r), dim=1), target, reduction="batchmean")
