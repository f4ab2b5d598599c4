"""Pieces the adversarial families share: generator and discriminator networks, losses, EMA.

Choices that matter (each one a known way GAN code goes wrong):

* The discriminator returns **logits** and the losses are ``softplus`` forms of binary cross
  entropy (``BCE(sigmoid(l), 1) = softplus(-l)``): one fused, numerically safe kernel instead
  of a sigmoid followed by a log that saturates.
* The generator's loss is the **non-saturating** one, ``-log D(G(z))``: it has strong
  gradients exactly when the discriminator is winning, unlike ``log(1 - D(G(z)))``.
* The discriminator has **no BatchNorm**: batch statistics let it tell a batch of fakes from
  a batch of reals by their statistics alone, and they fight spectral normalisation. (The
  generator's convolutions use BatchNorm with its default ``eps``; ``BatchNorm2d(c, 0.8)``
  would set ``eps`` to 0.8, not the momentum, a bug copied through a popular collection.)
* LeakyReLU (slope 0.2) throughout; Adam with ``beta1 = 0.5`` (see :func:`gan_adam`).
* The generator's output is ``tanh`` in [-1, 1]; real images are scaled to that range before
  the discriminator sees them (:func:`to_signed`), and ``decode_image`` maps back to [0, 1].

This module also holds :class:`DiscriminatorWatch`, which notices a discriminator that has
won outright (its loss near 0 for several epochs), for the command line and the app.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.core.models.networks import conv_feature_size

#: Default learning rate of a GAN's optimisers (DCGAN's), used where none was asked for.
GAN_LR = 2e-4
#: Adam's betas for adversarial training: beta1 = 0.5 keeps momentum from overshooting the
#: moving target the other network sets.
GAN_BETAS = (0.5, 0.999)
LEAKY_SLOPE = 0.2


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] to the generator's range [-1, 1]."""
    return x * 2.0 - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] to images in [0, 1]."""
    return ((x + 1.0) * 0.5).clamp(0.0, 1.0)


# -- networks -------------------------------------------------------------------------------
class Linear(nn.Linear):
    """``nn.Linear`` that keeps PyTorch's default CPU kernel.

    The trainer reroutes plain ``nn.Linear`` layers through oneDNN on the CPU (see
    :func:`latentlab.core.device.fast_linear_layers`), which pays off for the autoencoders'
    wide batches; for a GAN's steps (batch 64, three passes per step) it measured about 15 %
    slower, and a subclass is left alone.
    """


class MLPGenerator(nn.Module):
    """``z`` → hidden layers (reversed ``hidden``, LeakyReLU) → one ``tanh`` value per pixel."""

    def __init__(self, latent_dim: int, hidden: tuple[int, ...], output_shape: tuple[int, ...]) -> None:
        super().__init__()
        widths = [latent_dim, *reversed(hidden)]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [Linear(a, b), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        layers += [Linear(widths[-1], math.prod(output_shape)), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.output_shape = tuple(output_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z).view(-1, *self.output_shape)


class MLPDiscriminator(nn.Module):
    """Flatten → hidden layers (LeakyReLU, no normalisation) → one logit per item ``[B]``."""

    def __init__(self, input_shape: tuple[int, ...], hidden: tuple[int, ...]) -> None:
        super().__init__()
        widths = [math.prod(input_shape), *hidden]
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [Linear(a, b), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        layers.append(Linear(widths[-1], 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)


class ConvGenerator(nn.Module):
    """DCGAN-style: linear to a small map → (BatchNorm, LeakyReLU, transposed conv)* → crop → tanh.

    The geometry is the conv decoder's (see :mod:`networks`): each transposed convolution
    doubles a side and the result is cropped to ``(H, W)``.
    """

    def __init__(self, latent_dim: int, channels: tuple[int, ...], output_shape: tuple[int, ...]) -> None:
        super().__init__()
        c, h, w = output_shape
        n = len(channels)
        self.output_shape = tuple(output_shape)
        self.seed_shape = (channels[-1], conv_feature_size(h, n), conv_feature_size(w, n))
        self.input = Linear(latent_dim, math.prod(self.seed_shape))
        widths = [*reversed(channels), c]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.BatchNorm2d(a), nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
                       nn.ConvTranspose2d(a, b, kernel_size=4, stride=2, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.body(self.input(z).view(-1, *self.seed_shape))
        return torch.tanh(out[:, :, : self.output_shape[1], : self.output_shape[2]])


class ConvDiscriminator(nn.Module):
    """Stride-2 convolutions (LeakyReLU, no normalisation) → flatten → one logit per item."""

    def __init__(self, input_shape: tuple[int, ...], channels: tuple[int, ...]) -> None:
        super().__init__()
        c, h, w = input_shape
        widths = [c, *channels]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(a, b, kernel_size=3, stride=2, padding=1), nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        n = len(channels)
        layers += [nn.Flatten(), Linear(channels[-1] * conv_feature_size(h, n) * conv_feature_size(w, n), 1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).squeeze(1)


def make_generator(arch: str, latent_dim: int, hidden: tuple[int, ...], shape: tuple[int, ...]) -> nn.Module:
    return (MLPGenerator if arch == "mlp" else ConvGenerator)(latent_dim, hidden, shape)


def make_discriminator(arch: str, shape: tuple[int, ...], hidden: tuple[int, ...], *,
                       spectral_norm: bool = False) -> nn.Module:
    """The discriminator of ``arch``; ``spectral_norm`` normalises every weight layer."""
    disc = (MLPDiscriminator if arch == "mlp" else ConvDiscriminator)(shape, hidden)
    if spectral_norm:
        for module in list(disc.modules()):
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.utils.parametrizations.spectral_norm(module)
    return disc


# -- losses ---------------------------------------------------------------------------------
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE of real as 1 and fake as 0, from logits: ``softplus(-r) + softplus(f)``, batch means."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss ``-log D(G(z)) = softplus(-f)``, batch mean."""
    return F.softplus(-fake_logits).mean()


def realness(logits: torch.Tensor) -> torch.Tensor:
    """Mean probability the discriminator gives to "real" (``d_real`` / ``d_fake``)."""
    return torch.sigmoid(logits).mean()


def gan_adam(params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """Adam with :data:`GAN_BETAS`, fused where the parameters' device has the kernel."""
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, betas=GAN_BETAS, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr, betas=GAN_BETAS)


def gan_lr(train_config: Any, name: str) -> float:
    """The learning rate of optimiser ``name``: as asked for, else :data:`GAN_LR`.

    An explicit per-optimiser rate wins; a changed general ``lr`` applies to every optimiser;
    the general default (meant for the autoencoders) is replaced by :data:`GAN_LR`.
    """
    from latentlab.core.training_types import TrainConfig

    if name in train_config.lrs:
        return float(train_config.lrs[name])
    if train_config.lr != TrainConfig.lr:
        return float(train_config.lr)
    return GAN_LR


class frozen:
    """Context manager: ``module``'s parameters need no gradient inside the block.

    The generator's step backpropagates through the discriminator to its input; freezing the
    discriminator skips the weight gradients nobody would use.
    """

    def __init__(self, module: nn.Module) -> None:
        self.params = [p for p in module.parameters() if p.requires_grad]

    def __enter__(self) -> None:
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc: object) -> None:
        for p in self.params:
            p.requires_grad_(True)


# -- exponential moving average of the generator ---------------------------------------------
def ema_copy(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` to hold its moving average."""
    twin = copy.deepcopy(module)
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


@torch.no_grad()
def ema_update(average: nn.Module, live: nn.Module, decay: float) -> None:
    """``average ← decay · average + (1 − decay) · live``; buffers (BatchNorm statistics) copied."""
    avg_params = list(average.parameters())
    live_params = [p.detach() for p in live.parameters()]
    torch._foreach_lerp_(avg_params, live_params, 1.0 - decay)
    for a, b in zip(average.buffers(), live.buffers()):
        a.copy_(b)


def ema_decay(target: float, updates: int) -> float:
    """The decay for the ``updates``-th average step: ramps up to ``target`` so early averages
    are not dominated by the random initial weights."""
    return min(target, (1.0 + updates) / (10.0 + updates))


# -- a discriminator that has won ---------------------------------------------------------------
#: Training D loss below this (nats; chance is 2 log 2 ≈ 1.39) counts as "won outright".
D_WIN_LOSS = 0.05
#: Consecutive epochs of a won discriminator before the warning.
D_WIN_EPOCHS = 3


class DiscriminatorWatch:
    """Watches the epochs' training ``d_loss``; says once when the discriminator wins outright.

    Feed it each epoch-closing :class:`~latentlab.core.training_types.Progress`
    (:meth:`update`); it returns a warning text the first time ``d_loss`` has stayed below
    :data:`D_WIN_LOSS` for :data:`D_WIN_EPOCHS` epochs in a row (epochs up to ``skip_epochs``,
    a warm-up, do not count), else None.
    """

    def __init__(self, skip_epochs: int = 0) -> None:
        self.skip_epochs = skip_epochs
        self.streak = 0
        self.warned = False

    @classmethod
    def for_config(cls, config: Any) -> DiscriminatorWatch | None:
        """A watch for a model of ``config``, or None when its family has no discriminator."""
        family = config.family_info
        if not family.capabilities.adversarial or "d_loss" not in family.terms:
            return None
        return cls(int(config.options.get("adv_warmup_epochs", 0)))

    def update(self, progress: Any) -> str | None:
        if not getattr(progress, "epoch_done", False) or self.warned:
            return None
        d_loss = progress.terms.get("d_loss")
        if progress.epoch <= self.skip_epochs or d_loss is None:
            return None
        self.streak = self.streak + 1 if d_loss < D_WIN_LOSS else 0
        if self.streak < D_WIN_EPOCHS:
            return None
        self.warned = True
        return (f"the discriminator has won outright: its loss stayed below {D_WIN_LOSS} for "
                f"{self.streak} epochs, so the generator gets almost no signal. Try a lower "
                "discriminator learning rate (--lr-for discriminator=0.0001), spectral "
                "normalisation (--option spectral_norm=true), a larger latent or generator, "
                "or a smaller batch.")
