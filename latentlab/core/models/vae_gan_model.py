"""The VAE-GAN model (family declared in ``vae_gan.py``), after Larsen et al. (2016).

A VAE (the same encoder and decoder as the ``vae`` family) plus an image discriminator that
learns to tell real images from both the VAE's reconstructions and its decodings of prior
samples; the decoder is pushed to fool it. Two departures from the paper, both deliberate:

* The reconstruction term stays the pixel likelihood of the VAE (not the discriminator's
  feature-space error), so ``recon`` and ``neg_elbo`` compare with a plain VAE's.
* **Two optimisers**, ``vae`` (encoder and decoder) and ``discriminator``, not the paper's
  three. Encoder and decoder minimise one objective, ``recon + kl_weight·kl +
  adv_weight·g_loss``, in one backward pass; the adversarial term reaches the encoder only
  through the reconstructions and with a small weight. A third optimiser would need a second
  backward pass through the decoder every step for no measurable gain at this size, and one
  learning rate for the VAE keeps its setting the same as the ``vae`` family's.

The adversarial weight is 0 for the first ``adv_warmup_epochs`` (the VAE learns to
reconstruct first; a large weight from the start collapses training), then ramps linearly to
``adv_weight`` over ``adv_ramp_epochs``. With ``margin_gating`` (Larsen's equilibrium rule)
the discriminator pauses while it is far ahead (either of its BCE terms below
``0.68 − margin``) and the decoder ignores it while it is far behind (above ``0.68 + margin``);
this reads two numbers back per step.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from latentlab.core import device as devices
from latentlab.core.models.adversarial import (
    frozen,
    gan_adam,
    gan_lr,
    generator_loss,
    make_discriminator,
    realness,
    to_signed,
)
from latentlab.core.models.autoencoders import VAE
from latentlab.core.models.base import ModelConfig
from latentlab.core.models.likelihood import gaussian_kl, reconstruction_nll, reparameterize
from latentlab.core.models.registry import StepContext
from latentlab.core.models.vae import kl_weight

#: Larsen et al.'s equilibrium point of the discriminator's BCE terms (about log 2).
EQUILIBRIUM = 0.68


class VAEGAN(VAE):
    """A VAE with an image discriminator (``discriminator``) that sees real and decoded images."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config, kl_weighted_by_beta=False)
        self.discriminator = make_discriminator(config.arch, tuple(config.input_shape), config.hidden,
                                                spectral_norm=bool(config.options.get("spectral_norm", False)))

    def _images(self, out: torch.Tensor) -> torch.Tensor:
        """Decoder output as images in [0, 1], differentiably (what the discriminator judges)."""
        return torch.sigmoid(out) if self.config.likelihood == "bernoulli" else out.clamp(0.0, 1.0)

    def forward_terms(self, x: torch.Tensor, kl_w: float) -> dict[str, torch.Tensor]:
        """The VAE's terms and the images the discriminator judges (``real``, ``fakes``)."""
        mu, logvar = self.encode(x)
        out = self.decoder(reparameterize(mu, logvar), None)
        recon = reconstruction_nll(out, x, self.config.likelihood)
        kl = gaussian_kl(mu, logvar)
        prior = self.decoder(torch.randn_like(mu), None)
        fakes = torch.cat([self._images(out), self._images(prior)])
        return {"recon": recon, "kl": kl, "vae_loss": recon + kl_w * kl, "fakes": fakes}

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None, kl_weight: float | None = None,
             adv_weight: float | None = None) -> dict[str, torch.Tensor]:
        """Every term on ``x`` (validation: base KL weight, the final adversarial weight)."""
        kl_w = self.default_kl_weight() if kl_weight is None else float(kl_weight)
        adv_w = float(self.config.options["adv_weight"]) if adv_weight is None else float(adv_weight)
        t = self.forward_terms(x, kl_w)
        batch = x.shape[0]
        logits = self.discriminator(to_signed(torch.cat([x, t["fakes"]])))
        real, fake = logits[:batch], logits[batch:]
        d_loss = F.softplus(-real).mean() + F.softplus(fake).mean()
        g_loss = generator_loss(fake)
        return {"loss": t["vae_loss"] + adv_w * g_loss, "recon": t["recon"], "kl": t["kl"],
                "d_loss": d_loss, "g_loss": g_loss, "d_real": realness(real), "d_fake": realness(fake)}


def adversarial_weight(model: VAEGAN, ctx: StepContext) -> float:
    """0 during the warm-up, then a linear ramp to the ``adv_weight`` option."""
    opts = model.config.options
    final = float(opts["adv_weight"])
    since = ctx.epochs_done - int(opts["adv_warmup_epochs"])
    if since <= 0:
        return 0.0
    ramp = int(opts["adv_ramp_epochs"])
    return final if ramp <= 0 else final * min(1.0, since / ramp)


def schedule(model: VAEGAN, ctx: StepContext) -> dict[str, float]:
    return {"kl_weight": kl_weight(model, ctx), "adv_weight": adversarial_weight(model, ctx)}


def optimizers(model: VAEGAN, train_config) -> dict[str, torch.optim.Optimizer]:
    """The VAE's fused Adam (the general learning rate) and the discriminator's (beta1 = 0.5)."""
    vae_params = [*model.encoder.parameters(), *model.decoder.parameters()]
    return {"vae": devices.make_optimizer(vae_params, train_config.lr_for("vae")),
            "discriminator": gan_adam(model.discriminator.parameters(), gan_lr(train_config, "discriminator"))}


def _gates(model: VAEGAN, d_real_loss: torch.Tensor, d_fake_loss: torch.Tensor) -> tuple[bool, bool]:
    """Larsen's equilibrium: (train the discriminator, let the decoder see it)."""
    if not model.config.options["margin_gating"]:
        return True, True
    margin = float(model.config.options["margin"])
    real, fake = float(d_real_loss.detach()), float(d_fake_loss.detach())  # the option's one read-back per step
    train_d = not (real < EQUILIBRIUM - margin or fake < EQUILIBRIUM - margin)
    train_g = not (real > EQUILIBRIUM + margin or fake > EQUILIBRIUM + margin)
    if not (train_d or train_g):
        return True, True
    return train_d, train_g


def train_step(model: VAEGAN, x: torch.Tensor, y: torch.Tensor | None,
               optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    """One discriminator step on real vs reconstructed and prior images, then one VAE step."""
    kl_w, adv_w = kl_weight(model, ctx), adversarial_weight(model, ctx)
    t = model.forward_terms(x, kl_w)
    batch = x.shape[0]
    fakes = t["fakes"]
    logits = model.discriminator(to_signed(torch.cat([x, fakes.detach()])))
    real, fake = logits[:batch], logits[batch:]
    d_real_loss, d_fake_loss = F.softplus(-real).mean(), F.softplus(fake).mean()
    d_loss = d_real_loss + d_fake_loss
    train_d, train_g = _gates(model, d_real_loss, d_fake_loss)
    opt_d, opt_vae = optimizers["discriminator"], optimizers["vae"]
    if train_d:
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    loss = t["vae_loss"]
    if adv_w > 0 and train_g:
        with frozen(model.discriminator):
            g_loss = generator_loss(model.discriminator(to_signed(fakes)))
            loss = loss + adv_w * g_loss
            opt_vae.zero_grad(set_to_none=True)
            loss.backward()
    else:
        # Warm-up: the discriminator's pre-step view is reported, no second pass through it.
        g_loss = generator_loss(fake.detach())
        opt_vae.zero_grad(set_to_none=True)
        loss.backward()
    opt_vae.step()
    return {"loss": loss.detach(), "recon": t["recon"].detach(), "kl": t["kl"].detach(),
            "d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
            "d_real": realness(real.detach()), "d_fake": realness(fake.detach())}
