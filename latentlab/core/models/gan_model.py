"""The GAN model (family declared in ``gan.py``): generator, discriminator, optional EMA and regressor.

* ``decode(z)`` is the generator's ``tanh`` output in [-1, 1] — the moving average of its
  weights when the ``ema`` option is on — and ``decode_image`` maps it to [0, 1], so
  :func:`latentlab.core.inference.decode`, sampling and every export work unchanged.
* There is no encoder: ``encode`` raises, and :mod:`latentlab.core.inversion` finds codes
  instead. For a latent of more than :data:`GRID_MAX_DIM` dimensions, inversion starts from a
  *latent regressor* — an encoder fitted to pairs ``(z, G(z))`` of the model's own samples —
  kept in the model (saved with it) together with the count of its training steps. It is
  trained during the final epoch of a run (a step per training step, on the sampling
  generator's images) and topped up on first use if it had too few steps.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.core.errors import LatentLabError
# Latents up to this size are inverted by a grid search, larger ones from the regressor.
from latentlab.core.inversion import GRID_MAX_DIM
from latentlab.core.models.adversarial import (
    discriminator_loss,
    ema_copy,
    ema_decay,
    ema_update,
    frozen,
    gan_adam,
    gan_lr,
    generator_loss,
    make_discriminator,
    make_generator,
    realness,
    to_signed,
    to_unit,
)
from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.registry import StepContext
from latentlab.core.models.networks import ConvEncoder, MLPEncoder

#: Generator steps per update of its moving average.
EMA_EVERY = 4
#: Learning rate of the latent regressor (plain Adam: it is ordinary regression).
REGRESSOR_LR = 1e-3



class GAN(LatentModel):
    """A generator ``G: z → [-1, 1]^(C×H×W)`` and a discriminator ``D: image → logit``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        opts = config.options
        shape = tuple(config.input_shape)
        self.generator = make_generator(config.arch, config.latent_dim, config.hidden, shape)
        self.discriminator = make_discriminator(config.arch, shape, config.hidden,
                                                spectral_norm=bool(opts.get("spectral_norm", False)))
        self.generator_ema = ema_copy(self.generator) if opts.get("ema", True) else None
        self.ema_target = float(opts.get("ema_decay", 0.999))
        self.regressor: nn.Module | None = None
        if config.latent_dim > GRID_MAX_DIM:
            encoder = MLPEncoder if config.arch == "mlp" else ConvEncoder
            self.regressor = encoder(shape, config.hidden, config.latent_dim)
            self.register_buffer("regressor_steps", torch.zeros((), dtype=torch.int64))
        self._ema_steps = 0   # this session's generator steps: only ramps the decay up
        self._regressor_opt: torch.optim.Optimizer | None = None

    # -- the interface ----------------------------------------------------------------------
    @property
    def sampler(self) -> nn.Module:
        """The generator that decodes: the moving average when kept, else the live one."""
        return self.generator_ema if self.generator_ema is not None else self.generator

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise LatentLabError("a GAN has no encoder; its codes are found by inversion "
                             "(latentlab.core.inversion or inference.encode)")

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's output in [-1, 1] (``decode_image`` gives [0, 1] images)."""
        return self.sampler(z)

    def decode_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return to_unit(self.decode(z, y))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The generator's closest image to each of ``x``, found by inversion."""
        from latentlab.core.inversion import invert

        found = invert(self, x)
        assert found is not None  # no stop callback: always completes
        return self.decode_image(torch.from_numpy(found.codes).to(self.device))

    def discriminate(self, images: torch.Tensor) -> torch.Tensor:
        """The discriminator's logits ``[B]`` for images in [0, 1]."""
        return self.discriminator(to_signed(images))

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             kl_weight: float | None = None) -> dict[str, torch.Tensor]:
        """Both players' losses on ``x`` against as many fresh samples of the live generator."""
        z = torch.randn(x.shape[0], self.config.latent_dim, device=x.device)
        logits = self.discriminator(torch.cat([to_signed(x), self.generator(z)]))
        real, fake = logits.split(x.shape[0])
        return {"d_loss": discriminator_loss(real, fake), "g_loss": generator_loss(fake),
                "d_real": realness(real), "d_fake": realness(fake)}

    # -- training helpers -------------------------------------------------------------------
    def update_average(self) -> None:
        """Called after each generator step: every :data:`EMA_EVERY` th one moves the average.

        Averaging every few steps with the decay raised to that power follows the same curve
        within a step's drift and costs a fraction of the time (a full pass over the weights).
        """
        if self.generator_ema is None:
            return
        self._ema_steps += 1
        if self._ema_steps % EMA_EVERY:
            return
        decay = ema_decay(self.ema_target, self._ema_steps) ** EMA_EVERY
        ema_update(self.generator_ema, self.generator, decay)

    def regressor_step(self, batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """One step of the latent regressor on ``batch`` fresh pairs ``(z, G(z))``; its loss."""
        if self.regressor is None:
            raise LatentLabError(f"a {self.config.latent_dim}-dimensional GAN has no latent regressor")
        device = self.device
        if self._regressor_opt is None:
            self._regressor_opt = torch.optim.Adam(self.regressor.parameters(), lr=REGRESSOR_LR)
        z = torch.randn(batch, self.config.latent_dim, generator=generator).to(device)
        sampler = self.sampler
        was_training = sampler.training
        sampler.eval()  # the images decode() makes, BatchNorm statistics included
        with torch.no_grad():
            images = to_unit(sampler(z))
        sampler.train(was_training)
        loss = F.mse_loss(self.regressor(images), z)
        self._regressor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self._regressor_opt.step()
        with torch.no_grad():
            self.regressor_steps.add_(1)
        return loss.detach()


def optimizers(model: GAN, train_config) -> dict[str, torch.optim.Optimizer]:
    """Adam (beta1 = 0.5) for each player; default learning rates 2e-4 (see ``gan_lr``)."""
    return {"generator": gan_adam(model.generator.parameters(), gan_lr(train_config, "generator")),
            "discriminator": gan_adam(model.discriminator.parameters(), gan_lr(train_config, "discriminator"))}


def train_step(model: GAN, x: torch.Tensor, y: torch.Tensor | None,
               optimizers: Mapping[str, torch.optim.Optimizer], ctx: StepContext) -> dict[str, torch.Tensor]:
    """One discriminator step, then one generator step on the same fakes; nothing read back."""
    batch = x.shape[0]
    z = torch.randn(batch, model.config.latent_dim, device=x.device)
    fake = model.generator(z)
    # Real and fake through the discriminator as one batch: one larger product, not two.
    logits = model.discriminator(torch.cat([to_signed(x), fake.detach()]))
    real_logits, fake_logits = logits.split(batch)
    d_loss = discriminator_loss(real_logits, fake_logits)
    opt_d, opt_g = optimizers["discriminator"], optimizers["generator"]
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()
    with frozen(model.discriminator):
        g_loss = generator_loss(model.discriminator(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
    opt_g.step()
    model.update_average()
    if model.regressor is not None and ctx.epoch == ctx.epochs:
        model.regressor_step(batch)  # the final epoch also fits the inversion's starting guess
    return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(),
            "d_real": realness(real_logits.detach()), "d_fake": realness(fake_logits.detach())}
