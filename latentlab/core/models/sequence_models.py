"""Networks and the model class of the sequence families (``seq-vae``, ``rvae``, ``stream-ae``).

A sequence is ``[B, T, F]``. The likelihood is per feature: a feature named ``pen`` (pen
strokes: 1 while the pen touches the paper) is Bernoulli and decoded as logits; every other
feature is Gaussian with the fixed standard deviation of the family's ``sigma`` option. So
``decode`` gives logits for ``pen`` and means for the rest, and ``decode_image`` (the decoded
output of any kind, which :func:`latentlab.core.inference.decode` hands out) turns the pen's
logits into probabilities and leaves positions and signals in their own units: a sequence is
never squashed into [0, 1].

Three encoder/decoder pairs:

* ``mlp``: flatten ``T × F`` → hidden layers → code; code → hidden layers → ``T × F``.
* ``conv``: 1-D stride-2 convolutions over time (channels = ``hidden``) → code; code → a
  short feature map → transposed convolutions → cropped to ``T`` steps.
* ``gru``: an optional 1-D conv front end (the ``front`` option, rvae), a bidirectional GRU whose final states (both directions) and mean output over time
  give the code; a GRU decoder whose initial state comes from the code and which sees the
  code (and its position) again at every step (so it cannot ignore it and model the sequence
  on its own), a linear read-out per step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from latentlab.core.models.base import LatentModel, ModelConfig
from latentlab.core.models.likelihood import gaussian_kl, gaussian_kl_per_dim, reparameterize
from latentlab.core.models.networks import MLPDecoder, MLPEncoder, conv_feature_size

PEN_FEATURE = "pen"


class ConvSeqEncoder(nn.Module):
    """Stride-2 1-D convolutions over time → flatten → linear to ``out_features``."""

    def __init__(self, steps: int, features: int, channels: tuple[int, ...], out_features: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for a, b in zip([features, *channels[:-1]], channels):
            layers += [nn.Conv1d(a, b, kernel_size=5, stride=2, padding=2), nn.ReLU(inplace=True)]
        flat = channels[-1] * conv_feature_size(steps, len(channels))
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.transpose(1, 2))


class ConvSeqDecoder(nn.Module):
    """Linear to a short feature map → transposed 1-D convolutions (each doubles T) → crop."""

    def __init__(self, latent_dim: int, steps: int, features: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        n = len(channels)
        self.steps = steps
        self.seed_shape = (channels[-1], conv_feature_size(steps, n))
        self.input = nn.Linear(latent_dim, math.prod(self.seed_shape))
        widths = [*reversed(channels), features]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.ReLU(inplace=True), nn.ConvTranspose1d(a, b, kernel_size=4, stride=2, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.input(z).view(-1, *self.seed_shape)
        return self.body(h)[:, :, : self.steps].transpose(1, 2)


class GRUSeqEncoder(nn.Module):
    """Optional 1-D conv front end; bidirectional GRU; the last hidden state of each direction
    and the mean over time of both directions' outputs → linear to ``out_features``.

    The final states summarise the sequence from its two ends; the mean over every step adds
    what holds throughout it (a wave's local rate of change, so its frequency), which the
    ends alone only give as a phase wrapped around each cycle. ``front`` > 0 puts a
    convolution of that many steps (``hidden`` channels, ReLU) before the GRU: it sees each
    step's neighbourhood, so a sharp edge (a sawtooth's drop, a square's flip) reaches the GRU
    as one feature rather than as a jump it has to tell from a smooth swing. On the waves it
    raised the linear R² of frequency from 0.81 to 0.88 (sigma 0.03).
    """

    def __init__(self, features: int, hidden: int, out_features: int, front: int = 0) -> None:
        super().__init__()
        self.front = None
        if front > 0:
            self.front = nn.Sequential(nn.Conv1d(features, hidden, front, padding=front // 2), nn.ReLU())
        self.gru = nn.GRU(hidden if front > 0 else features, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(4 * hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.front is not None:
            x = self.front(x.transpose(1, 2))[:, :, : x.shape[1]].transpose(1, 2)
        out, h = self.gru(x)                                 # [B, T, 2H], [2, B, H]
        return self.out(torch.cat([h[0], h[1], out.mean(dim=1)], dim=1))


class GRUSeqDecoder(nn.Module):
    """GRU over ``T`` steps whose input at every step is the code; initial state from the code.

    Each step's input also holds its position in the sequence, in [-1, 1]. Only that: given
    sines and cosines of the position (fixed harmonics of the window), the decoder builds a
    wave as a weighted sum of them and the code learns those weights, which swing back and
    forth as a wave's frequency grows, so frequency is no longer a straight line in the code
    (on sine waves the linear R² of frequency fell from 0.99 to 0.66 with four harmonics).
    """

    def __init__(self, latent_dim: int, steps: int, features: int, hidden: int) -> None:
        super().__init__()
        self.steps = steps
        self.init = nn.Linear(latent_dim, hidden)
        position = torch.linspace(-1.0, 1.0, steps)[None, :, None]
        self.register_buffer("position", position, persistent=False)
        self.gru = nn.GRU(latent_dim + 1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, features)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h0 = torch.tanh(self.init(z))[None]
        inputs = torch.cat([z[:, None, :].expand(-1, self.steps, -1),
                            self.position.expand(len(z), -1, -1)], dim=2)
        out, _ = self.gru(inputs, h0)
        return self.out(out)


def make_sequence_networks(config: ModelConfig, encoder_out: int) -> tuple[nn.Module, nn.Module]:
    """``(encoder, decoder)`` of ``config.arch`` for sequences ``config.input_shape = (T, F)``."""
    steps, features = config.input_shape
    hidden, latent = tuple(config.hidden), config.latent_dim
    if config.arch == "mlp":
        return MLPEncoder((steps, features), hidden, encoder_out), MLPDecoder(latent, hidden, (steps, features))
    if config.arch == "conv":
        return (ConvSeqEncoder(steps, features, hidden, encoder_out),
                ConvSeqDecoder(latent, steps, features, hidden))
    front = int(config.options.get("front", 0))
    return (GRUSeqEncoder(features, hidden[0], encoder_out, front),
            GRUSeqDecoder(latent, steps, features, hidden[0]))


class SequenceAutoencoder(LatentModel):
    """An autoencoder (``variational`` False) or VAE over sequences ``[B, T, F]``.

    ``free_bits`` (nats per latent dimension) floors each dimension's KL inside the
    minimised loss, so the optimiser gains nothing by pushing a dimension's KL below it: the
    standard guard against posterior collapse. The reported ``kl`` is always the true KL.
    """

    def __init__(self, config: ModelConfig, *, variational: bool, free_bits: float = 0.0) -> None:
        super().__init__(config)
        self.variational = variational
        self.free_bits = float(free_bits)
        self.sigma = float(config.options.get("sigma", 0.1))
        names = tuple(config.feature_names)
        self.pen_index = names.index(PEN_FEATURE) if PEN_FEATURE in names else None
        width = config.latent_dim * (2 if variational else 1)
        self.encoder, self.decoder = make_sequence_networks(config, width)
        mask = torch.ones(config.input_shape[1])
        if self.pen_index is not None:
            mask[self.pen_index] = 0.0
        self.register_buffer("gaussian_mask", mask, persistent=False)

    # -- interface ----------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.encoder(x)
        if not self.variational:
            return h, None
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z)

    def decode_image(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoded sequences ``[B, T, F]``: pen as a probability, the rest in their own units."""
        out = self.decode(z)
        if self.pen_index is None:
            return out
        out = out.clone()
        out[..., self.pen_index] = torch.sigmoid(out[..., self.pen_index])
        return out

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-sequence negative log-likelihood ``[B]`` (nats): Gaussian features, Bernoulli pen."""
        mask = self.gaussian_mask
        sq = ((out - x) ** 2 * mask).flatten(1).sum(1)
        count = float(mask.sum()) * x.shape[1]
        nll = sq / (2 * self.sigma**2) + count * (math.log(self.sigma) + 0.5 * math.log(2 * math.pi))
        if self.pen_index is not None:
            p = self.pen_index
            nll = nll + F.binary_cross_entropy_with_logits(out[..., p], x[..., p], reduction="none").sum(1)
        return nll

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None,
             kl_weight: float | None = None) -> dict[str, torch.Tensor]:
        h = self.encoder(x)
        if not self.variational:
            recon = self.nll(self.decoder(h), x).mean()
            return {"loss": recon, "recon": recon, "kl": recon.new_zeros(())}
        mu, logvar = h.chunk(2, dim=1)
        z = reparameterize(mu, logvar)
        recon = self.nll(self.decoder(z), x).mean()
        kl = gaussian_kl(mu, logvar)
        weight = float(self.config.beta) if kl_weight is None else float(kl_weight)
        if self.free_bits > 0:
            kl_min = gaussian_kl_per_dim(mu, logvar).clamp(min=self.free_bits).sum()
        else:
            kl_min = kl
        return {"loss": recon + weight * kl_min, "recon": recon, "kl": kl}

    def default_kl_weight(self) -> float:
        return float(self.config.beta)

    def kl_per_dim(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if not self.variational:
            return torch.zeros(self.config.latent_dim, device=x.device)
        with torch.no_grad():
            mu, logvar = self.encode(x)
            return gaussian_kl_per_dim(mu, logvar)

    def sample(self, n: int, y: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(self.device)
        return self.decode_image(z)

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared error per sequence ``[B]`` of the reconstruction from the code (posterior mean)."""
        mu, _ = self.encode(x)
        return (self.decode_image(mu) - x).pow(2).flatten(1).mean(1)
